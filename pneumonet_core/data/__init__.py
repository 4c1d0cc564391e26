"""Labelled data sets: discovery, patient ids, patient-level splits and training batches."""
