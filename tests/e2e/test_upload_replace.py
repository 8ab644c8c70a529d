"""Uploading to an existing table name is refused unless asked for, at the client and by
every node (three real node processes over TLS)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import sharelake
from sharelake.cli.main import app
from sharelake.client.bundles import share_into_bundles
from sharelake.client.errors import NodeConflictError
from sharelake.client.session import Session
from sharelake.client.upload import ExistingTableError, infer_schema
from sharelake.node.local import LocalCluster
from sharelake.relational.encode import encode_frame
from sharelake.relational.table import spec_to_json

pytestmark = [pytest.mark.tls, pytest.mark.timeout(300)]

OPEN = {"analysts": ["analyst"], "columns": {"pid": "reveal", "age": "reveal"}}


def frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"pid": range(n), "age": [18 + i % 60 for i in range(n)]})


def version(s: Session, name: str) -> int:
    return s.table_info(name).version


def bundles(s: Session, name: str, df: pd.DataFrame, **extra: Any) -> list[bytes]:
    specs = infer_schema(df)
    meta = {
        "table": name,
        "owner": s.member,
        "rows": len(df),
        "schema": [spec_to_json(x) for x in specs],
        "policy": OPEN,
        **extra,
    }
    return [bytes(b.data) for b in share_into_bundles(encode_frame(df, specs), meta)]


def prepare(s: Session, node: int, uid: str, body: bytes) -> dict[str, Any]:
    reply = s.request(
        node, "POST", f"/v1/uploads/{uid}/prepare", body, content_type="application/octet-stream"
    )
    out: dict[str, Any] = reply.json()
    return out


def test_an_upload_to_an_existing_name_is_refused_at_the_client_naming_its_version(
    cluster: LocalCluster,
) -> None:
    with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
        s.upload(frame(10), "replace_me", policy=OPEN, progress=False)
        with pytest.raises(ExistingTableError) as err:
            s.upload(frame(20), "replace_me", policy=OPEN, progress=False)
        text = str(err.value)
        assert "'replace_me' exists (version 1)" in text
        assert "void the approvals and budgets bound to version 1" in text
        assert "replace=True" in text
        assert version(s, "replace_me") == 1 and s.table_info("replace_me").rows == 10
        res = s.upload(frame(20), "replace_me", policy=OPEN, replace=True, progress=False)
        assert res.version == 2
        info = s.table_info("replace_me")
        assert info.version == 2 and info.rows == 20


def test_every_node_refuses_a_bundle_that_does_not_allow_replacing_an_existing_table(
    cluster: LocalCluster,
) -> None:
    with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
        s.upload(frame(10), "node_guarded", policy=OPEN, progress=False)
        refused = bundles(s, "node_guarded", frame(12), replace=False)
        for i in range(3):
            with pytest.raises(NodeConflictError) as err:
                prepare(s, i, "guarded-0001", refused[i])
            assert err.value.status == 409
            assert "'node_guarded' exists (version 1)" in str(err.value)
        # a new name is staged even when the bundle does not allow replacing
        fresh = bundles(s, "node_guarded_new", frame(12), replace=False)
        for i in range(3):
            assert prepare(s, i, "guarded-0002", fresh[i])["upload_id"] == "guarded-0002"
        # a bundle without "replace" (from a client before it existed) replaces, as then
        old = bundles(s, "node_guarded", frame(12))
        for i in range(3):
            assert prepare(s, i, "guarded-0003", old[i])["upload_id"] == "guarded-0003"
        for uid in ("guarded-0002", "guarded-0003"):
            for i in range(3):
                s.request(i, "POST", f"/v1/uploads/{uid}/abort", b"{}")
        assert version(s, "node_guarded") == 1


def test_the_upload_command_refuses_an_existing_table_and_replaces_it_with_replace(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    csv = tmp_path / "ages.csv"
    frame(15).to_csv(csv, index=False)
    pol = tmp_path / "policy.toml"
    pol.write_text('analysts = ["analyst"]\n[columns]\npid = "reveal"\nage = "reveal"\n')
    args = ["upload", str(csv), "--table", "cli_replace", "--policy", str(pol)]
    args += ["--as", "ngo_a", "--consortium", str(cluster.consortium_path), "--yes"]
    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, args)
    assert again.exit_code == 2
    assert "exists (version 1)" in again.output and "--replace" in again.output
    forced = runner.invoke(app, [*args, "--replace"])
    assert forced.exit_code == 0, forced.output
    assert "(version 2)" in forced.output
