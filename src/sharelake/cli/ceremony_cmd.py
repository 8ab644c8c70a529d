"""The key ceremony: ``node init``, ``member init``, ``consortium assemble|sign|verify``.

Every command runs on the machine of the organisation it is for and writes only that
organisation's keys; what crosses between organisations is public (descriptors, the
consortium file and its signatures).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, cast

import typer

from ..errors import SharelakeError

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
    \f

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
    \f

    Parameters
    ----------
    directory, cert, ca
        See the options.
    """
    from ..consortium.node_folder import import_node_cert

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
    \f

    Parameters
    ----------
    name, roles, organisation, out, force
        See the options.
    """
    from ..consortium.members import ROLES, Role
    from ..consortium.node_folder import init_member

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
    \f

    Parameters
    ----------
    name, nodes, members, out, founders
        See the options.
    """
    from ..consortium.founding import assemble as build
    from ..consortium.node_folder import read_member_descriptor, read_node_descriptor

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
    file: Annotated[Path, typer.Argument(help="The consortium.toml (or a proposal) to sign.")],
    member: Annotated[str, typer.Option("--as", help="An approver of your organisation.")],
    key: Annotated[Path, typer.Option("--key", help="That member's private key file.")],
    previous: Annotated[
        Path | None,
        typer.Option("--previous", help="For a change: the revision in force it replaces."),
    ] = None,
) -> None:
    """Add your signature to a consortium file (in place): a founder's, or an approver's.

    Revision 0 is signed by one approver of each founding organisation; a later revision
    (a membership change) by every approver of the revision before it (``--previous``).
    \f

    Parameters
    ----------
    file, member, key, previous
        See the options.
    """
    from ..consortium.changes import MembershipChangeError, check_change, sign_change
    from ..consortium.founding import add_signature, missing_founders
    from ..consortium.keys import load_private_key
    from ..consortium.members import Consortium

    try:
        cons = Consortium.load(file)
        k = load_private_key(key)
        if cons.revision == 0:
            cons = add_signature(cons, member, k)
            cons.save(file)
            missing = missing_founders(Consortium.load(file))
            rest = f"still to sign: {', '.join(missing)}" if missing else "every founder has signed"
        else:
            if previous is None:
                raise typer.BadParameter(
                    f"{file} is revision {cons.revision}: give the revision in force as --previous",
                    param_hint="--previous",
                )
            prev = Consortium.load(previous)
            cons = sign_change(cons, prev, member, k)
            cons.save(file)
            try:
                check_change(prev, Consortium.load(file))
                rest = "every approver has signed: apply it on each node"
            except MembershipChangeError as exc:
                rest = str(exc).split(" is ", 1)[-1]
    except SharelakeError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"{file}: signed by {member}; {rest}")


@consortium_app.command("propose")
def propose(
    current: Annotated[Path, typer.Argument(help="The consortium.toml in force.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the proposal.")],
    add_member: Annotated[
        Path | None, typer.Option("--add-member", help="A new member's NAME.member.toml.")
    ] = None,
    remove_member: Annotated[
        str | None, typer.Option("--remove-member", help="A member to remove.")
    ] = None,
    rotate_key: Annotated[
        Path | None,
        typer.Option("--rotate-key", help="A member's new NAME.member.toml (new key)."),
    ] = None,
    replace_node: Annotated[
        Path | None,
        typer.Option(
            "--replace-node", help="A node's new descriptor.toml (its old cert is revoked)."
        ),
    ] = None,
) -> None:
    """Write the next revision of the consortium file with one membership change, unsigned.
    \f

    Parameters
    ----------
    current, out, add_member, remove_member, rotate_key, replace_node
        See the options.
    """
    from ..consortium.changes import approvers, describe_change
    from ..consortium.changes import propose as make
    from ..consortium.members import Consortium
    from ..consortium.node_folder import read_member_descriptor, read_node_descriptor

    try:
        cur = Consortium.load(current)
        new = make(
            cur,
            add_member=read_member_descriptor(add_member) if add_member else None,
            remove_member=remove_member,
            rotate_key=read_member_descriptor(rotate_key) if rotate_key else None,
            replace_node=read_node_descriptor(replace_node) if replace_node else None,
        )
        new.save(out)
    except SharelakeError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"wrote {out}: {describe_change(cur, new)}")
    typer.echo(f"every approver must sign it: {', '.join(a.name for a in approvers(cur))}")
    typer.echo(f"  sharelake consortium sign {out} --previous {current} --as NAME --key NAME.key")


@consortium_app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="The consortium.toml to check.")],
) -> None:
    """Check a consortium file and its signatures; exit 1 naming who has not signed.
    \f

    Parameters
    ----------
    file
        The file.
    """
    from ..consortium.founding import check_founders_signed
    from ..consortium.members import Consortium

    try:
        cons = Consortium.load(file)
        check_founders_signed(cons)
    except SharelakeError as exc:
        raise _fail(str(exc)) from None
    typer.echo(
        f"{file}: consortium {cons.name!r} (revision {cons.revision}) signed by every founder "
        f"({', '.join(cons.founders)})"
    )


def node_apply_change(
    config: Annotated[Path, typer.Argument(help="The node's node.toml.")],
    proposal: Annotated[Path, typer.Argument(help="The signed next revision.")],
) -> None:
    """Check a membership change against this node's consortium file and put it in force.

    Every approver of the revision in force must have signed it. The old revision goes
    to the node's history (``DATA/consortium-history``), the change into its audit
    log. A running node uses the new revision after a restart.
    \f

    Parameters
    ----------
    config, proposal
        See the arguments.
    """
    from ..consortium.changes import apply_change
    from ..consortium.cluster import NodeConfig, audit_key_path
    from ..consortium.keys import load_private_key
    from ..governance.audit import AuditLog

    try:
        cfg = NodeConfig.load(config)
        akey = audit_key_path(cfg.key_path)  # the node signs its audit entries
        key = load_private_key(akey) if akey.exists() else None
        audit = AuditLog(cfg.data_dir / "audit.jsonl", node=cfg.id, key=key)
        try:
            new, what = apply_change(cfg.consortium_path, cfg.data_dir, proposal)
        except SharelakeError as exc:
            audit.append("membership", decision="refused", detail=str(exc))
            raise
        audit.append("membership", decision="applied", detail=what)
    except SharelakeError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"{cfg.name}: {what} applied; restart the node to use revision {new.revision}")
