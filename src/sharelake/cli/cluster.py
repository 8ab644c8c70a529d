"""``sharelake cluster``: set up a local or real consortium.

``cluster init`` lives here. ``cluster up`` (run the three nodes until interrupted) is
added by the node service in ``cli/cluster_up.py``: it defines ``up`` on
:data:`cluster_app`, and one import of it at the end of this module registers it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

cluster_app = typer.Typer(
    name="cluster",
    help="Create and run a consortium: CA, node certificates, member keys, node configs.",
    no_args_is_help=True,
    add_completion=False,
)


def _ports(text: str | None, option: str) -> list[int] | None:
    if text is None:
        return None
    try:
        ports = [int(p) for p in text.split(",")]
    except ValueError:
        raise typer.BadParameter(
            "expected three comma-separated ports", param_hint=option
        ) from None
    if len(ports) != 3:
        raise typer.BadParameter("expected three comma-separated ports", param_hint=option)
    return ports


@cluster_app.command("init")
def init(
    directory: Annotated[Path, typer.Argument(help="Directory to write the consortium into.")],
    host: Annotated[
        str,
        typer.Option("--host", help="Host of all three nodes, or three comma-separated hosts."),
    ] = "127.0.0.1",
    base_port: Annotated[
        int | None,
        typer.Option(
            "--base-port",
            help="API ports BASE..BASE+2, peer ports BASE+3..BASE+5 (default: free ports).",
        ),
    ] = None,
    api_ports: Annotated[
        str | None, typer.Option("--api-ports", help="Three comma-separated API ports.")
    ] = None,
    peer_ports: Annotated[
        str | None, typer.Option("--peer-ports", help="Three comma-separated peer ports.")
    ] = None,
    members: Annotated[
        str | None,
        typer.Option(
            "--members",
            help="Comma-separated name:organisation:role1+role2 (roles: provider, analyst, "
            "approver, node). Default: ngo_a, ngo_b, police, hotline as provider+approver; "
            "analyst as analyst.",
        ),
    ] = None,
    name: Annotated[str, typer.Option("--name", help="The consortium's name.")] = (
        "sharelake-local"
    ),
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing consortium in DIRECTORY.")
    ] = False,
) -> None:
    """Write a consortium: CA, node certificates and configs, member keys, consortium.toml.
    \f

    Parameters
    ----------
    directory
        Where to write; created if needed.
    host
        One host for the three nodes, or ``h0,h1,h2``.
    base_port
        First of six consecutive ports (API of P0-P2, then peer of P0-P2).
    api_ports, peer_ports
        Three ports each; override ``base_port``.
    members
        The members to create, ``name:organisation:role1+role2,...``.
    name
        The consortium's name.
    force
        Overwrite an existing consortium (node data directories are kept).
    """
    from rich.console import Console
    from rich.table import Table

    from ..consortium.cluster import (
        ClusterExistsError,
        init_cluster,
        member_key_path,
        node_config_path,
        parse_member_specs,
    )
    from ..consortium.members import ROLES, Consortium

    hosts = [h.strip() for h in host.split(",")]
    if len(hosts) not in (1, 3) or not all(hosts):
        raise typer.BadParameter(
            "give one host or three comma-separated hosts", param_hint="--host"
        )
    try:
        specs = parse_member_specs(members) if members is not None else None
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--members") from None
    console = Console(width=max(Console().width, 120))
    try:
        path = init_cluster(
            directory,
            members=specs,
            host=hosts[0] if len(hosts) == 1 else hosts,
            base_port=base_port,
            api_ports=_ports(api_ports, "--api-ports"),
            peer_ports=_ports(peer_ports, "--peer-ports"),
            name=name,
            force=force,
        )
    except ClusterExistsError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    except ValueError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None

    cons = Consortium.load(path)
    root = path.parent
    console.print(f"[bold]consortium {cons.name!r}[/bold] written to {root}")
    console.print(f"  {path.relative_to(root)}  (public: share it with every member)")
    if cons.ca_cert_path is not None:
        console.print(f"  {cons.ca_cert_path.relative_to(root)}  CA certificate")
    console.print("  ca/ca-key.pem  CA private key (0600; keep it offline)")

    nodes = Table(title="nodes")
    for col in ("node", "api", "peer", "config", "certificate SHA-256"):
        nodes.add_column(col)
    for n in cons.nodes:
        nodes.add_row(
            n.name,
            f"{n.api_host}:{n.api_port}",
            f"{n.peer_host}:{n.peer_port}",
            str(node_config_path(root, n.id).relative_to(root)),
            f"{n.cert_fingerprint[:16]}...",
        )
    console.print(nodes)

    people = Table(title="members")
    for col in ("member", "organisation", "roles", "private key (0600)"):
        people.add_column(col)
    for m in cons.members.values():
        people.add_row(
            m.name,
            m.organisation,
            ", ".join(r for r in ROLES if r in m.roles),
            str(member_key_path(root, m.name).relative_to(root)),
        )
    console.print(people)
    console.print(
        "Give each member its key file and each node operator its nodes/P{i} directory; "
        f"start the nodes with: sharelake cluster up {directory}"
    )


# `cluster up` is defined in cli/cluster_up.py (node service); importing it registers it.
from . import cluster_up  # noqa: E402, F401
