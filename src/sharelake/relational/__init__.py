"""Secret tables and relational operators, each with a plaintext twin over pandas.

Every operator is a pure function from secret tables to a secret table: it talks only
through a :class:`~sharelake.mpc.party.Party`, never to the network or the node
service. Its leakage (what it opens, if anything) is stated in its docstring and in
SECURITY.md.
"""
