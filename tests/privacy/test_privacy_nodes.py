"""Over three real node processes: purpose binding, retention and erasure (issue 18).

The node's clock is injected through ``SHARELAKE_CLOCK_FILE`` (the test writes a Unix
time into it), so days pass without sleeping.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import sharelake
from sharelake.cli.main import app
from sharelake.client.session import NodeNotFoundError, NodePolicyError
from sharelake.consortium.cluster import init_cluster, node_config_path
from sharelake.consortium.members import Purpose, PurposeError
from sharelake.errors import InputValidationError
from sharelake.governance.audit import read_entries, verify_chain
from sharelake.node.local import LocalCluster
from sharelake.node.privacy import CHECK_ENV, CLOCK_ENV
from sharelake.plan import nodes as pn
from sharelake.storage.bundle import decode_bundle

from ..node.queries import by_region, data_dir, people, query_on_each_node

pytestmark = [pytest.mark.tls, pytest.mark.timeout(600)]

POLICY = {"columns": {"pid": "match", "region": "group", "age": "aggregate"}}
PURPOSES = {
    "monitoring": Purpose("monitoring", "Yearly estimate of the number of victims"),
    "research": Purpose("research", "Academic studies under the consortium agreement"),
}


def _lake(tmp_path: Path, *, purposes: bool) -> Path:
    lake = tmp_path / "lake"
    agreed = {p.name: p.description for p in PURPOSES.values()} if purposes else None
    init_cluster(lake, purposes=agreed)  # the founders sign the purposes with the rest
    return lake


def _counts(df: pd.DataFrame) -> dict[str, int]:
    return {str(r): int(n) for r, n in zip(df["region"], df["n"], strict=True)}


def _entries(lake: Path, i: int) -> list[dict[str, Any]]:
    return read_entries(data_dir(lake, i) / "audit.jsonl")


def test_a_query_for_a_purpose_a_table_does_not_allow_is_refused_at_every_node_and_audited(
    tmp_path: Path,
) -> None:
    lake = _lake(tmp_path, purposes=True)
    with LocalCluster(lake) as cluster:
        with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
            s.upload(
                people(), "people", policy={**POLICY, "purposes": ["monitoring"]}, progress=False
            )
            with pytest.raises(InputValidationError, match=r"purpose 'marketing' is not agreed"):
                s.upload(people(), "other", policy={"purposes": ["marketing"]}, progress=False)
        with sharelake.connect(cluster.consortium_path, "analyst") as a:
            # refused at every node, each on its own
            sid, replies = query_on_each_node(a, a.with_purpose(by_region(), "research"))
            for i, r in enumerate(replies):
                assert isinstance(r, NodePolicyError), f"P{i}: {r!r}"
                assert "may not serve the purpose 'research'" in str(r), f"P{i}: {r}"
            for i in range(3):
                refused = [
                    e for e in _entries(lake, i) if e["kind"] == "refusal" and e["session"] == sid
                ]
                assert refused and refused[0]["purpose"] == "research", f"P{i}"
            # a query naming no purpose: the client refuses, and so would every node
            with pytest.raises(PurposeError, match="name the purpose"):
                a.query(by_region())
            sid2, replies = query_on_each_node(a, by_region())
            assert all(
                isinstance(r, NodePolicyError) and "name the purpose" in str(r) for r in replies
            ), replies
            # the allowed purpose runs; its run and release are audited with it
            df = (
                a.table("people")
                .groupby("region")
                .agg(n=("*", "count"))
                .collect(purpose="monitoring")
            )
            assert _counts(df) == people().groupby("region", observed=True).size().to_dict()
            with sharelake.connect(cluster.consortium_path, "analyst", purpose="monitoring") as b:
                assert _counts(b.query(by_region())) == _counts(df)  # the session's default
        # the record of processing activities, from the file, the policies and the audit
        out = tmp_path / "dpo"
        r = CliRunner().invoke(
            app,
            [
                "report",
                "processing",
                "--consortium",
                str(cluster.consortium_path),
                "--out",
                str(out),
                "--as",
                "ngo_a",
            ],
        )
        assert r.exit_code == 0, r.output
        record = json.loads((out / "processing.json").read_text(encoding="utf-8"))
        assert record["audit"]["verified"] and record["audit"]["problems"] == []
        assert {p["name"]: p["tables"] for p in record["purposes"]} == {
            "monitoring": ["people"],
            "research": [],
        }
        (table,) = record["tables"]
        assert table["controller"] == "ngo_a" and table["purposes"] == ["monitoring"]
        assert table["retention"] == "no retention limit set"
        assert [(e["member"], e["purpose"]) for e in record["releases"]] == [
            ("analyst", "monitoring"),
            ("analyst", "monitoring"),
        ]
        assert any(e["purpose"] == "research" for e in record["refusals"])
        assert {c["member"] for c in record["controllers"]} >= {"ngo_a", "ngo_b"}
        page = (out / "processing.html").read_text(encoding="utf-8")
        assert "Record of processing activities" in page and "Yearly estimate" in page
    for i in range(3):
        entries = _entries(lake, i)
        runs = [e for e in entries if e["kind"] in ("run", "release")]
        assert len(runs) == 4 and {e["purpose"] for e in runs} == {"monitoring"}, f"P{i}"
        assert any(e["kind"] == "refusal" and e["session"] == sid2 for e in entries)
        assert verify_chain(data_dir(lake, i) / "audit.jsonl") == []


def _stamp(clock: Path, day: str) -> None:
    t = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp()
    clock.write_text(f"{t}\n", encoding="ascii")


def _table_dirs(lake: Path, table: str) -> list[Path]:
    return [d for i in range(3) if (d := data_dir(lake, i) / "tables" / table).exists()]


def _status(lake: Path, i: int) -> dict[str, Any]:
    r = CliRunner().invoke(app, ["node", "status", str(node_config_path(lake, i)), "--json"])
    doc = json.loads(r.output)
    (check,) = [c for c in doc["checks"] if c["name"] == "retention"]
    assert check["ok"], check
    out: dict[str, Any] = doc["privacy"]
    return out


def test_an_expired_table_is_refused_then_destroyed_at_start_periodically_and_after_a_restore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = _lake(tmp_path, purposes=False)
    clock = tmp_path / "clock"
    _stamp(clock, "2026-06-01T12:00:00")
    monkeypatch.setenv(CLOCK_ENV, str(clock))
    monkeypatch.setenv(CHECK_ENV, "3600")
    backup = tmp_path / "backup"
    with LocalCluster(lake) as cluster:
        with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
            for name, until in (("people", "2026-06-10"), ("later", "2026-06-20"), ("kept", None)):
                pol = dict(POLICY) if until is None else {**POLICY, "retain_until": until}
                s.upload(people(), name, policy=pol, progress=False)
        with sharelake.connect(cluster.consortium_path, "analyst") as a:
            assert sum(_counts(a.query(by_region())).values()) == 40
    for i in range(3):  # a backup of every node, taken before the table expires
        shutil.copytree(data_dir(lake, i), backup / f"P{i}")
    with LocalCluster(lake) as cluster:
        # the clock passes the retention while the nodes run; no check has run yet
        _stamp(clock, "2026-06-11T00:00:01")
        with sharelake.connect(cluster.consortium_path, "analyst") as a:
            sid, replies = query_on_each_node(a, by_region())
            for i, r in enumerate(replies):
                assert isinstance(r, NodePolicyError), f"P{i}: {r!r}"
                assert "past its retention" in str(r), f"P{i}: {r}"
            assert [t.name for t in a.tables()] == ["kept", "later"]
        for i in range(3):
            refused = [
                e for e in _entries(lake, i) if e["kind"] == "refusal" and e["session"] == sid
            ]
            assert refused, f"P{i}"
        assert _table_dirs(lake, "people") == []  # destroyed when the query met it
    # the backup is restored on every node: the next start destroys the table again
    for i in range(3):
        shutil.rmtree(data_dir(lake, i))
        shutil.copytree(backup / f"P{i}", data_dir(lake, i))
    assert len(_table_dirs(lake, "people")) == 3
    people_uploads = {next(d.iterdir()).name for d in _table_dirs(lake, "people")}
    with LocalCluster(lake) as cluster:
        assert _table_dirs(lake, "people") == []
        for i in range(3):
            status = _status(lake, i)
            assert [r["table"] for r in status["destroyed"]] == ["people"], f"P{i}"
            assert status["destroyed"][0]["expired"] == "2026-06-11T00:00:00Z"
            assert [t["table"] for t in status["tables"]] == ["kept", "later"]
            retention = [e for e in _entries(lake, i) if e["kind"] == "retention"]
            assert len(retention) == 1 and "'people'" in retention[0]["detail"], f"P{i}"
        # nothing on disk names the destroyed upload any more but the append-only, signed
        # audit trail, which records that the upload (a random id) existed and was destroyed
        assert _scan_all(lake, [u.encode() for u in people_uploads], skip=AUDIT_FILES) == []
        with sharelake.connect(cluster.consortium_path, "analyst") as a:
            with pytest.raises(NodeNotFoundError):
                a.query(by_region())
            plan = pn.make_plan(pn.groupby(pn.scan("later"), ["region"], {"n": ("*", "count")}))
            assert sum(_counts(a.query(plan)).values()) == 40
    # the periodic check: a short interval, and the clock passes the second table's end
    monkeypatch.setenv(CHECK_ENV, "0.5")
    with LocalCluster(lake) as cluster:
        assert len(_table_dirs(lake, "later")) == 3
        _stamp(clock, "2026-06-21T00:00:01")
        import time

        deadline = time.monotonic() + 60
        while _table_dirs(lake, "later") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _table_dirs(lake, "later") == []
        assert len(_table_dirs(lake, "kept")) == 3
        with sharelake.connect(cluster.consortium_path, "analyst") as a:
            assert [t.name for t in a.tables()] == ["kept"]
        for i in range(3):
            assert [r["table"] for r in _status(lake, i)["destroyed"]] == ["people", "later"]


def _records() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 30
    return pd.DataFrame(
        {
            "record_id": [f"P-{i:03d}" for i in range(n)],
            "region": pd.Categorical(rng.choice(["east", "west"], n), categories=["east", "west"]),
            "age": rng.integers(18, 80, n),
            "score": rng.integers(0, 10, n),  # unclassified: every use needs approval
        }
    )


REVEAL = {"columns": {"record_id": "reveal", "region": "reveal", "age": "reveal"}}
SCAN = ["record_id", "region", "age"]


def _rows(df: pd.DataFrame) -> list[tuple[str, str, int]]:
    return sorted(
        (str(r), str(g), int(a))
        for r, g, a in zip(df["record_id"], df["region"], df["age"], strict=True)
    )


AUDIT_FILES = ("audit.jsonl", "audit_heads.jsonl")


def _scan_all(lake: Path, needles: list[bytes], *, skip: tuple[str, ...] = ()) -> list[str]:
    """Every file under every node's data directory holding one of ``needles``."""
    hits = []
    for i in range(3):
        for f in data_dir(lake, i).rglob("*"):
            if f.is_file() and f.name not in skip:
                data = f.read_bytes()
                hits += [f"P{i}:{f.name}" for nd in needles if nd in data]
    return hits


def test_erasure_removes_the_rows_from_later_results_and_from_every_file_on_every_node(
    tmp_path: Path,
) -> None:
    lake = _lake(tmp_path, purposes=False)
    df = _records()
    erased = ["P-003", "P-017", "P-029"]
    scan_all = pn.make_plan(pn.project(pn.scan("records"), SCAN))
    with LocalCluster(lake) as cluster:
        with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
            s.upload(df, "records", policy=REVEAL, progress=False)
        approved = pn.make_plan(pn.project(pn.scan("records"), ["score"]))
        with sharelake.connect(cluster.consortium_path, "analyst") as a:
            before = a.query(scan_all)
            rid = a.request_approval(approved, explanation="scores")[0]["id"]
            with sharelake.connect(cluster.consortium_path, "ngo_a") as owner:
                owner.approve(rid)
            assert len(a.query(approved)) == 30
        assert sorted(before["record_id"]) == sorted(df["record_id"])
        # what the old version left on disk: its upload id and the erased rows' shares
        old = [next((data_dir(lake, i) / "tables" / "records").iterdir()) for i in range(3)]
        upload_id = old[0].name
        rows = [int(df.index[df["record_id"] == r][0]) for r in erased]
        needles: list[bytes] = []
        for d in old:
            for f in sorted(d.glob("c*.slsb")):
                _, arrays = decode_bundle(f.read_bytes())
                for key in ("values.a", "values.b", "text.a", "text.b"):
                    if key in arrays:
                        needles += [arrays[key][r].tobytes() for r in rows]
        assert len(_scan_all(lake, needles)) > 0
        assert len(_scan_all(lake, [upload_id.encode()], skip=AUDIT_FILES)) > 0
        with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
            with (
                sharelake.connect(cluster.consortium_path, "ngo_b") as other,
                pytest.raises(InputValidationError, match="only its owner"),
            ):
                other.erase("records", erased)
            out = s.erase("records", [*erased, "P-999"])
        assert out["erased"] == 3 and out["rows"] == 27 and out["version"] == 2
        with sharelake.connect(cluster.consortium_path, "analyst") as a:
            after = a.query(scan_all)
            # the approval was given for the old version: void for the new one
            with pytest.raises(NodePolicyError, match="another upload"):
                a.query(approved)
        want = df[~df["record_id"].isin(erased)]
        assert _rows(after) == _rows(want)  # a scan's rows come back in random order
        assert _scan_all(lake, needles) == []  # no share byte of an erased row, anywhere
        assert _scan_all(lake, [upload_id.encode()], skip=AUDIT_FILES) == []
        # the command line: a second erasure from a file
        ids = tmp_path / "ids.txt"
        ids.write_text("P-000\nP-001\n", encoding="utf-8")
        r = CliRunner().invoke(
            app,
            [
                "erase",
                "--table",
                "records",
                "--record-ids",
                str(ids),
                "--as",
                "ngo_a",
                "--consortium",
                str(cluster.consortium_path),
            ],
        )
        assert r.exit_code == 0, r.output
        assert "2 rows erased" in r.output
        with sharelake.connect(cluster.consortium_path, "analyst") as a:
            again = a.query(scan_all)
        assert _rows(again) == _rows(want)[2:]
    for i in range(3):
        entries = _entries(lake, i)
        erasures = [e for e in entries if e["kind"] == "erasure"]
        assert [e["rows"] for e in erasures] == [3, 2], f"P{i}"
        text = (data_dir(lake, i) / "audit.jsonl").read_text(encoding="utf-8")
        assert not any(r in text for r in [*erased, "P-000", "P-001", "P-999"]), f"P{i}"
        assert verify_chain(data_dir(lake, i) / "audit.jsonl") == []
