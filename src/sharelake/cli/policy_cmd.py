"""``sharelake policy show|set TABLE --as MEMBER --consortium FILE``.

``show`` prints the policy the three nodes enforce on a table and its version. ``set``
lets the table's owner replace it: the new policy (a TOML file, as for ``upload
--policy``) is validated against the table's columns, signed here with the owner's key
as the next policy version of the table's current upload, sent to all three nodes, and
what changed is printed, old -> new per column and setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import InputValidationError, SharelakeError
from .errors import fail

if TYPE_CHECKING:
    from ..client.session import TableInfo

policy_app = typer.Typer(
    help="Show a table's policy, or change it as the table's owner.", no_args_is_help=True
)

_TABLE = typer.Argument(help="The table's name in the lake.")
_AS = typer.Option("--as", help="Your member name.")
_CONS = typer.Option("--consortium", help="consortium.toml of the lake.")
_KEY = typer.Option("--key", help="Your private key (default: members/MEMBER.key).")


def render_policy(info: TableInfo) -> str:
    """The readable form of a table's policy in force: settings, then every column."""
    from ..client.policy import UNCLASSIFIED
    from ..governance.policy import Policy
    from ..governance.retention import retention_text

    p = Policy.from_dict(info.policy)
    analysts = "any analyst" if p.analysts is None else ", ".join(p.analysts) or "none"
    names = list(dict.fromkeys([*info.columns, *p.columns]))
    width = max((len(c) for c in names), default=0)
    lines = [
        f"table {info.name!r} (owner {info.owner}, table version {info.version}): "
        f"policy version {info.policy_version}",
        f"  min_group_size: {p.min_group_size}",
        f"  analysts: {analysts}",
        f"  release_sizes: {'true' if p.release_sizes else 'false'}",
        "  purposes: "
        + (", ".join(p.purposes) if p.purposes is not None else "any agreed purpose"),
        f"  retention: {retention_text(p)}",
        "  columns:",
    ]
    for c in names:
        klass = p.column_class(c)
        shown = klass or f"{UNCLASSIFIED} (every use needs the owner's approval)"
        lines.append(f"    {c:<{width}}  {shown}")
    return "\n".join(lines)


@policy_app.command("show")
def show(
    table: Annotated[str, _TABLE],
    member: Annotated[str, _AS],
    consortium: Annotated[Path, _CONS],
    key: Annotated[Path | None, _KEY] = None,
) -> None:
    """Print the policy the three nodes enforce on TABLE, and its version."""
    from rich.console import Console

    from ..client.session import connect

    try:
        with connect(consortium, member, key=key) as s:
            info = s.table_info(table)
    except SharelakeError as exc:
        fail(Console(stderr=True), "error", exc, 1)
    typer.echo(render_policy(info))


@policy_app.command("set")
def set_policy(
    table: Annotated[str, _TABLE],
    policy: Annotated[
        Path, typer.Option("--policy", help="The new policy (TOML, as for upload --policy).")
    ],
    member: Annotated[str, typer.Option("--as", help="Your member name (the table's owner).")],
    consortium: Annotated[Path, _CONS],
    key: Annotated[Path | None, _KEY] = None,
) -> None:
    """Replace TABLE's policy (its owner only) on the three nodes; print what changed.

    The policy is checked against the table's columns before anything is signed: an
    invalid one is refused naming the bad setting, column or class (exit status 2). A
    node's refusal or failure exits with status 1.
    """
    from rich.console import Console

    from ..client.policy import policy_changes
    from ..client.session import connect
    from ..governance.policy import PolicyError

    console = Console(stderr=True)
    try:
        with connect(consortium, member, key=key) as s:
            old = s.table_info(table)
            new = s.set_policy(table, policy, progress=True)
    except (PolicyError, InputValidationError) as exc:
        fail(console, "refused, nothing was signed", exc, 2)
    except SharelakeError as exc:
        fail(console, "policy change failed", exc, 1)
    typer.echo(
        f"table {table!r}: policy version {old.policy_version} -> {new.policy_version} "
        "on all three nodes"
    )
    changes = policy_changes(old.policy, new.policy, columns=new.columns)
    for line in changes or ["nothing changed (the same policy, as a new version)"]:
        typer.echo(f"  {line}")
