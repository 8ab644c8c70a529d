"""How the commands report a refusal or failure: one red line, then a chosen exit code."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console


def fail(console: Console, label: str, exc: BaseException, code: int) -> NoReturn:
    """Print ``label: message`` unwrapped (locations stay on one line) and exit with ``code``."""
    console.print(f"[red]{label}:[/red] {exc}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code) from None
