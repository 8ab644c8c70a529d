"""Test helpers of the node tests: a small people table, a group-by plan over it, a node's
data folder, and one query sent to the three nodes at once with every node's answer kept."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sharelake.client.session import Session
from sharelake.consortium.cluster import NodeConfig, node_config_path
from sharelake.consortium.sealing import new_reply_key
from sharelake.errors import SharelakeError
from sharelake.plan import nodes as pn
from sharelake.plan.canonical import plan_hash, session_id


def query_on_each_node(a: Session, plan: dict[str, Any]) -> tuple[str, list[object]]:
    """Send one query to the three nodes; every node's reply or error, and the session id."""
    nonce = os.urandom(16).hex()
    digest = plan_hash(plan)
    _, reply_key = new_reply_key()
    doc = {"plan": plan, "plan_hash": digest, "nonce": nonce, "reply_key": reply_key}
    body = json.dumps(doc).encode()
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


def people() -> pd.DataFrame:
    """40 people aged 20..59 in two regions: row sets that differ by an age cut differ by
    at least as many rows as the cut moves."""
    return pd.DataFrame(
        {
            "pid": np.arange(40),
            "region": pd.Categorical(["east", "west"] * 20, categories=["east", "west"]),
            "age": np.arange(20, 60),
        }
    )


def by_region(predicate: dict[str, Any] | None = None) -> dict[str, Any]:
    """The plan counting ``people`` per region (after ``predicate`` when given)."""
    rows = pn.scan("people") if predicate is None else pn.filter_rows(pn.scan("people"), predicate)
    return pn.make_plan(pn.groupby(rows, ["region"], {"n": ("*", "count")}))


def data_dir(lake: Path, i: int) -> Path:
    """Node i's data folder in the local cluster at ``lake``."""
    return NodeConfig.load(node_config_path(lake, i)).data_dir
