"""The key ceremony: ``node init``, ``member init``, ``consortium assemble|sign|verify``.

Every command runs on the machine of the organisation it is for and writes only that
organisation's keys; what crosses between organisations is public (descriptors, the
consortium file and its signatures).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, cast

import typer

consortium_app = typer.Typer(
    name="consortium",
    help="Assemble the consortium file from public descriptors; sign and verify it.",
    no_args_is_help=True,
    add_completion=False,
)
member_app = typer.Typer(
    name="member",
    help="A member's own Ed25519 key, made on the member's machine.",
    no_args_is_help=True,
    add_completion=False,
)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def node_init(
    directory: Annotated[Path, typer.Argument(help="The node folder to create.")],
    node_id: Annotated[str, typer.Option("--id", help="P0, P1 or P2, as agreed.")],
    organisation: Annotated[str, typer.Option("--org", help="The organisation running it.")],
    advertise: Annotated[
        str,
        typer.Option(
            "--advertise", help="host[:port] clients dial for the API (default port 7340)."
        ),
    ],
    advertise_peer: Annotated[
        str | None,
        typer.Option("--advertise-peer", help="host[:port] the other nodes dial (port 7341)."),
    ] = None,
    bind: Annotated[
        str | None,
        typer.Option("--bind", help="addr[:port] the API listens on (default 0.0.0.0)."),
    ] = None,
    bind_peer: Annotated[
        str | None, typer.Option("--bind-peer", help="addr[:port] the peer channel listens on.")
    ] = None,
    csr: Annotated[
        bool,
        typer.Option(
            "--csr", help="Write a CSR for the organisation's CA, not a self-signed cert."
        ),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing node.")] = False,
) -> None:
    """Make a node folder with the node's own TLS key; print its public descriptor.

    Parameters
    ----------
    directory
        The node folder (layout in ``docs/operator-guide.md``).
    node_id, organisation, advertise, advertise_peer, bind, bind_peer, csr, force
        See the options.
    """
    from ..consortium.node_folder import (
        DEFAULT_API_PORT,
        DEFAULT_PEER_PORT,
        init_node,
        parse_address,
        parse_node_id,
    )
    from ..errors import SharelakeError

    try:
        nid = parse_node_id(node_id)
        adv = parse_address(advertise, DEFAULT_API_PORT)
        adv_peer = parse_address(advertise_peer, DEFAULT_PEER_PORT) if advertise_peer else None
        b = parse_address(bind, adv[1]) if bind else None
        bp = (
            parse_address(bind_peer, (adv_peer or (adv[0], DEFAULT_PEER_PORT))[1])
            if bind_peer
            else None
        )
        made = init_node(
            directory,
            node_id=nid,
            organisation=organisation,
            advertise=adv,
            advertise_peer=adv_peer,
            bind=b,
            bind_peer=bp,
            csr=csr,
            force=force,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    except SharelakeError as exc:
        raise _fail(str(exc)) from None
    if made.csr_path is not None:
        typer.echo(f"P{nid}: key and certificate request written to {made.directory}")
        typer.echo(f"have your organisation's CA sign {made.csr_path}, then run:")
        typer.echo(f"  sharelake node import-cert {directory} --cert NODE.pem --ca CA.pem")
        return
    typer.echo(f"P{nid}: node folder {made.directory}")
    typer.echo((made.directory / "descriptor.toml").read_text(), nl=False)
    typer.echo(
        f"# send {made.directory / 'descriptor.toml'} (public) to whoever assembles the "
        "consortium; tls/node-key.pem never leaves this folder"
    )


def node_import_cert(
    directory: Annotated[Path, typer.Argument(help="A node folder made with --csr.")],
    cert: Annotated[Path, typer.Option("--cert", help="The certificate the CA issued.")],
    ca: Annotated[Path, typer.Option("--ca", help="The organisation's CA certificate.")],
) -> None:
    """Complete a --csr node folder with its certificate; print its public descriptor.

    Parameters
    ----------
    directory, cert, ca
        See the options.
    """
    from ..consortium.node_folder import import_node_cert
    from ..errors import SharelakeError

    try:
        import_node_cert(directory, cert, ca)
    except SharelakeError as exc:
        raise _fail(str(exc)) from None
    typer.echo((directory / "descriptor.toml").read_text(), nl=False)


@member_app.command("init")
def member_init(
    name: Annotated[str, typer.Option("--name", help="The member's name, e.g. police.")],
    roles: Annotated[
        str, typer.Option("--roles", help="Comma-separated: provider, analyst, approver, node.")
    ],
    organisation: Annotated[
        str | None, typer.Option("--org", help="Its organisation (default: the name).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Where to write the key files.")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Replace an existing key.")] = False,
) -> None:
    """Make a member's Ed25519 key here: NAME.key (0600) and NAME.member.toml (public).

    Parameters
    ----------
    name, roles, organisation, out, force
        See the options.
    """
    from ..consortium.members import ROLES, Role
    from ..consortium.node_folder import init_member
    from ..errors import SharelakeError

    wanted = [r.strip() for r in roles.replace("+", ",").split(",") if r.strip()]
    bad = [r for r in wanted if r not in ROLES]
    if bad or not wanted:
        raise typer.BadParameter(f"roles must be some of {', '.join(ROLES)}", param_hint="--roles")
    try:
        key, desc, _ = init_member(
            name, organisation or name, frozenset(cast(list[Role], wanted)), out, force=force
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    except SharelakeError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"private key {key} (0600; keep it on this machine)")
    typer.echo(f"public descriptor {desc}: send it to whoever assembles the consortium")
    typer.echo(desc.read_text(), nl=False)


@consortium_app.command("assemble")
def assemble(
    name: Annotated[str, typer.Option("--name", help="The consortium's name.")],
    nodes: Annotated[
        list[Path], typer.Option("--node", help="A node's descriptor.toml (three of them).")
    ],
    members: Annotated[
        list[Path], typer.Option("--member", help="A member's NAME.member.toml (repeat).")
    ],
    out: Annotated[Path, typer.Option("--out", help="The file to write.")] = Path(
        "consortium.toml"
    ),
    founders: Annotated[
        str | None,
        typer.Option(
            "--founders", help="Organisations that must sign (default: all with an approver)."
        ),
    ] = None,
) -> None:
    """Build an unsigned consortium.toml from the public descriptors.

    Parameters
    ----------
    name, nodes, members, out, founders
        See the options.
    """
    from ..consortium.founding import assemble as build
    from ..consortium.node_folder import read_member_descriptor, read_node_descriptor
    from ..errors import SharelakeError

    try:
        cons = build(
            name,
            [read_node_descriptor(p) for p in nodes],
            [read_member_descriptor(p) for p in members],
            founders=[f.strip() for f in founders.split(",")] if founders else None,
        )
        cons.save(out)
    except SharelakeError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"wrote {out}: founders {', '.join(cons.founders)} must each sign it with")
    typer.echo(f"  sharelake consortium sign {out} --as MEMBER --key MEMBER.key")


@consortium_app.command("sign")
def sign(
    file: Annotated[Path, typer.Argument(help="The consortium.toml to sign.")],
    member: Annotated[str, typer.Option("--as", help="An approver of your organisation.")],
    key: Annotated[Path, typer.Option("--key", help="That member's private key file.")],
) -> None:
    """Add your organisation's signature to a consortium file (in place).

    Parameters
    ----------
    file, member, key
        See the options.
    """
    from ..consortium.founding import add_signature, missing_founders
    from ..consortium.keys import load_private_key
    from ..consortium.members import Consortium
    from ..errors import SharelakeError

    try:
        cons = add_signature(Consortium.load(file), member, load_private_key(key))
        cons.save(file)
        missing = missing_founders(Consortium.load(file))
    except SharelakeError as exc:
        raise _fail(str(exc)) from None
    org = cons.members[member].organisation
    rest = f"still to sign: {', '.join(missing)}" if missing else "every founder has signed"
    typer.echo(f"{file}: signed for {org} by {member}; {rest}")


@consortium_app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="The consortium.toml to check.")],
) -> None:
    """Check a consortium file and its signatures; exit 1 naming who has not signed.

    Parameters
    ----------
    file
        The file.
    """
    from ..consortium.founding import check_founders_signed
    from ..consortium.members import Consortium
    from ..errors import SharelakeError

    try:
        cons = Consortium.load(file)
        check_founders_signed(cons)
    except SharelakeError as exc:
        raise _fail(str(exc)) from None
    typer.echo(
        f"{file}: consortium {cons.name!r} (revision {cons.revision}) signed by every founder "
        f"({', '.join(cons.founders)})"
    )
