"""Test helper: one query sent to the three nodes at once, every node's answer kept."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from sharelake.client.session import Session
from sharelake.errors import SharelakeError
from sharelake.plan.canonical import plan_hash, session_id


def query_on_each_node(a: Session, plan: dict[str, Any]) -> tuple[str, list[object]]:
    """Send one query to the three nodes; every node's reply or error, and the session id."""
    nonce = os.urandom(16).hex()
    digest = plan_hash(plan)
    body = json.dumps({"plan": plan, "plan_hash": digest, "nonce": nonce}).encode()
    out: list[object] = [None, None, None]

    def ask(i: int) -> None:
        try:
            out[i] = a.request(i, "POST", "/v1/queries", body, timeout=120)
        except SharelakeError as exc:
            out[i] = exc

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return session_id(digest, "analyst", nonce), out
