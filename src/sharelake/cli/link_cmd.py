"""``sharelake link LEFT RIGHT --as MEMBER --consortium FILE --out CSV [--reveal] [--mode]``.

Links two person tables (uploaded with ``session.upload_people``) inside MPC and writes
what the reveal mode releases to a CSV: ``pairs`` -> ``left_record_id,right_record_id``
(the first two columns); ``own`` -> ``record_id,lists,matches``; ``count`` ->
``matches``. A reveal mode the tables' policies forbid is refused by the nodes before
anything runs (exit status 3).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import SharelakeError
from .errors import fail


def link(
    left: Annotated[str, typer.Argument(help="Left person table (yours, for --reveal own).")],
    right: Annotated[str, typer.Argument(help="Right person table.")],
    member: Annotated[str, typer.Option("--as", help="Your member name (an analyst).")],
    consortium: Annotated[Path, typer.Option("--consortium", help="consortium.toml of the lake.")],
    out: Annotated[Path, typer.Option("--out", help="CSV file to write the result to.")],
    reveal: Annotated[str, typer.Option("--reveal", help="pairs, own (default) or count.")] = "own",
    mode: Annotated[
        str, typer.Option("--mode", help="probabilistic (default), exact, fuzzy or hybrid.")
    ] = "probabilistic",
    blocking: Annotated[
        str,
        typer.Option(
            "--blocking",
            help="auto (default: blocks above 2,000 x 2,000), none or sorted_neighbourhood.",
        ),
    ] = "auto",
    window: Annotated[
        int | None,
        typer.Option("--window", help="Window of the sorted-neighbourhood blocking.", min=1),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option("--key", help="Your private key (default: members/MEMBER.key)."),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds the nodes may take.", min=1.0)
    ] = 600.0,
    purpose: Annotated[
        str | None,
        typer.Option("--purpose", help="The purpose it serves (from the consortium file)."),
    ] = None,
) -> None:
    """Link two person tables privately and write the released result to a CSV.

    Only match bits are opened inside MPC; names, encodings and scores never are.
    \f

    Parameters
    ----------
    left, right
        The person tables.
    member
        The analyst asking.
    consortium
        The consortium file.
    out
        Where the CSV goes.
    reveal
        What is released: ``pairs``, ``own`` or ``count``.
    mode
        ``exact`` (any match key agrees), ``fuzzy`` (score and mutual best) or
        ``hybrid`` (either).
    blocking, window
        Which pairs are scored (LINKAGE.md): ``none`` every pair,
        ``sorted_neighbourhood`` each record and its next ``window`` records per
        blocking key, ``auto`` chooses by the tables' sizes.
    key
        The member's private key file.
    timeout
        Seconds per node request (the whole linkage runs in one).
    purpose
        The purpose the linkage serves; every node refuses one a table does not allow.
    """
    from rich.console import Console

    from ..client.linkage import LinkageError
    from ..client.session import NodePolicyError, connect

    console = Console(stderr=True)
    if reveal not in ("pairs", "own", "count"):
        raise typer.BadParameter("must be pairs, own or count", param_hint="--reveal")
    if mode not in ("exact", "fuzzy", "hybrid", "probabilistic"):
        raise typer.BadParameter(
            "must be probabilistic, exact, fuzzy or hybrid", param_hint="--mode"
        )
    if blocking not in ("auto", "none", "sorted_neighbourhood"):
        raise typer.BadParameter(
            "must be auto, none or sorted_neighbourhood", param_hint="--blocking"
        )
    try:
        with connect(consortium, member, key=key, timeout=timeout, purpose=purpose) as session:
            df = session.link(
                left,
                right,
                mode=mode,
                reveal=reveal,
                blocking=blocking,
                window=window,
                progress=True,
            )
    except LinkageError as exc:
        fail(console, "refused, nothing was sent", exc, 2)
    except NodePolicyError as exc:
        fail(console, "refused by policy", exc, 3)
    except SharelakeError as exc:
        fail(console, "link failed", exc, 1)
    df.to_csv(out, index=False)
    if reveal == "pairs":
        what = f"{len(df)} matched pairs"
    elif reveal == "own":
        what = f"{len(df)} of your records matched"
    else:
        what = f"{int(df['matches'].iloc[0]) if len(df) else 0} matched pairs (count only)"
    typer.echo(f"{what} ({mode}, {df.attrs.get('seconds', 0.0):.1f} s); wrote {out}")
