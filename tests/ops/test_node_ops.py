"""`sharelake node status|backup|restore|fsck` on real node processes."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import sharelake
from sharelake.cli.main import app
from sharelake.consortium.cluster import init_cluster, node_config_path
from sharelake.node.local import LocalCluster

from ..node.queries import by_region, people

pytestmark = pytest.mark.timeout(300)
POLICY = {"columns": {"pid": "match", "region": "group", "age": "aggregate"}}
runner = CliRunner()


def _counts(df) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return dict(zip(df["region"].astype(str), df["n"].astype(int), strict=True))


def test_status_backup_restore_bring_a_wiped_node_back(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    init_cluster(lake)
    p1 = node_config_path(lake, 1)
    archive = tmp_path / "p1.tar.gz"
    want = {str(k): int(v) for k, v in people().groupby("region", observed=True).size().items()}
    with LocalCluster(lake) as cluster:
        with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
            s.upload(people(), "people", policy=POLICY, progress=False)
        st = runner.invoke(app, ["node", "status", str(p1), "--json"])
        assert st.exit_code == 0, st.output
        report = json.loads(st.output)
        names = [c["name"] for c in report["checks"]]
        assert names[:7] == [
            "configuration",
            "software",
            "consortium",
            "certificate",
            "data",
            "retention",
            "running",
        ]
        assert {"peer P0", "peer P2"} <= set(names) and report["ok"]
        done = runner.invoke(app, ["node", "backup", str(p1), "--out", str(archive)])
        assert done.exit_code == 0, done.output
        refused = runner.invoke(app, ["node", "restore", str(p1), str(archive)])
        assert refused.exit_code == 1 and "running" in refused.output
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "tls/node-key.pem" not in names and "data/catalog.sqlite" in names
    data = lake / "nodes" / "P1" / "data"
    shutil.rmtree(data)  # the disk of P1 is lost
    st = runner.invoke(app, ["node", "status", str(p1)])
    assert st.exit_code == 1 and "nothing answers" in st.output
    done = runner.invoke(app, ["node", "restore", str(p1), str(archive)])
    assert done.exit_code == 0, done.output
    fsck = runner.invoke(app, ["node", "fsck", str(p1)])
    assert fsck.exit_code == 0 and "OK" in fsck.output
    with LocalCluster(lake) as cluster, sharelake.connect(cluster.consortium_path, "analyst") as a:
        assert _counts(a.query(by_region())) == want


def test_a_damaged_or_foreign_backup_is_refused_before_anything_changes(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    init_cluster(lake)
    p1, p2 = node_config_path(lake, 1), node_config_path(lake, 2)
    (lake / "nodes" / "P1" / "data").mkdir()
    (lake / "nodes" / "P1" / "data" / "audit.jsonl").write_text('{"kind": "x"}\n')
    archive = tmp_path / "p1.tar.gz"
    assert runner.invoke(app, ["node", "backup", str(p1), "--out", str(archive)]).exit_code == 0
    again = runner.invoke(app, ["node", "backup", str(p1), "--out", str(archive)])
    assert again.exit_code == 1 and "exists already" in again.output
    foreign = runner.invoke(app, ["node", "restore", str(p2), str(archive)])
    assert foreign.exit_code == 1 and "backup of P1, this is P2" in foreign.output
    # One byte of one file changed inside an otherwise valid archive.
    with tarfile.open(archive) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    files["data/audit.jsonl"] = files["data/audit.jsonl"].replace(b"x", b"y")
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        for name, blob in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    shutil.rmtree(lake / "nodes" / "P1" / "data")
    done = runner.invoke(app, ["node", "restore", str(p1), str(bad)])
    assert done.exit_code == 1 and "does not match its SHA-256" in done.output
    assert not (lake / "nodes" / "P1" / "data").exists()  # nothing was written
