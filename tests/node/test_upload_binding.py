"""Over three node processes: budgets and release records belong to one upload of a table.

An analyst's query budget (``budget.json``) and the record of earlier releases that the
differencing check compares with (``released.jsonl``) are kept per table *version* (the
catalog version, which grows with every upload of a name, across drops). A table
dropped and uploaded again is other data: it starts with a fresh budget and an empty
release record, and the old upload's entries are forgotten on DROP. Entries written by
an older node (no version) are bound at start to the upload current then.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import sharelake
from sharelake.consortium.cluster import DEFAULT_MEMBERS, MemberSpec, init_cluster
from sharelake.consortium.keys import load_private_key
from sharelake.errors import SharelakeError
from sharelake.governance.approvals import Approval
from sharelake.governance.outputs import DEFAULT_BUDGET
from sharelake.node.local import LocalCluster
from sharelake.plan import nodes as pn
from sharelake.plan.canonical import canonical_json, plan_hash

from .queries import by_region, data_dir, people

pytestmark = [pytest.mark.tls, pytest.mark.timeout(300)]

POLICY = {
    "min_group_size": 5,
    "columns": {"pid": "match", "region": "group", "age": "aggregate"},
}
# ages 20..25 left out: 3 people of each region (6 in all; every group moves by 3 < k)
SIX_LESS = {"fn": ">=", "args": [{"col": "age"}, {"lit": 26}]}
AGE_30 = {"fn": ">=", "args": [{"col": "age"}, {"lit": 30}]}
AGE_33 = {"fn": ">=", "args": [{"col": "age"}, {"lit": 33}]}  # 3 people fewer than AGE_30


def version(cluster: LocalCluster) -> int:
    with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
        return s.table_info("people").version


def upload_again(cluster: LocalCluster) -> int:
    with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
        s.drop("people")
        s.upload(people(), "people", policy=POLICY, progress=False)
    return version(cluster)


def query(cluster: LocalCluster, member: str, plan: dict[str, Any]) -> pd.DataFrame:
    with sharelake.connect(cluster.consortium_path, member) as a:
        return a.query(plan)


def refused(cluster: LocalCluster, member: str, plan: dict[str, Any]) -> str:
    with pytest.raises(SharelakeError) as err:
        query(cluster, member, plan)
    return str(err.value)


def records(lake: Path, i: int) -> list[dict[str, Any]]:
    text = (data_dir(lake, i) / "released.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def budget(lake: Path, i: int) -> dict[str, Any]:
    doc = json.loads((data_dir(lake, i) / "budget.json").read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "lake"
    init_cluster(
        d, members=[*DEFAULT_MEMBERS, MemberSpec("analyst2", "uni", frozenset({"analyst"}))]
    )
    yield d


def test_a_table_uploaded_again_starts_with_a_fresh_budget_and_release_record(
    lake: Path,
) -> None:
    with LocalCluster(lake) as cluster:
        with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
            s.upload(people(), "people", policy=POLICY, progress=False)
        first = version(cluster)
        query(cluster, "analyst", by_region())
        text = refused(cluster, "analyst", by_region(SIX_LESS))
        assert "fewer than 5 rows (differencing)" in text, text
        second = upload_again(cluster)
        assert second > first
        for i in range(3):
            assert records(lake, i) == [], f"P{i}"  # the dropped upload's record is gone
            assert "people" not in budget(lake, i).get("analyst", {}), f"P{i}"
        # the new upload's record is empty: the six-rows-less aggregate is not compared
        # with a release over other rows
        got = query(cluster, "analyst", by_region(SIX_LESS))
        assert sorted(got["n"].tolist()) == [17, 17]
        for i in range(3):
            assert [r["table_version"] for r in records(lake, i)] == [second], f"P{i}"
            assert budget(lake, i)["analyst"]["people"] == {str(second): 1}, f"P{i}"
        # and it is compared with releases over this upload
        text = refused(cluster, "analyst", by_region())
        assert "fewer than 5 rows (differencing)" in text, text


def test_budget_use_and_release_records_of_an_older_node_bind_to_the_upload_current_at_start(
    lake: Path,
) -> None:
    with LocalCluster(lake) as cluster:
        with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
            s.upload(people(), "people", policy=POLICY, progress=False)
        current = version(cluster)
        for i in range(3):
            cluster.kill(i)
        for i in range(3):
            # as an older node wrote them: by table name only, one for a table now gone
            old_budget = {"analyst": {"people": DEFAULT_BUDGET, "gone": 3}}
            (data_dir(lake, i) / "budget.json").write_text(json.dumps(old_budget))
            lines = [
                {"table": "people", "predicates": [canonical_json(AGE_30)]},
                {"table": "gone", "predicates": []},
            ]
            (data_dir(lake, i) / "released.jsonl").write_text(
                "".join(json.dumps(line) + "\n" for line in lines)
            )
        for i in range(3):
            cluster.restart(i)
        for i in range(3):
            assert budget(lake, i) == {"analyst": {"people": {str(current): DEFAULT_BUDGET}}}
            assert records(lake, i) == [
                {
                    "table": "people",
                    "where": [canonical_json(AGE_30)],
                    "by": [],
                    "table_version": current,
                }
            ], f"P{i}"
        # bound to this upload: the spent budget and the earlier release still count
        text = refused(cluster, "analyst", by_region())
        assert f"has used its budget of {DEFAULT_BUDGET} released queries" in text, text
        text = refused(cluster, "analyst2", by_region(AGE_33))
        assert "fewer than 5 rows (differencing)" in text, text
        # a new upload of the name starts afresh for both
        upload_again(cluster)
        assert sorted(query(cluster, "analyst", by_region())["n"].tolist()) == [20, 20]
        assert sorted(
            query(
                cluster, "analyst2", by_region({"fn": ">=", "args": [{"col": "age"}, {"lit": 40}]})
            )["n"].tolist()
        ) == [10, 10]


def approve(cluster: LocalCluster, plan: dict[str, Any], expires: int) -> None:
    key = load_private_key(cluster.member_key_path("ngo_a"))
    a = Approval.create(key, plan_hash(plan), "analyst", expires, "ngo_a")
    with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
        s.on_each("POST", "/v1/approvals", canonical_json(a.to_dict()).encode(), wait_all=True)


def test_an_approval_given_for_one_upload_does_not_count_for_the_table_uploaded_again(
    lake: Path,
) -> None:
    pids = pn.make_plan(pn.scan("people", ["pid"]))  # releases a match column: needs approval
    with LocalCluster(lake) as cluster:
        with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
            s.upload(people(), "people", policy=POLICY, progress=False)
        assert "needs the approval of every owner" in refused(cluster, "analyst", pids)
        approve(cluster, pids, int(time.time()) + 3600)
        assert len(query(cluster, "analyst", pids)) == 40
        upload_again(cluster)
        text = refused(cluster, "analyst", pids)
        assert "was given for another upload of the plan's tables" in text, text
        approve(cluster, pids, int(time.time()) + 3601)  # the owner approves the new data
        assert len(query(cluster, "analyst", pids)) == 40
