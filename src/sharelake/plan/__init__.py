"""Logical query plans: canonical JSON and SHA-256, shared by client, governance and node."""
