"""The node service: the client API, the executor of plans and the peer sessions.

A node holds one replicated pair of shares of every uploaded table
(:mod:`sharelake.storage`), answers the signed HTTPS requests of ``docs/node-api.md``
(:mod:`.service`), and runs uploads and queries with the two other nodes over
mutually authenticated TLS sessions routed by session id (:mod:`.peers`).
"""
