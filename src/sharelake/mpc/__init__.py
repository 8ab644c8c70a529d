"""The protocol engine: three-party replicated secret sharing over Z_2^64.

Protocols talk only through a :class:`~sharelake.mpc.channel.Channel`; they never
import networking code, so the same protocol runs in-memory and over mutual TLS.
"""
