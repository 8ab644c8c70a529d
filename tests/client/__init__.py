"""Tests of the Python client: plans, lazy tables, upload validation, end to end."""
