"""Governance: the pure rules of the consortium.

Column policies (:mod:`.policy`), plan verdicts over a plan's column lineage
(:mod:`.verdict`), owner approvals over plan hashes (:mod:`.approvals`), output rules
(:mod:`.outputs`) and the hash-chained audit log format (:mod:`.audit`). Nothing here runs a
protocol or talks to the network; who the members are lives in :mod:`sharelake.consortium`.
"""
