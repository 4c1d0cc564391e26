"""Pneumonet as a DICOM node: answers (Structured Report + Secondary Capture), the
C-STORE listener with its durable inbox, forwarding to a PACS, and query/retrieve.

Modules, one job each:

- ``study.py``: the patient and study an answer belongs to (copied and checked from the source);
- ``sr.py`` / ``secondary_capture.py``: the two answer objects, built with highdicom;
- ``answers.py``: THE place that builds and writes both, for ``listen`` and ``classify --dicom-out``;
- ``network.py``: peers (HOST:PORT:AE) and presentation contexts;
- ``forward.py``: C-STORE to a PACS; ``pull.py``: C-FIND + C-GET from a PACS;
- ``journal.py``: the durable inbox/answers folder and its per-object journal;
- ``events.py`` / ``worklist.py``: what the listener reports, and the triage model a GUI wraps;
- ``listener.py``: the C-STORE/C-ECHO SCP and its background worker.

Nothing here imports Qt.
"""
