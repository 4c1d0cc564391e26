"""Metrics the study reports: accuracy, confusion matrix, classification report, ROC and AUC."""
