"""``sharelake policy show|set`` over three real node processes with TLS."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import sharelake
from sharelake.cli.main import app
from sharelake.node.local import LocalCluster

pytestmark = [pytest.mark.tls, pytest.mark.timeout(300)]

runner = CliRunner()
OPEN = {"analysts": ["analyst"], "columns": {"pid": "reveal", "region": "reveal"}}
TIGHTER = """\
min_group_size = 10
analysts = ["analyst"]
[columns]
pid = "match"
region = "group"
"""


def upload(cluster: LocalCluster, name: str) -> None:
    frame = pd.DataFrame({"pid": range(8), "region": ["east", "west"] * 4, "age": range(8)})
    with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
        s.upload(frame, name, policy=OPEN, progress=False)


def policy(cluster: LocalCluster, *args: str, member: str = "ngo_a") -> tuple[int, str]:
    cons = ["--as", member, "--consortium", str(cluster.consortium_path)]
    res = runner.invoke(app, ["policy", *args, *cons])
    return res.exit_code, res.output


def test_policy_show_prints_every_column_and_the_version_in_force(cluster: LocalCluster) -> None:
    upload(cluster, "shown")
    code, out = policy(cluster, "show", "shown")
    assert code == 0, out
    assert "table 'shown' (owner ngo_a, table version 1): policy version 1" in out
    assert "analysts: analyst" in out and "release_sizes: false" in out
    assert "region  reveal" in out
    assert "age     unclassified (every use needs the owner's approval)" in out


def test_policy_set_prints_what_changed_and_policy_show_then_says_version_2(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    upload(cluster, "tightened")
    f = tmp_path / "tighter.toml"
    f.write_text(TIGHTER)
    code, out = policy(cluster, "set", "tightened", "--policy", str(f))
    assert code == 0, out
    assert "table 'tightened': policy version 1 -> 2 on all three nodes" in out
    assert "column pid: reveal -> match" in out
    assert "column region: reveal -> group" in out
    assert "min_group_size: 5 -> 10" in out
    assert "column age" not in out and "analysts" not in out
    code, out = policy(cluster, "show", "tightened")
    assert code == 0, out
    assert "policy version 2" in out and "region  group" in out


def test_policy_set_by_a_member_who_does_not_own_the_table_is_refused_clearly(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    upload(cluster, "owned")
    f = tmp_path / "tighter.toml"
    f.write_text(TIGHTER)
    code, out = policy(cluster, "set", "owned", "--policy", str(f), member="ngo_b")
    assert code != 0
    assert "only its owner 'ngo_a' may change its policy, not 'ngo_b'" in out
    assert "policy version 1" in policy(cluster, "show", "owned")[1]


def test_policy_set_with_an_invalid_file_names_the_bad_field(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    upload(cluster, "checked")
    bad = tmp_path / "bad.toml"
    bad.write_text('[columns]\nregion = "secret"\n')
    code, out = policy(cluster, "set", "checked", "--policy", str(bad))
    assert code == 2
    assert "column 'region' has unknown class 'secret'" in out
    bad.write_text("min_group = 3\n")
    code, out = policy(cluster, "set", "checked", "--policy", str(bad))
    assert code == 2 and "unknown setting 'min_group'" in out


def test_policy_show_of_an_unknown_table_names_it_and_exits_non_zero(
    cluster: LocalCluster,
) -> None:
    code, out = policy(cluster, "show", "nowhere")
    assert code == 1 and "no table 'nowhere'" in out
    assert out.rstrip().splitlines()[-1].startswith("Next: check the table's name")
