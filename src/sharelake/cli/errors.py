"""How the commands report a refusal or failure: one red line, the next step, an exit code."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console

__all__ = ["fail", "next_step"]

_SCHEMA = (
    "to set a column's kind yourself, write a schema with `sharelake schema infer FILE "
    "--out schema.toml`, edit it and pass `--schema schema.toml`"
)


def next_step(exc: BaseException) -> str | None:
    """What to do after ``exc``, one sentence (None when the message already says it).

    Examples
    --------
    >>> from sharelake.errors import InputValidationError
    >>> step = next_step(InputValidationError("not a number", source="x.csv", row=3))
    >>> step.startswith("correct the file where the message says (rows are counted from 1")
    True
    """
    # imported here: `sharelake --help` loads typer and rich only (cli/__init__.py)
    from ..client.errors import (
        NodeAuthError,
        NodeNotFoundError,
        NodePolicyError,
        NodeUnavailableError,
        UnknownTableError,
    )
    from ..consortium.keys import KeyFileError
    from ..consortium.members import ConsortiumConfigError, PurposeError
    from ..errors import AuthenticationError, InputValidationError, PeerError

    text = str(exc)
    if isinstance(exc, InputValidationError):
        if "replace" in text or "nothing was sent" in text.lower():
            return None  # the upload's own refusals say what to do
        if exc.message == "file not found":
            return f"check the file's name and folder (relative paths start at {Path.cwd()})"
        if exc.source or exc.row is not None or exc.column:
            return (
                "correct the file where the message says (rows are counted from 1, the header "
                f"not included) and run the command again; {_SCHEMA}"
            )
        return "correct the input the message names and run the command again"
    if isinstance(exc, UnknownTableError | NodeNotFoundError):
        return (
            "check the table's name (case counts); your portal's Tables page "
            "(`sharelake portal --as YOU --consortium FILE`) lists the tables you can see"
        )
    if isinstance(exc, NodePolicyError | PurposeError):
        return (
            "the reason is above: change the query, or ask the table owners to approve it "
            "(`q.request_approval()` in Python or the portal's Analyses page; they see it with "
            "`sharelake approvals list`)"
        )
    if isinstance(exc, NodeUnavailableError | PeerError):
        return (
            "make sure the three nodes are running (`sharelake cluster up DIR` for a local "
            "lake, or ask their operators) and that consortium.toml has their addresses, "
            "then run the command again"
        )
    if isinstance(exc, ConsortiumConfigError):
        return (
            "pass --consortium the consortium.toml of your lake (`sharelake cluster init DIR` "
            "makes one for a local lake; otherwise your coordinator sends it)"
        )
    if isinstance(exc, KeyFileError | NodeAuthError | AuthenticationError):
        return (
            "check that --as names a member of consortium.toml and that --key (default "
            "members/MEMBER.key beside it) is that member's own key"
        )
    return None


def fail(console: Console, label: str, exc: BaseException, code: int) -> NoReturn:
    """Print ``label: message`` unwrapped (locations stay on one line), then the next step
    to take when one is known (:func:`next_step`), and exit with ``code``."""
    console.print(f"[red]{label}:[/red] {exc}", markup=True, highlight=False, soft_wrap=True)
    step = next_step(exc)
    if step:
        console.print(f"Next: {step}.", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code) from None
