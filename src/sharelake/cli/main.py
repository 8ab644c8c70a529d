"""The ``sharelake`` command: ``version``, ``bench`` and ``demo``.

Heavy modules (numpy protocols, rich tables, MPyC) are imported inside the commands,
so ``sharelake --help`` and ``sharelake version`` stay fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, cast

import typer

from .._version import __version__
from .ceremony_cmd import consortium_app, member_app
from .cluster import cluster_app
from .estimate_cmd import estimate as estimate_command
from .fsck_cmd import fsck as fsck_command
from .governance_cmd import approvals_app, audit_app
from .help_format import ReadableGroup
from .link_cmd import link as link_command
from .node_cmd import node_app
from .policy_cmd import policy_app
from .portal_cmd import portal as portal_command
from .privacy_cmd import erase as erase_command
from .report_cmd import report_app
from .schema_cmd import schema_app
from .upload_cmd import upload as upload_command

app = typer.Typer(
    name="sharelake",
    cls=ReadableGroup,
    help="A virtual data lake on three-party secure multi-party computation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="markdown",
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"sharelake {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the sharelake version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """A virtual data lake on three-party secure multi-party computation."""


app.add_typer(cluster_app, name="cluster")
app.add_typer(node_app, name="node")
app.add_typer(member_app, name="member")
app.add_typer(consortium_app, name="consortium")
app.add_typer(approvals_app, name="approvals")
app.add_typer(audit_app, name="audit")
app.add_typer(policy_app, name="policy")
app.add_typer(schema_app, name="schema")
app.command("erase")(erase_command)
app.command("upload")(upload_command)
app.command("link")(link_command)
app.command("fsck")(fsck_command)
app.command("portal")(portal_command)
app.add_typer(report_app, name="report")
app.command("estimate")(estimate_command)


@app.command()
def version() -> None:
    """Print the sharelake version."""

    typer.echo(f"sharelake {__version__}")


@app.command()
def bench(
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write every record to this JSON file.")
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Sizes up to 1e5 only.")] = False,
    ops: Annotated[
        str | None, typer.Option("--ops", help="Comma-separated operations (default: all).")
    ] = None,
    sizes: Annotated[
        str | None, typer.Option("--sizes", help="Comma-separated sizes, e.g. 1e4,1e5.")
    ] = None,
    no_mpyc: Annotated[bool, typer.Option("--no-mpyc", help="Skip the MPyC baseline.")] = False,
    transport: Annotated[
        str, typer.Option("--transport", help="tls (three processes) or memory (threads).")
    ] = "tls",
    mpyc_timeout: Annotated[
        float, typer.Option("--mpyc-timeout", help="Seconds per MPyC run before giving up.")
    ] = 60.0,
    rtt: Annotated[
        str | None,
        typer.Option(
            "--rtt",
            help="Round-trip times of a simulated WAN between the nodes, e.g. 10ms,50ms "
            "(the secure suite runs once per value; records get an `rtt` field).",
        ),
    ] = None,
    bandwidth: Annotated[
        str | None,
        typer.Option("--bandwidth", help="With --rtt: a cap per direction, e.g. 1Gbit."),
    ] = None,
    security: Annotated[
        str,
        typer.Option(
            "--security",
            help="Security levels to run the secure suite at, side by side "
            "(malicious: products and AND gates checked; semi-honest).",
        ),
    ] = "malicious,semi-honest",
) -> None:
    """Run the benchmark suite: sharelake, plaintext numpy and MPyC, side by side.
    \f

    Parameters
    ----------
    json_file
        Where to write the records (a JSON list of ``{system, op, n, seconds, rounds,
        bytes, ops_per_s, note}``); nothing is written when omitted.
    quick
        Limit the sizes to at most 1e5.
    ops
        Operations to run, e.g. ``mul,lt``; every registered one by default.
    sizes
        Sizes to run, e.g. ``1e4,1e5``; 1e4, 1e5 and 1e6 by default.
    no_mpyc
        Do not run the MPyC baseline.
    transport
        ``tls``: three node processes over loopback mutual TLS (the real figure);
        ``memory``: three threads in this process (for quick checks).
    mpyc_timeout
        Each MPyC run is stopped after this many seconds; larger sizes of that
        operation are then skipped and recorded with ``seconds: null``.
    rtt
        Round-trip times (``10ms,50ms``): latency relays between the node processes
        (:mod:`sharelake.net.relay`); the plaintext and MPyC baselines run once.
    bandwidth
        Bits per second of each relayed direction (``1Gbit``, ``100Mbit``).
    security
        ``malicious,semi-honest`` (default: both, in the same run), or one of them.
    """
    from rich.console import Console

    from ..bench.run import (
        DEFAULT_SIZES,
        QUICK_MAX,
        default_ops,
        parse_ops,
        parse_sizes,
        render_table,
        run_bench,
        write_json,
    )
    from ..mpc.checks import SECURITY_LEVELS, Security

    if transport not in ("tls", "memory"):
        raise typer.BadParameter("must be tls or memory", param_hint="--transport")
    try:
        op_list = parse_ops(ops) if ops else default_ops()
        size_list = parse_sizes(sizes) if sizes else list(DEFAULT_SIZES)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    from ..net.relay import parse_bandwidth, parse_duration

    try:
        rtts = [parse_duration(t) for t in rtt.split(",") if t.strip()] if rtt else []
        cap = parse_bandwidth(bandwidth) if bandwidth else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--rtt/--bandwidth") from exc
    if cap is not None and not rtts:
        raise typer.BadParameter("--bandwidth needs --rtt", param_hint="--bandwidth")
    if rtts and transport != "tls":
        raise typer.BadParameter("--rtt needs --transport tls", param_hint="--rtt")
    if quick:
        size_list = [n for n in size_list if n <= QUICK_MAX] or [min(size_list)]
    levels = [t.strip() for t in security.split(",") if t.strip()]
    bad = [t for t in levels if t not in SECURITY_LEVELS]
    if bad or not levels:
        raise typer.BadParameter(
            f"must be a list of {', '.join(SECURITY_LEVELS)}; got {security!r}",
            param_hint="--security",
        )
    console = Console(width=max(Console().width, 120))
    records = run_bench(
        op_list,
        size_list,
        transport=transport,
        with_mpyc=not no_mpyc,
        mpyc_timeout=mpyc_timeout,
        console=Console(stderr=True),
        rtts=rtts,
        bandwidth=cap,
        securities=[cast(Security, t) for t in levels],
    )
    console.print(render_table(records))
    if json_file is not None:
        write_json(json_file, records)
        console.print(f"wrote {len(records)} records to {json_file}")


@app.command()
def demo(
    out: Annotated[
        Path, typer.Option("--out", help="Directory for report.html and report.json.")
    ] = Path("sharelake-demo"),
    scale: Annotated[
        float | None,
        typer.Option(
            "--scale",
            help="Monitoring demo: population multiplier (1: ~3,100 records; 25: ~100,000 "
            "persons). With --engine: rows per column (default 10000).",
            min=0.0,
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic data.")] = 0,
    engine: Annotated[
        bool, typer.Option("--engine", help="Run the engine demonstration instead.")
    ] = False,
    transport: Annotated[
        str, typer.Option("--transport", help="--engine only: tls or memory (threads).")
    ] = "tls",
    rtt: Annotated[
        str | None,
        typer.Option("--rtt", help="A simulated WAN round trip between the nodes, e.g. 50ms."),
    ] = None,
    linkage: Annotated[
        str,
        typer.Option(
            "--linkage",
            help="Monitoring demo: how the analyses find persons: fuzzy (k-list record "
            "linkage inside MPC, default), probabilistic (the same with the Fellegi-Sunter "
            "scorer) or key (equal normalised names and birth year).",
        ),
    ] = "fuzzy",
    names: Annotated[
        str,
        typer.Option(
            "--names",
            help="Monitoring demo: how the synthetic names are drawn: uniform (default) or "
            "realistic (a few names cover 15-20% of a nationality: more namesakes).",
        ),
    ] = "uniform",
    plaintext: Annotated[
        bool,
        typer.Option(
            "--plaintext",
            help="Monitoring demo: start no nodes; every figure from the plaintext twin "
            "(the report says so). For looking at large scales quickly.",
        ),
    ] = False,
) -> None:
    """Run the human-trafficking monitoring demo on three local node processes over TLS.

    Starts three nodes, generates four organisations' synthetic lists, uploads them with
    client-side secret sharing, records the owners' approvals, runs the four monitoring
    analyses under MPC, stops the nodes and writes ``OUT/report.html`` and
    ``OUT/report.json``. ``--engine`` runs the engine demonstration instead (a client
    secret-shares two random columns, the nodes sort one and count the rows where x < y,
    the results are checked against plaintext and written to ``OUT/demo.json``).
    """
    from rich.console import Console

    if not engine:
        from ..monitoring.analyses import Linkage
        from ..monitoring.demo import run_demo as run_monitoring
        from ..monitoring.synth import Names

        console = Console(stderr=True)
        from ..net.relay import parse_duration

        try:
            rtt_s = parse_duration(rtt) if rtt else None
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--rtt") from None
        if linkage not in ("fuzzy", "probabilistic", "key"):
            raise typer.BadParameter("must be fuzzy, probabilistic or key", param_hint="--linkage")
        if names not in ("uniform", "realistic"):
            raise typer.BadParameter("must be uniform or realistic", param_hint="--names")
        summary = run_monitoring(
            out,
            scale=1.0 if scale is None else scale,
            seed=seed,
            log=console.print,
            rtt=rtt_s,
            linkage=cast(Linkage, linkage),
            names=cast(Names, names),
            secure=not plaintext,
        )
        lo, hi = summary["interval"]
        console.print(
            f"estimated victims: {summary['estimate']:,.0f} (95% interval {lo:,.0f}-{hi:,.0f}; "
            f"synthetic truth {summary['truth']:,})"
        )
        ev = summary["evaluation"]
        console.print(
            f"linkage ({ev['linkage']}) against the generator's truth: pairwise precision "
            f"{ev['precision']:.4f}, recall {ev['recall']:.4f}; distinct victims "
            f"{ev['distinct_persons']:,} (truth {ev['distinct_truth']:,}, "
            f"{ev['distinct_error']:+.2%}); estimate vs perfect linkage "
            f"{ev['estimate_vs_perfect']:+.2%}"
        )
        raise typer.Exit(0)
    from .engine_demo import run_demo

    if transport not in ("tls", "memory"):
        raise typer.BadParameter("must be tls or memory", param_hint="--transport")
    rows = 10_000 if scale is None else max(1, int(scale))
    ok = run_demo(
        out, scale=rows, transport=transport, console=Console(width=max(Console().width, 120))
    )
    raise typer.Exit(0 if ok else 1)


if __name__ == "__main__":
    app()
