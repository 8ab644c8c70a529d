"""The audit trail cannot be quietly rewritten (issue 11), over three real node processes.

Each test runs uploads and queries (released and refused), stops the nodes, tampers with
their logs as the operator of a node could -- holding that node's audit key, so every
forged entry is re-signed and the chain recomputed -- and checks that
``sharelake audit verify`` fails naming what was done. A positive control shows an
untouched lake verifies.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import sharelake
from sharelake.cli.main import app
from sharelake.consortium.cluster import audit_key_path, init_cluster
from sharelake.consortium.keys import load_private_key
from sharelake.errors import SharelakeError
from sharelake.governance.audit import GENESIS, entry_hash, read_entries
from sharelake.node.local import LocalCluster
from sharelake.plan import nodes as pn
from sharelake.plan.canonical import canonical_json

pytestmark = pytest.mark.timeout(600)

POLICY = {
    "min_group_size": 5,
    "columns": {"pid": "match", "region": "group", "age": "aggregate"},
}


def people() -> pd.DataFrame:
    return pd.DataFrame(
        {"pid": np.arange(40), "region": np.arange(40) % 2, "age": np.arange(20, 60)}
    )


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake with an upload, two released aggregates, refusals and a drop, stopped."""
    d = tmp_path_factory.mktemp("lake")
    init_cluster(d)
    with LocalCluster(d) as c:
        with sharelake.connect(c.consortium_path, "ngo_a") as s:
            s.upload(people(), "people", policy=POLICY, progress=False)
            s.upload(people(), "scratch", policy=POLICY, progress=False)
            s.drop("scratch")
        with sharelake.connect(c.consortium_path, "analyst") as a:
            for cut in (30, 40):
                f = pn.filter_rows(
                    pn.scan("people"), {"fn": ">=", "args": [{"col": "age"}, {"lit": cut}]}
                )
                a.query(pn.make_plan(pn.groupby(f, ["region"], {"n": ("*", "count")})))
            for _ in range(3):  # releasing a match column needs approval: refused
                with pytest.raises(SharelakeError):
                    a.query(pn.make_plan(pn.scan("people", ["pid"])))
            a.query(pn.make_plan(pn.groupby(pn.scan("people"), ["region"], {"n": ("*", "count")})))
    return d


@pytest.fixture
def copy(lake: Path, tmp_path: Path) -> Iterator[Path]:
    out = tmp_path / "lake"
    shutil.copytree(lake, out)
    yield out


def log_path(d: Path, i: int) -> Path:
    return d / "nodes" / f"P{i}" / "data" / "audit.jsonl"


def verify(d: Path) -> tuple[int, str]:
    got = CliRunner().invoke(app, ["audit", "verify", str(d)])
    return got.exit_code, got.output


def rewrite(
    d: Path, i: int, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
) -> None:
    """Rewrite node i's log as its operator could: change the entries, then renumber,
    re-chain and re-sign every entry with the node's own audit key."""
    key = load_private_key(audit_key_path(d / "nodes" / f"P{i}" / f"node{i}-key.pem"))
    entries = change(read_entries(log_path(d, i)))
    prev = GENESIS
    lines = []
    for seq, e in enumerate(entries):
        e = {**e, "seq": seq, "prev": prev}
        e["hash"] = entry_hash(e)
        msg = b"sharelake-audit-entry-v1\x00" + bytes([i]) + bytes.fromhex(e["hash"])
        e["sig"] = base64.b64encode(key.sign(msg)).decode("ascii")
        prev = e["hash"]
        lines.append(canonical_json(e) + "\n")
    log_path(d, i).write_text("".join(lines))


def test_an_untouched_lake_verifies_and_uploads_drops_and_refusals_are_audited(
    lake: Path,
) -> None:
    code, out = verify(lake)
    assert code == 0, out
    assert "ok: 3 audit log(s) intact and in agreement" in out and "note:" not in out
    for i in range(3):
        kinds = [(e["kind"], e["member"]) for e in read_entries(log_path(lake, i))]
        assert kinds.count(("upload", "ngo_a")) == 2, f"P{i}"
        assert ("drop", "ngo_a") in kinds and kinds.count(("refusal", "analyst")) == 3, f"P{i}"
        heads = (log_path(lake, i).parent / "audit_heads.jsonl").read_text().splitlines()
        assert {json.loads(h)["node"] for h in heads} == {0, 1, 2} - {i}, f"P{i}"


def test_the_member_of_six_entries_rewritten_on_one_node_with_a_recomputed_chain_is_detected(
    copy: Path,
) -> None:
    def rename(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        hits = [e for e in entries if e["member"] == "analyst" and e["session"]][:6]
        assert len(hits) == 6
        for e in hits:
            e["member"] = "analyst2"
        return entries

    rewrite(copy, 1, rename)
    code, out = verify(copy)
    assert code == 1
    assert "member=analyst2" in out and "node 1" in out  # the field comparison names it
    assert "node P1's log" in out and "rewritten" in out  # the peers' chain heads too


def test_all_refusals_deleted_on_one_node_are_detected(copy: Path) -> None:
    rewrite(copy, 2, lambda es: [e for e in es if e["kind"] != "refusal"])
    code, out = verify(copy)
    assert code == 1
    assert "missing from the log of node 2" in out or "node 2" in out
    assert "node P2's log" in out


def test_the_last_lines_cut_off_all_three_logs_are_detected(copy: Path) -> None:
    for i in range(3):
        lines = log_path(copy, i).read_text().splitlines(keepends=True)
        log_path(copy, i).write_text("".join(lines[:-3]))
    code, out = verify(copy)
    assert code == 1
    for i in range(3):
        assert f"node P{i}'s log" in out and "cut short" in out, out


def test_an_entry_edited_without_the_nodes_key_fails_its_signature(copy: Path) -> None:
    path = log_path(copy, 0)
    entries = read_entries(path)
    e = entries[-1]
    e["rows"] = 1 if e["rows"] != 1 else 2
    e["hash"] = entry_hash(e)  # a consistent hash, but the signature is the node's
    entries[-1] = e
    path.write_text("".join(canonical_json(x) + "\n" for x in entries))
    code, out = verify(copy)
    assert code == 1 and "is not signed by node P0's audit key" in out
