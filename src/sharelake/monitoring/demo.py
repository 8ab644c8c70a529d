"""The monitoring demo: three local nodes, four organisations, four analyses, one report.

:func:`run_demo` starts three node processes with TLS (:class:`sharelake.LocalCluster`)
in a temporary consortium, generates the synthetic lists (:mod:`.synth`), validates them
against the data model, computes each organisation's match keys on "its own machine",
uploads the tables with client-side secret sharing (progress bars) under each owner's
policy (the key tables with their linkage encodings, computed at the organisation),
records the owners' approvals each analysis needs, runs the analyses as the members who
receive their results, stops the nodes and writes ``report.html`` and ``report.json``
(:mod:`.report`). Beside every released figure the report shows the plaintext
computation on the same data and the generator's ground truth; its evaluation section
(:mod:`.evaluation`, possible only on synthetic data) measures the persons the linkage
found against the generator's.

Examples
--------
>>> summary = run_demo("out", scale=0.2)  # doctest: +SKIP
>>> summary["report_html"]  # doctest: +SKIP
'out/report.html'
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..client import connect
from ..consortium.cluster import Deadlines, MemberSpec
from ..governance.audit import compare_nodes, read_entries, verify_chain
from ..node.local import LocalCluster
from .analyses import (
    KEY_COLUMNS,
    LINKAGE_TIMEOUT,
    NAME_COLUMNS,
    AnalysisResult,
    Linkage,
    PlainLake,
    SecureLake,
    keys_table,
    modus_operandi,
    name_list_comparison,
    overlap_table,
    policy_for,
    population_estimate,
    upload_frames,
    upload_schema,
)
from .evaluation import linkage_quality
from .model import validate_frame
from .report import write_report
from .synth import LABELS, ORGANISATIONS, Names, generate

__all__ = ["ANALYST", "run_analyses", "run_demo"]

ANALYST = "analyst"
"""The consortium's analyst (e.g. a national rapporteur) who receives the statistics."""


def run_analyses(lake: Any, *, k: int = 5) -> tuple[list[AnalysisResult], Any]:
    """Run the four analyses on ``lake``; returns the results and the MSE result."""
    first = name_list_comparison(lake, counts_only=("police",))
    second = overlap_table(lake, analyst=ANALYST)
    third, mse = population_estimate(second)
    fourth = modus_operandi(lake, k=k, analyst=ANALYST)
    return [first, second, third, fourth], mse


def _audit_summary(cluster_dir: Path) -> dict[str, Any]:
    paths = sorted(cluster_dir.glob("**/audit.jsonl"))
    nodes = []
    for p in paths:
        entries = read_entries(p)
        kinds: dict[str, int] = {}
        for e in entries:
            key = f"{e.get('kind', e.get('event', '?'))}:{e.get('decision', '') or 'ok'}"
            kinds[key] = kinds.get(key, 0) + 1
        nodes.append(
            {
                "log": p.parent.parent.name if p.parent.name == "data" else p.parent.name,
                "entries": len(entries),
                "chain_problems": verify_chain(p),
                "by_kind": dict(sorted(kinds.items())),
            }
        )
    agree = compare_nodes(paths) if len(paths) == 3 else ["fewer than three audit logs found"]
    return {"nodes": nodes, "nodes_agree": not agree, "disagreements": agree}


DEMO_DEADLINES = Deadlines(peer_receive=600.0, peer_setup=60.0, query=LINKAGE_TIMEOUT)
"""The demo's own nodes wait longer than a fresh consortium's defaults: the k-list linkage
is one query of minutes (hours at ``--scale 25``), with long local steps between its
messages on a busy two-core machine."""


@contextlib.contextmanager
def _cluster(members: Any, rtt: float | None = None) -> Iterator[Any]:
    cluster = LocalCluster(
        members=members,
        rtt=rtt or None,
        start_deadline=120.0,
        deadlines=DEMO_DEADLINES,
    )
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def run_demo(
    out_dir: str | Path,
    scale: float = 1.0,
    *,
    seed: int = 0,
    k: int = 5,
    secure: bool = True,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    rtt: float | None = None,
    cluster: Any = None,
    linkage: Linkage = "fuzzy",
    names: Names = "uniform",
) -> dict[str, Any]:
    """Run the whole monitoring demo and write ``report.html`` and ``report.json``.

    Parameters
    ----------
    out_dir
        Where the report goes (created).
    scale
        Size of the synthetic population (1: about 3,100 records; 25: about 100,000).
    seed
        Seed of the synthetic data.
    k
        Minimum group size every owner sets in its policy.
    secure
        Run the analyses on three local nodes (default); ``False`` runs only the
        plaintext twin (for quick looks at the report; the report says so).
    progress
        Show progress bars for the uploads.
    log
        Where to send progress lines (default: print).
    rtt
        Round-trip time in seconds of a simulated WAN between the nodes and between the
        client and the nodes (latency relays, :mod:`sharelake.net.relay`).
    cluster
        Three nodes already running elsewhere (on other hosts): an object with
        ``consortium_path`` (members' keys in ``members/`` beside it) and ``dir``
        (where to look for audit logs); the demo then starts no nodes of its own.
    linkage
        How the analyses find persons: ``"fuzzy"`` (default) k-list record linkage
        inside MPC on the names' encodings (weighted scorer, :data:`LINK_PARAMS`),
        ``"probabilistic"`` the same with the Fellegi-Sunter scorer; ``"key"`` equal
        ``person_key``
        (normalised names and birth year; faster, splits about 2% of the persons).
    names
        How the generator draws names (:func:`sharelake.monitoring.synth.generate`):
        ``"uniform"`` (default) or ``"realistic"`` (a few names cover 15-20% of a
        nationality: more namesakes).

    Returns
    -------
    dict
        Paths of the reports, timings and the headline figures.
    """
    say = log or print
    t_start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    say(f"generating synthetic lists (seed {seed}, scale {scale:g}) ...")
    lake = generate(seed=seed, scale=scale, names=names)
    for org, df in lake.frames.items():
        validate_frame(df, source=f"{org}.csv")
    frames = upload_frames(lake.frames)  # match keys computed at each organisation
    people = {o: df[list(NAME_COLUMNS)] for o, df in lake.frames.items()}
    say(f"plaintext twin ({linkage} linkage) ...")
    t_twin = time.perf_counter()
    plain = PlainLake(frames, people=people, linkage=linkage)
    plain_results, plain_mse = run_analyses(plain, k=k)
    timings: dict[str, float] = {"plaintext_twin": time.perf_counter() - t_twin}
    uploads: list[dict[str, Any]] = []
    approvals: list[dict[str, Any]] = []
    audit: dict[str, Any] = {}
    if secure:
        members = [
            MemberSpec(o, o, frozenset({"provider", "approver", "analyst"})) for o in ORGANISATIONS
        ] + [MemberSpec(ANALYST, ANALYST, frozenset({"analyst"}))]
        if cluster is not None:
            results, mse, uploads, approvals, audit = _secure_part(
                cluster, frames, people, linkage, k, progress, say, timings
            )
        else:
            say("starting three local nodes with TLS ...")
            t0 = time.perf_counter()
            with _cluster(members, rtt) as local:
                timings["start_nodes"] = time.perf_counter() - t0
                results, mse, uploads, approvals, audit = _secure_part(
                    local, frames, people, linkage, k, progress, say, timings
                )
            say("nodes stopped")
    else:
        results, mse = plain_results, plain_mse
    t0 = time.perf_counter()
    evaluation = linkage_quality(lake, plain, estimate_total=mse.total)
    timings["evaluation"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    paths = write_report(
        out,
        lake=lake,
        results=results,
        mse=mse,
        plain=plain_results,
        plain_mse=plain_mse,
        uploads=uploads,
        approvals=approvals,
        audit=audit,
        labels=LABELS,
        timings=timings,
        meta={
            "seed": seed,
            "scale": scale,
            "k": k,
            "secure": secure,
            "rtt": rtt,
            "linkage": linkage,
            "names": names,
        },
        evaluation=evaluation,
    )
    timings["report"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_start
    say(f"wrote {paths['html']} and {paths['json']} in {timings['total']:.1f} s")
    return {
        "report_html": str(paths["html"]),
        "report_json": str(paths["json"]),
        "timings": timings,
        "estimate": mse.total,
        "interval": mse.interval,
        "truth": lake.truth.population,
        "records": lake.records,
        "evaluation": evaluation,
    }


def _secure_part(
    cluster: Any,
    frames: dict[str, Any],
    people: dict[str, Any],
    linkage: Linkage,
    k: int,
    progress: bool,
    say: Callable[[str], None],
    timings: dict[str, float],
) -> tuple[list[AnalysisResult], Any, list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    sessions = {m: connect(cluster.consortium_path, m) for m in (*frames, ANALYST)}
    try:
        t0 = time.perf_counter()
        uploads = []
        for org, df in frames.items():
            say(f"{org}: secret-sharing and uploading {len(df)} records ...")
            res = sessions[org].upload(
                df,
                org,
                schema=upload_schema(),
                policy=policy_for(org, k=k),
                replace=True,  # a demo run again replaces its own tables
                progress=progress,
            )
            uploads.append(
                {"table": org, "rows": res.rows, "seconds": res.seconds, "columns": len(df.columns)}
            )
            kt = keys_table(org)
            key_schema = [s for s in upload_schema() if s.name in KEY_COLUMNS]
            if linkage != "key":  # a person table: the names' encodings, not the names
                say(f"{org}: encoding its names and uploading its key table ...")
                res = sessions[org].upload_people(
                    df[list(KEY_COLUMNS)].join(people[org]),
                    kt,
                    schema=key_schema,
                    policy=policy_for(org, keys=True),
                    replace=True,
                    progress=progress,
                )
            else:
                res = sessions[org].upload(
                    df[list(KEY_COLUMNS)],
                    kt,
                    schema=key_schema,
                    policy=policy_for(org, keys=True),
                    replace=True,
                    progress=progress,
                )
            uploads.append(
                {"table": kt, "rows": res.rows, "seconds": res.seconds, "columns": len(res.schema)}
            )
        timings["uploads"] = time.perf_counter() - t0
        lake = SecureLake(sessions, orgs=tuple(frames), analyst=ANALYST, linkage=linkage)
        t0 = time.perf_counter()
        say("running the four analyses under MPC ...")
        results, mse = run_analyses(lake, k=k)
        timings["analyses"] = time.perf_counter() - t0
        audit = _audit_summary(Path(cluster.dir))
        return results, mse, uploads, lake.approvals, audit
    finally:
        for s in sessions.values():
            s.close()
