"""Share files (checksummed, written atomically) and the SQLite catalog of each node."""
