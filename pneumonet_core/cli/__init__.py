"""The ``pneumonet`` command line: classify, evaluate, train, info, scan-info, gui."""
