"""A consortium that agreed on purposes: the portal's analyses name the purpose they serve,
it enters the plan (so the owners approve it for that purpose only), and a table that does
not serve a purpose cannot be computed on for it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pandas as pd
import pytest

import sharelake
from sharelake.consortium.cluster import init_cluster
from sharelake.node.local import LocalCluster

from .conftest import start_portal, stop_portal

pytestmark = pytest.mark.timeout(300)

PURPOSES = {
    "monitoring": "national monitoring of trafficking",
    "research": "academic research on recruitment",
}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    d = tmp_path_factory.mktemp("purposes")
    init_cluster(d, purposes=PURPOSES)
    with LocalCluster(d) as c:
        with sharelake.connect(c.consortium_path, "ngo_a") as s:
            df = pd.DataFrame({"region": pd.Categorical(["n"] * 6 + ["s"] * 6), "n": range(12)})
            policy = {"purposes": ["monitoring"], "columns": {"region": "group", "n": "aggregate"}}
            s.upload(df, "cases", policy=policy, progress=False)
        yield c


@pytest.fixture(scope="module")
def analyst(lake: LocalCluster) -> Iterator[tuple[httpx.Client, str]]:
    portal, thread = start_portal(sharelake.connect(lake.consortium_path, "analyst"))
    client = httpx.Client(base_url=portal.url)
    assert client.get("/start", params={"token": portal.access.start_token}).status_code == 303
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/analyses").text)
    assert csrf is not None
    yield client, csrf.group(1)
    client.close()
    stop_portal(portal, thread)


def test_an_analysis_must_name_an_agreed_purpose_and_carries_it_to_the_nodes(
    analyst: tuple[httpx.Client, str],
) -> None:
    client, csrf = analyst
    page = client.get("/analyses").text
    assert "monitoring — national monitoring of trafficking" in page
    refused = client.post(
        "/analyses", data={"csrf": csrf, "kind": "modus", "table": "cases", "column": "region"}
    )
    assert refused.status_code == 400 and "purpose" in refused.text
    made = client.post(
        "/analyses",
        data={
            "csrf": csrf,
            "kind": "modus",
            "table": "cases",
            "column": "region",
            "purpose": "monitoring",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303
    shown = client.get(made.headers["location"]).text
    assert 'id="analysis-purpose">monitoring<' in shown
    ran = client.post(made.headers["location"] + "/run", data={"csrf": csrf}, follow_redirects=True)
    assert ran.status_code == 200 and "Result" in ran.text and "<td>6</td>" in ran.text


def test_a_purpose_the_table_does_not_serve_is_refused_by_the_nodes(
    analyst: tuple[httpx.Client, str],
) -> None:
    client, csrf = analyst
    made = client.post(
        "/analyses",
        data={
            "csrf": csrf,
            "kind": "modus",
            "table": "cases",
            "column": "region",
            "purpose": "research",
        },
        follow_redirects=False,
    )
    ran = client.post(made.headers["location"] + "/run", data={"csrf": csrf}, follow_redirects=True)
    assert 'role="alert" class="error"' in ran.text and "research" in ran.text
    assert "Result" not in ran.text
