"""Every python block of README.md and docs/*.md that is not marked ``skip`` runs against
one real local cluster (three node processes over TLS), as a reader would run it.

Slow (``make test-slow``): the person linkage and the standalone MPC script take minutes on
two cores. Which blocks are marked, and why, is checked in ``make test``
(tests/docs/test_code_blocks.py).

Each block runs in a fresh directory holding the repository's ``examples/`` and ``lake``
(the cluster's folder, so ``lake/consortium.toml`` is the cluster's consortium file);
``sharelake.LocalCluster()`` in a block gives this one cluster. A block that needs tables
or files it does not make itself gets them from :data:`SETUP` first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest

import sharelake
from sharelake.linkage.synth import make_lists
from sharelake.node.local import LocalCluster

from .code_blocks import ROOT, Block, blocks

pytestmark = [pytest.mark.slow, pytest.mark.tls, pytest.mark.timeout(1800)]

RUNNABLE = [b for b in blocks() if not b.marker.startswith("skip")]


def _people(lake: LocalCluster, workdir: Path) -> None:
    """README's linkage block: people_a.csv to upload, people_b already shared by ngo_b."""
    lists = make_lists(20, seed=3)
    lists.left.to_csv(workdir / "people_a.csv", index=False)
    with sharelake.connect(lake.consortium_path, "ngo_b") as s:
        policy = {"analysts": ["analyst"], "columns": {"record_id": "reveal"}}
        s.upload_people(lists.right, "people_b", policy={**policy, "release_sizes": True})


SETUP: dict[str, Callable[[LocalCluster, Path], None]] = {
    'upload_people("people_a.csv"': _people,
}


@pytest.fixture(scope="module")
def lake() -> Iterator[LocalCluster]:
    with LocalCluster() as c:  # the members of `sharelake cluster init`, as the README
        yield c


@pytest.fixture
def workdir(lake: LocalCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    os.symlink(lake.dir, tmp_path / "lake")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sharelake, "LocalCluster", lambda *a, **k: nullcontext(lake))
    return tmp_path


NAMESPACES: dict[str, dict[str, Any]] = {}


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.name for b in RUNNABLE])
def test_the_block_runs_as_written(block: Block, lake: LocalCluster, workdir: Path) -> None:
    for needle, setup in SETUP.items():
        if needle in block.code:
            setup(lake, workdir)
    if block.marker == "script":
        script = workdir / "block.py"
        script.write_text(block.code, encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        done = subprocess.run(
            [sys.executable, str(script)],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return
    if block.marker == "continues":
        namespace = NAMESPACES[f"{block.file}#{block.number - 1}"]
    else:
        namespace = {"__name__": "__doc_block__"}
    exec(compile(block.code, f"{block.file}:{block.line}", "exec"), namespace)
    NAMESPACES[block.name] = namespace
