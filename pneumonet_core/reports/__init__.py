"""Reports: heat-map images, CSV/JSON tables and PDF reports for one study or a batch.

Every file is written atomically (temporary file, then ``os.replace``), so a crash or a
full disk never leaves a half-written report behind; de-identification is applied here,
in one place, for every output.
"""
