"""Values, labels and the upload preview through three real node processes over TLS.

A table whose region column is inferred as ``string`` (one region has too few rows for a
public dictionary) comes back with the region names in a group-by, equal to pandas; a
category column filters by label; the CLI shows the preview and sends nothing unless
confirmed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import sharelake
from sharelake.cli.main import app
from sharelake.client.errors import UnknownTableError
from sharelake.node.local import LocalCluster
from sharelake.relational.table import ColumnSpec

pytestmark = [pytest.mark.tls, pytest.mark.timeout(300)]

REGIONS = ["Noord", "Zuid-Öst", "北京", ""]
POLICY = {
    "min_group_size": 2,
    "analysts": ["analyst"],
    "columns": {"pid": "aggregate", "region": "group", "sector": "group", "age": "aggregate"},
}


def cases() -> pd.DataFrame:
    rng = np.random.default_rng(21)
    n = 40
    region = [str(r) for r in rng.choice(REGIONS, n)]
    # two regions of one row: suppressed (k = 2), and they keep region out of category
    # (two, so the suppressed rows together are not a single row the total would reveal)
    region[5], region[6] = "West", "Oost"
    return pd.DataFrame(
        {
            "pid": range(n),
            "region": region,
            "sector": rng.choice(["farm", "port", "shop"], n),
            "age": rng.integers(16, 70, n),
        }
    )


SCHEMA = [
    ColumnSpec("pid", "int", False),
    ColumnSpec("region", "string", False, max_len=16),
    ColumnSpec("sector", "category", False, categories=("farm", "port", "shop")),
    ColumnSpec("age", "int", False),
]


def test_string_group_keys_and_label_filters_equal_pandas_through_three_nodes(
    cluster: LocalCluster,
) -> None:
    df = cases()
    with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
        s.upload(df, "values_cases", schema=SCHEMA, policy=POLICY, progress=False)
    with sharelake.connect(cluster.consortium_path, "analyst") as a:
        t = a.table("values_cases")
        by_region = t.groupby("region").agg(n=("*", "count"), total=("age", "sum")).collect()
        port = t[(t.sector == "port") & (t.age >= 18)].groupby("region").agg(n=("*", "count"))
        got_port = port.collect()
    sizes = df.groupby("region").agg(n=("pid", "size"), total=("age", "sum")).reset_index()
    want = sizes[sizes.n >= 2].sort_values("region").reset_index(drop=True)
    assert by_region["region"].tolist() == want["region"].tolist()  # values, not digests
    assert by_region["n"].tolist() == want["n"].tolist()
    assert by_region["total"].tolist() == want["total"].tolist()
    assert by_region.attrs["suppressed_groups"] == 2
    assert (
        "minimum group size (k) of the policy of table 'values_cases'"
        in (by_region.attrs["notes"][0])
    )
    kept = df[(df.sector == "port") & (df.age >= 18)].groupby("region").size()
    kept = kept[kept >= 2].sort_index()
    assert got_port["region"].tolist() == kept.index.tolist()
    assert got_port["n"].tolist() == kept.tolist()


def test_the_upload_command_shows_the_preview_and_sends_nothing_without_yes(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    csv = tmp_path / "regions.csv"
    cases().to_csv(csv, index=False)
    pol = tmp_path / "policy.toml"
    pol.write_text('analysts = ["analyst"]\n[columns]\npid = "reveal"\nage = "reveal"\n')
    args = ["upload", str(csv), "--table", "preview_cases", "--policy", str(pol)]
    args += ["--as", "ngo_a", "--consortium", str(cluster.consortium_path)]
    runner = CliRunner()
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2, refused.output
    assert "Upload preview: table 'preview_cases'" in refused.output
    assert "rerun with --yes" in refused.output
    with sharelake.connect(cluster.consortium_path, "ngo_a") as s, pytest.raises(UnknownTableError):
        s.table_info("preview_cases")
    done = runner.invoke(app, [*args, "--yes"])
    assert done.exit_code == 0, done.output
    assert "Upload preview: table 'preview_cases'" in done.output
    assert "uploaded 40 rows to table 'preview_cases' (version 1)" in done.output
