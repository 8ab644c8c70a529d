"""Channels between the three parties: in-memory (tests) and TCP with mutual TLS."""
