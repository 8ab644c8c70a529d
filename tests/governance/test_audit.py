"""The audit log: hash chain, tamper detection naming the entry, agreement of nodes."""

from __future__ import annotations

import json
from pathlib import Path

from sharelake.governance.audit import (
    AuditLog,
    compare_nodes,
    format_entry,
    read_entries,
    verify_chain,
)


def three_logs(tmp_path: Path) -> list[Path]:
    paths = []
    for i in range(3):
        log = AuditLog(tmp_path / f"P{i}" / "audit.jsonl", node=i)
        log.append("request", member="ana", detail="POST /v1/queries")
        log.append("verdict", session="s1", plan_hash="ab" * 32, member="ana", decision="allow")
        log.append("release", session="s1", plan_hash="ab" * 32, member="ana", rows=4)
        paths.append(log.path)
    return paths


def edit_line(path: Path, line: int, **changes: object) -> None:
    lines = path.read_text().splitlines()
    doc = json.loads(lines[line])
    doc.update(changes)
    lines[line] = json.dumps(doc)
    path.write_text("\n".join(lines) + "\n")


def test_an_untouched_chain_verifies(tmp_path: Path) -> None:
    assert all(verify_chain(p) == [] for p in three_logs(tmp_path))


def test_each_entry_holds_the_hash_of_the_previous_one(tmp_path: Path) -> None:
    entries = read_entries(three_logs(tmp_path)[0])
    assert entries[0]["prev"] == "0" * 64
    assert [e["prev"] for e in entries[1:]] == [e["hash"] for e in entries[:-1]]
    assert [e["seq"] for e in entries] == [0, 1, 2]


def test_a_reopened_log_continues_the_chain(tmp_path: Path) -> None:
    path = three_logs(tmp_path)[0]
    AuditLog(path, node=0).append("failure", detail="peer P2 lost")
    assert verify_chain(path) == [] and read_entries(path)[-1]["seq"] == 3


def test_an_edited_entry_is_named_by_verify(tmp_path: Path) -> None:
    path = three_logs(tmp_path)[1]
    edit_line(path, 2, rows=40)
    problems = verify_chain(path)
    assert len(problems) == 1 and "entry seq 2 (line 3) was changed" in problems[0]


def test_an_edited_entry_with_a_recomputed_hash_breaks_the_link_to_the_next(
    tmp_path: Path,
) -> None:
    from sharelake.governance.audit import entry_hash

    path = three_logs(tmp_path)[0]
    lines = path.read_text().splitlines()
    doc = json.loads(lines[1])
    doc["decision"] = "deny"
    doc["hash"] = entry_hash(doc)
    lines[1] = json.dumps(doc)
    path.write_text("\n".join(lines) + "\n")
    problems = verify_chain(path)
    assert len(problems) == 1 and "entry seq 2 (line 3) does not follow" in problems[0]


def test_a_removed_entry_is_detected(tmp_path: Path) -> None:
    path = three_logs(tmp_path)[0]
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    assert any("expected seq 1" in p for p in verify_chain(path))


def test_a_garbled_line_is_named(tmp_path: Path) -> None:
    path = three_logs(tmp_path)[0]
    with path.open("a") as f:
        f.write("{not json\n")
    assert verify_chain(path) == [f"{path}: line 4 is not a JSON entry (torn or edited)"]


def test_three_agreeing_nodes_compare_clean(tmp_path: Path) -> None:
    assert compare_nodes(three_logs(tmp_path)) == []


def test_a_node_with_another_decision_is_named_by_compare(tmp_path: Path) -> None:
    paths = three_logs(tmp_path)
    AuditLog(paths[0], node=0).append("verdict", session="s2", decision="allow")
    AuditLog(paths[1], node=1).append("verdict", session="s2", decision="allow")
    AuditLog(paths[2], node=2).append("verdict", session="s2", decision="deny")
    problems = compare_nodes(paths)
    assert len(problems) == 1 and problems[0].startswith("session s2: node 2")


def test_a_session_missing_on_one_node_is_named_by_compare(tmp_path: Path) -> None:
    paths = three_logs(tmp_path)
    AuditLog(paths[0], node=0).append("run", session="s3")
    problems = compare_nodes(paths)
    assert any("session s3: missing from the log of node 1" in p for p in problems)
    assert any("session s3: missing from the log of node 2" in p for p in problems)


def test_node_local_entries_are_not_compared(tmp_path: Path) -> None:
    paths = three_logs(tmp_path)
    AuditLog(paths[0], node=0).append("request", member="eve", detail="unknown member")
    assert compare_nodes(paths) == []


def test_an_entry_reads_as_one_line(tmp_path: Path) -> None:
    e = read_entries(three_logs(tmp_path)[0])[2]
    text = format_entry(e)
    assert "release" in text and "rows=4" in text and "member=ana" in text
