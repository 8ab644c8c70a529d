"""The consortium: who its nodes and members are, and how they prove it.

:mod:`.members` reads and writes ``consortium.toml`` (nodes, members, roles, keys);
:mod:`.keys` holds Ed25519 member keys; :mod:`.signing` signs and verifies requests;
:mod:`.certs` is the small certificate authority of the nodes; :mod:`.cluster` lays out a
local consortium (``sharelake cluster init``). The rules about what members may do with
data live in :mod:`sharelake.governance`.
"""
