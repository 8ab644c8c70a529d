"""What an operator watches: probes without authentication, metrics and JSON logs.

None of them may carry a value or a name: the test data uses names that must never
appear (the table, its columns, the members, the values) and looks for them.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

import sharelake
from sharelake.node.local import LocalCluster

from ..node.queries import by_region, people

pytestmark = pytest.mark.timeout(300)
POLICY = {"columns": {"pid": "match", "region": "group", "age": "aggregate"}}
SECRET_WORDS = ("people", "region", "east", "west", "ngo_a", "analyst", "police")


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or (
            line.startswith(name + "{") and line.split(" ")[0] == name
        ):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in the metrics")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> LocalCluster:
    lake = tmp_path_factory.mktemp("obs")
    from sharelake.consortium.cluster import init_cluster

    init_cluster(lake)
    c = LocalCluster(lake).start()
    with sharelake.connect(c.consortium_path, "ngo_a") as s:
        s.upload(people(), "people", policy=POLICY, progress=False)
    with sharelake.connect(c.consortium_path, "analyst") as a:
        a.query(by_region())
    yield c
    c.stop()


def test_healthz_and_readyz_answer_without_authentication_and_say_nothing_else(
    cluster: LocalCluster,
) -> None:
    for i in range(3):
        url = cluster.api_url(i)
        h = httpx.get(f"{url}/healthz", verify=False)
        r = httpx.get(f"{url}/readyz", verify=False)
        assert (h.status_code, h.json()) == (200, {"status": "ok"})
        assert (r.status_code, r.json()) == (200, {"ready": True})
        assert "X-Request-Id" in h.headers


def test_metrics_count_the_query_its_bytes_and_rounds_and_the_peers_are_up(
    cluster: LocalCluster,
) -> None:
    text = httpx.get(f"{cluster.api_url(0)}/metrics", verify=False).text
    assert _metric(text, 'sharelake_queries_total{outcome="released"}') == 1
    assert _metric(text, "sharelake_peer_bytes_sent_total") > 0
    assert _metric(text, "sharelake_peer_rounds_total") > 0
    assert _metric(text, "sharelake_query_seconds_count") == 1
    assert _metric(text, 'sharelake_peer_up{peer="P1"}') == 1
    assert _metric(text, 'sharelake_peer_up{peer="P2"}') == 1
    assert 'protocol="1"' in text
    for word in SECRET_WORDS:
        assert word not in text


def test_a_refused_request_is_counted_by_its_error_class(cluster: LocalCluster) -> None:
    url = cluster.api_url(2)
    before = httpx.get(f"{url}/metrics", verify=False).text
    r = httpx.get(f"{url}/v1/tables", verify=False)  # unsigned
    assert r.status_code == 401
    after = httpx.get(f"{url}/metrics", verify=False).text
    reason = r.json()["error"]
    name = f'sharelake_refusals_total{{reason="{reason}"}}'
    was = _metric(before, name) if name in before else 0.0
    assert _metric(after, name) == was + 1
    route = 'sharelake_requests_total{route="/v1/tables",status="401"}'
    assert _metric(after, route) >= 1


def test_node_logs_are_json_lines_with_session_ids_and_no_names_or_values(
    cluster: LocalCluster,
) -> None:
    for i in range(3):
        lines = cluster.log_path(i).read_text().splitlines()
        docs = [json.loads(line) for line in lines if line.startswith("{")]
        assert docs and len(docs) == len([x for x in lines if x.strip()])
        assert all({"ts", "level", "logger", "node", "msg"} <= set(d) for d in docs)
        assert {d["node"] for d in docs} == {f"P{i}"}
        released = [d for d in docs if d["msg"] == "query released"]
        assert len(released) == 1 and len(released[0]["session"]) == 32
        requests = [d for d in docs if d.get("route") == "/v1/queries"]
        assert requests and all(len(d["request"]) == 16 for d in requests)
        text = "\n".join(lines)
        for word in SECRET_WORDS:
            assert word not in text, (i, word)


def test_an_unknown_log_level_stops_the_node_with_a_clear_message(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "sharelake.node.server", "x.toml", "--log-level", "loud"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "unknown log level 'loud'" in done.stderr
