"""The layering of DESIGN.md section 4 is checked by import-linter; an upward import breaks it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(project / "pyproject.toml")],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _copy_project(dest: Path) -> Path:
    shutil.copytree(
        ROOT / "src" / "sharelake",
        dest / "src" / "sharelake",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_the_source_tree_keeps_every_layering_contract() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "upward"),
    [
        ("storage/bundle.py", "from ..node import service"),
        ("mpc/ring.py", "from ..relational import table"),
        ("governance/policy.py", "from ..engine import executor"),
    ],
)
def test_an_upward_import_breaks_the_layers_contract(
    tmp_path: Path, module: str, upward: str
) -> None:
    project = _copy_project(tmp_path)
    target = project / "src" / "sharelake" / module
    target.write_text(target.read_text() + f"\n{upward}  # injected by the test\n")
    result = _lint_imports(project)
    assert result.returncode != 0
    assert "Layers point down" in result.stdout
    assert "BROKEN" in result.stdout
    importer = "sharelake." + module.removesuffix(".py").replace("/", ".")
    assert importer in result.stdout


def test_the_client_importing_node_internals_breaks_its_contract(tmp_path: Path) -> None:
    project = _copy_project(tmp_path)
    target = project / "src" / "sharelake" / "client" / "catalog.py"
    target.write_text(target.read_text() + "\nfrom ..storage import catalog  # injected\n")
    result = _lint_imports(project)
    assert result.returncode != 0
    assert "The client never imports node/ or storage/ internals BROKEN" in result.stdout
