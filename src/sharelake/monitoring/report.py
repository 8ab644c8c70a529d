"""``report.html`` and ``report.json``: the monitoring figures, their truth and their cost.

The HTML page is self-contained: charts are inline SVG drawn here, styles are inline, and
there is no script, font, image or stylesheet from anywhere else, so it opens offline and
leaks nothing when opened. The JSON file holds the same figures; because the data are
synthetic, it holds beside every released figure the plaintext computation on the same
data (``plaintext``) and the generator's ground truth (``truth``).

Examples
--------
>>> from sharelake.monitoring.synth import generate
>>> from sharelake.monitoring.analyses import PlainLake, upload_frames
>>> from sharelake.monitoring.demo import run_analyses
>>> lake = generate(seed=1, scale=0.1)
>>> results, mse = run_analyses(PlainLake(upload_frames(lake.frames)))
>>> paths = write_report("out", lake=lake, results=results, mse=mse, plain=results,
...                      plain_mse=mse)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .charts import bar_chart, esc, estimate_chart, heatmap, methods_chart, upset_chart
from .evaluation import perfect_estimate
from .model import DATA_MODEL_VERSION
from .mse import METHOD_LABELS, compare_methods, why_they_differ
from .synth import ORGANISATIONS

__all__ = ["bar_chart", "build_figures", "estimate_chart", "heatmap", "upset_chart", "write_report"]

# ---- figures ----------------------------------------------------------------------------


def _pattern_key(row: Mapping[str, Any], lists: Sequence[str]) -> str:
    return "".join("1" if bool(row[f"in_{o}"]) else "0" for o in lists)


def _by_name(results: Sequence[Any]) -> dict[str, Any]:
    return {r.name: r for r in results}


def _cost(r: Any) -> dict[str, Any]:
    c = r.cost
    return {
        "seconds": round(c.seconds, 3),
        "queries": c.queries,
        "rounds": c.rounds,
        "critical_rounds": c.critical_rounds,
        "bytes": c.bytes,
        "node_seconds": None if c.node_seconds is None else round(c.node_seconds, 3),
    }


def build_figures(
    *,
    lake: Any,
    results: Sequence[Any],
    mse: Any,
    plain: Sequence[Any],
    plain_mse: Any,
) -> dict[str, Any]:
    """Every released figure with its plaintext twin and the ground truth (report.json)."""

    res, pl, truth = _by_name(results), _by_name(plain), lake.truth
    lists = [o for o in ORGANISATIONS if o in lake.frames]
    # 1. name-list comparison
    nlc: dict[str, Any] = {}
    for org in lists:
        got, twin = (
            res["name_list_comparison"].released[org],
            pl["name_list_comparison"].released[org],
        )
        known = truth.known_to_others(org)
        if "record_id" in got.columns:
            nlc[org] = {
                "released_to": res["name_list_comparison"].recipients[org],
                "records": len(lake.frames[org]),
                "known_to_others": {
                    "released": len(got),
                    "plaintext": len(twin),
                    "truth": int((known > 0).sum()),
                },
                "by_number_of_others": {
                    str(n): {
                        "released": int((got["known_to"] == n).sum()),
                        "plaintext": int((twin["known_to"] == n).sum()),
                        "truth": int((known == n).sum()),
                    }
                    for n in range(1, len(lists))
                },
            }
        elif "known_to" in got.columns:  # counts only, per number of other lists
            rel = dict(zip(got["known_to"], got["records"], strict=True))
            pla = dict(zip(twin["known_to"], twin["records"], strict=True))
            nlc[org] = {
                "released_to": res["name_list_comparison"].recipients[org],
                "records": len(lake.frames[org]),
                "known_to_others": {
                    "released": int(sum(rel.values())),
                    "plaintext": int(sum(pla.values())),
                    "truth": int((known > 0).sum()),
                },
                "by_number_of_others": {
                    str(n): {
                        "released": int(rel.get(n, 0)),
                        "plaintext": int(pla.get(n, 0)),
                        "truth": int((known == n).sum()),
                    }
                    for n in range(1, len(lists))
                },
            }
        else:
            ids = truth.record_person[org]
            nlc[org] = {
                "released_to": res["name_list_comparison"].recipients[org],
                "records": len(lake.frames[org]),
                "counts": {
                    str(o): {
                        "released": int(n),
                        "plaintext": int(t),
                        "truth": int(np.isin(ids, truth.record_person[o]).sum()),
                    }
                    for o, n, t in zip(got["other"], got["records"], twin["records"], strict=True)
                },
            }
    # 2. overlap
    table, twin = res["overlap"].released["overlap"], pl["overlap"].released["overlap"]
    true_counts = {
        _pattern_key(r, lists): int(r["count"]) for r in truth.overlap.to_dict("records")
    }
    twin_counts = {_pattern_key(r, lists): int(r["count"]) for r in twin.to_dict("records")}
    overlap_rows = [
        {
            "pattern": _pattern_key(r, lists),
            "lists": [o for o in lists if r[f"in_{o}"]],
            "released": int(r["count"]),
            "plaintext": twin_counts.get(_pattern_key(r, lists), 0),
            "truth": true_counts.get(_pattern_key(r, lists), 0),
        }
        for r in table.to_dict("records")
    ]
    # 4. modus operandi
    mo: dict[str, Any] = {}
    for name, got in res["modus_operandi"].released.items():
        keys = [c for c in got.columns if c != "count"]
        twin_t = pl["modus_operandi"].released[name]
        tr = truth.crosstabs[name]

        def index(df: pd.DataFrame, keys: list[str] = keys) -> dict[tuple[str, ...], int]:
            return {
                tuple(str(v) for v in r[:-1]): int(r[-1])
                for r in df[[*keys, "count"]].itertuples(index=False)
            }

        ti, pi = index(tr), index(twin_t)
        mo[name] = {
            "keys": keys,
            "released_to": res["modus_operandi"].recipients[name],
            "cells": [
                {"key": list(key), "released": v, "plaintext": pi.get(key), "truth": ti.get(key, 0)}
                for key, v in index(got).items()
            ],
            "suppressed": res["modus_operandi"].suppressed[name],
            "suppressed_plaintext": pl["modus_operandi"].suppressed[name],
        }
    return {
        "name_list_comparison": nlc,
        "overlap": {
            "lists": lists,
            "released_to": res["overlap"].recipients["overlap"],
            "patterns": overlap_rows,
            "distinct_victims": {
                "released": int(table["count"].sum()),
                "plaintext": int(twin["count"].sum()),
                "truth": truth.observed,
            },
        },
        "population_estimate": {
            **mse.to_dict(),
            "plaintext": {"total": plain_mse.total, "interval": list(plain_mse.interval)},
            "truth": truth.population,
            "truth_inside_interval": bool(mse.interval[0] <= truth.population <= mse.interval[1]),
            "with_perfect_linkage": _perfect(truth.overlap),
            "methods": _methods(table, mse),
        },
        "modus_operandi": mo,
        "costs": {r.name: {"mode": r.mode, **_cost(r)} for r in results},
    }


def _methods(overlap: pd.DataFrame, default: Any) -> dict[str, Any]:
    """Every estimation method on the released overlap table, the default first."""

    table = overlap.astype({c: int for c in overlap.columns})
    others = tuple(m for m in ("stepwise", "aic", "bic", "bma") if m != default.method)
    results = [default, *compare_methods(table, methods=others)]  # type: ignore[arg-type]
    rows = [
        {
            "method": r.method,
            "label": METHOD_LABELS[r.method],
            "total": r.total,
            "interval": [r.interval[0], r.interval[1]],
            "interval_method": r.interval_method,
            "model": r.model_description,
        }
        for r in results
    ]
    return {"rows": rows, "why": why_they_differ(results)}


def _perfect(overlap: pd.DataFrame) -> dict[str, Any]:
    """MSE on the true overlap table: what the estimate would be with perfect linkage."""

    r = perfect_estimate(overlap)
    return {"total": r.total, "interval": list(r.interval), "model": r.model_description}


def write_report(
    out_dir: str | Path,
    *,
    lake: Any,
    results: Sequence[Any],
    mse: Any,
    plain: Sequence[Any],
    plain_mse: Any,
    uploads: Sequence[Mapping[str, Any]] = (),
    approvals: Sequence[Mapping[str, Any]] = (),
    audit: Mapping[str, Any] | None = None,
    labels: Mapping[str, str] | None = None,
    timings: Mapping[str, float] | None = None,
    meta: Mapping[str, Any] | None = None,
    evaluation: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write ``report.json`` and the self-contained ``report.html`` into ``out_dir``.

    ``evaluation``: the linkage measured against the generator's truth
    (:func:`sharelake.monitoring.evaluation.linkage_quality`), shown in its own section.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = build_figures(lake=lake, results=results, mse=mse, plain=plain, plain_mse=plain_mse)
    doc = {
        "sharelake_report": 1,
        "data_model_version": DATA_MODEL_VERSION,
        "meta": dict(meta or {}),
        "organisations": {
            o: {"label": (labels or {}).get(o, o), "records": len(df)}
            for o, df in lake.frames.items()
        },
        "uploads": list(uploads),
        "approvals": list(approvals),
        "released": {r.name: r.recipients for r in results},
        "audit": dict(audit or {}),
        "timings": {k: round(v, 3) for k, v in (timings or {}).items()},
        "figures": figures,
        "truth": lake.truth.to_dict(),
    }
    if evaluation is not None:
        doc["evaluation"] = dict(evaluation)
    paths = {"json": out / "report.json", "html": out / "report.html"}
    paths["json"].write_text(json.dumps(doc, indent=1, default=_json_default), encoding="utf-8")
    paths["html"].write_text(_html(doc, results, mse), encoding="utf-8")
    return paths


def _json_default(o: object) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o) if np.isfinite(o) else None
    if isinstance(o, np.bool_):
        return bool(o)
    return str(o)


_CSS = (
    "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#1a202c}"
    "h1{font-size:1.6em}h2{border-bottom:1px solid #e2e8f0;padding-bottom:.2em;margin-top:2em}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #e2e8f0;"
    "padding:2px 8px;text-align:right}th{background:#f7fafc}td.l,th.l{text-align:left}"
    ".ok{color:#2f855a}.bad{color:#c53030}.note{background:#fffbea;padding:.4em .8em;"
    "border-left:4px solid #d69e2e}.small{color:#555;font-size:.9em}"
)


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]], left: int = 1) -> str:
    h = "".join(f'<th class="{"l" if i < left else ""}">{esc(c)}</th>' for i, c in enumerate(head))
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"l" if i < left else ""}">{esc(_fmt(c))}</td>' for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{h}</tr>{body}</table>"


_LINKAGE_LABEL = {
    "fuzzy": "k-list record linkage inside MPC",
    "probabilistic": "k-list record linkage inside MPC (Fellegi-Sunter)",
    "key": "exact matching on normalised names and birth year",
}


def _linkage_gap(dv: Mapping[str, Any], linkage: str) -> str:
    """Why the estimate and the truth differ: the linkage error seen in the distinct count."""
    got, true = int(dv["released"]), int(dv["truth"])
    diff = got - true
    share = abs(diff) / max(true, 1)
    return (
        f"<p class='small'>Linkage error: {esc(_LINKAGE_LABEL.get(linkage, linkage))} "
        f"found {got:,} distinct victims where {true:,} were truly seen ({diff:+,}, "
        f"{share:.1%}). A missed link (a birth date left empty or a year wrong on one list, "
        "a name written differently) splits a person into records that each look seen on "
        "fewer lists, which the model reads as low capture probabilities, so even a small "
        "share of missed links pushes the estimate up (the gap to the perfect-linkage "
        "estimate grows with the population: the interval narrows, the bias does not); "
        "false links (namesakes merged) pull it down.</p>"
    )


def _pct(x: float) -> str:
    return f"{x:+.2%}"


def _evaluation(ev: Mapping[str, Any], secure: bool) -> list[str]:
    """The section on the linkage against the generator's truth (synthetic data only)."""
    used = _LINKAGE_LABEL.get(str(ev["linkage"]), ev["linkage"])
    if not secure:
        used = used.replace(" inside MPC", " (its plaintext twin)")
    rows = [(used + " (used)", ev)]
    if "exact_key" in ev:
        rows.append((_LINKAGE_LABEL["key"] + " (for comparison)", ev["exact_key"]))
    pk = ev["perfect_linkage_estimate"]
    out = [
        "<h2 id='evaluation'>Evaluation: the linkage against the generator's truth</h2>",
        "<p class='note'>Only possible on synthetic data: it needs to know which records "
        "truly belong to one person, which only the generator knows. It is computed in the "
        "clear, after the analyses, from the plaintext twin's persons"
        + (
            " (the same persons as the secure computation's: the overlap tables above agree)"
            if secure
            else ""
        )
        + " — no organisation can compute it on real lists.</p>",
        _table(
            [
                "persons found by",
                "pairwise precision",
                "pairwise recall",
                "F1",
                "distinct victims",
                "truth",
                "difference",
            ],
            [
                (
                    label,
                    f"{q['precision']:.4f}",
                    f"{q['recall']:.4f}",
                    f"{q['f1']:.4f}",
                    q["distinct_persons"],
                    q["distinct_truth"],
                    _pct(q["distinct_error"]),
                )
                for label, q in rows
            ],
        ),
        "<p class='small'>Pairwise: over the victims' records, the pairs put into one "
        "person (precision: the share that truly are one person) and the pairs that truly "
        "are one person (recall: the share put together).</p>",
        f"<p>Estimate with perfect linkage (the same estimator on the true overlap table): "
        f"{pk['total']:,.0f} ({pk['interval'][0]:,.0f} to {pk['interval'][1]:,.0f})"
        + (
            f"; the released estimate differs from it by "
            f"<b>{_pct(float(ev['estimate_vs_perfect']))}</b>.</p>"
            if "estimate_vs_perfect" in ev
            else ".</p>"
        ),
    ]
    return out


def _bytes(n: int | None) -> str | None:
    """``1234567`` -> ``'1.2 MB'`` (decimal units); None stays None."""
    if n is None:
        return None
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def _check(released: Any, plaintext: Any) -> str:
    return "=" if released == plaintext else "≠"


def _html(doc: Mapping[str, Any], results: Sequence[Any], mse: Any) -> str:
    f, meta = doc["figures"], doc["meta"]
    secure = bool(meta.get("secure"))
    linkage = str(meta.get("linkage") or "key")
    lists = f["overlap"]["lists"]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<title>sharelake monitoring report</title><style>{_CSS}</style></head><body>",
        "<h1>Human-trafficking monitoring: joint figures of four organisations</h1>",
        f"<p class='small'>Synthetic data (seed {esc(meta.get('seed'))}, scale "
        f"{esc(meta.get('scale'))}); data model {esc(doc['data_model_version'])}; minimum group "
        f"size k = {esc(meta.get('k'))}. "
        + (
            "Every figure was computed by three nodes under MPC on secret-shared data and "
            "released only as the owners' policies and approvals allowed."
            if secure
            else "<b>Plaintext run</b> (no nodes): figures come from the plaintext "
            "twin of each analysis."
        )
        + " Beside each figure: the plaintext computation on the same data, and the "
        "generator's ground truth.</p>",
        "<h2>Organisations</h2>",
        _table(
            ["table", "organisation", "records"],
            [(o, v["label"], v["records"]) for o, v in doc["organisations"].items()],
        ),
    ]
    # 2. overlap
    ov = f["overlap"]
    truth_pat = {p["pattern"]: p["truth"] for p in ov["patterns"]}
    table = pd.DataFrame(
        [
            {**{f"in_{o}": o in p["lists"] for o in lists}, "count": p["released"]}
            for p in ov["patterns"]
        ]
    )
    dv = ov["distinct_victims"]
    parts += [
        "<h2>How the lists overlap</h2>",
        f"<p>Distinct victims on at least one list: <b>{dv['released']:,}</b> "
        f"(plaintext {dv['plaintext']:,}, truth {dv['truth']:,}; the difference to the truth "
        f"is the linkage error of {esc(_LINKAGE_LABEL.get(linkage, linkage))}). "
        f"Released to: {esc(ov['released_to'])}.</p>",
        upset_chart(table, lists, truth=truth_pat) if len(table) else "",
        _table(
            ["lists", "released", "plaintext", "truth"],
            [
                (" + ".join(p["lists"]), p["released"], p["plaintext"], p["truth"])
                for p in sorted(ov["patterns"], key=lambda p: -p["released"])
            ],
        ),
    ]
    # 3. estimate
    pe = f["population_estimate"]
    lo, hi = mse.interval
    inside = pe["truth_inside_interval"]
    parts += [
        "<h2>How many victims are there, including those on no list?</h2>",
        f"<p>Multiple-systems estimate: <b>{mse.total:,.0f}</b>, {mse.level:.0%} interval "
        f"{lo:,.0f} to {hi:,.0f} ({esc(mse.interval_method)} interval, model chosen by "
        f"{esc(_method_label(mse.method))}: <code>{esc(mse.model_description)}</code>). True "
        f"population: {pe['truth']:,} — <span class='{'ok' if inside else 'bad'}'>"
        f"{'inside' if inside else 'outside'} the interval</span>.</p>",
        estimate_chart(mse.observed, mse.total, (lo, hi), pe["truth"]),
        f"<p class='small'>With perfect linkage (MSE on the generator's true overlap table) "
        f"the estimate would be {pe['with_perfect_linkage']['total']:,.0f} "
        f"({pe['with_perfect_linkage']['interval'][0]:,.0f} to "
        f"{pe['with_perfect_linkage']['interval'][1]:,.0f}): the difference is what missed "
        "and false matches cost.</p>",
        _linkage_gap(f["overlap"]["distinct_victims"], linkage),
        "<h3>Every method on the same table</h3>",
        methods_chart(
            [{**r, "interval": tuple(r["interval"])} for r in pe["methods"]["rows"]],
            pe["truth"],
        ),
        f"<p>{esc(pe['methods']['why'])}</p>",
    ]
    for note in mse.notes:
        parts.append(f"<p class='note'>{esc(note)}</p>")
    comp = mse.comparison_frame().head(8)
    parts.append(
        _table(
            ["model", "AIC", "BIC", "Δ", "estimate"],
            [
                (r.model, round(r.aic, 1), round(r.bic, 1), round(r.delta, 2), r.total)
                for r in comp.itertuples()
            ],
        )
    )
    if doc.get("evaluation"):
        parts += _evaluation(doc["evaluation"], secure)
    # 1. name-list comparison
    parts.append("<h2>Which of my records do the others know?</h2>")
    rows = []
    for org, v in f["name_list_comparison"].items():
        if "known_to_others" in v:
            k = v["known_to_others"]
            by = v["by_number_of_others"]
            detail = ", ".join(f"{n}: {c['released']}" for n, c in by.items())
            rows.append(
                (
                    org,
                    v["released_to"],
                    k["released"],
                    k["plaintext"],
                    k["truth"],
                    f"by number of other lists — {detail}",
                )
            )
        else:
            for o, c in v["counts"].items():
                rows.append(
                    (
                        org,
                        v["released_to"],
                        c["released"],
                        c["plaintext"],
                        c["truth"],
                        f"records also on {o}'s list",
                    )
                )
    parts.append(
        _table(
            [
                "organisation",
                "released to",
                "records known to others",
                "plaintext",
                "truth",
                "detail",
            ],
            rows,
            left=2,
        )
    )
    # 4. modus operandi
    mo = f["modus_operandi"]
    parts.append("<h2>How are people recruited, moved and exploited?</h2>")
    titles = {
        "recruitment_nationality": "Recruitment × nationality",
        "sector_city": "Exploitation sector × city",
        "quarter": "New contacts by quarter",
    }
    for name, v in mo.items():
        cells = pd.DataFrame(
            [[*c["key"], c["released"]] for c in v["cells"]], columns=[*v["keys"], "count"]
        )
        parts.append(f"<h3>{esc(titles.get(name, name))}</h3>")
        if len(v["keys"]) == 2 and len(cells):
            parts.append(heatmap(cells, v["keys"][0], v["keys"][1], title=name))
        elif len(cells):
            truth = [c["truth"] for c in v["cells"]]
            parts.append(
                bar_chart(
                    [(str(c["key"][0]), c["released"]) for c in v["cells"]], title=name, truth=truth
                )
            )
        s = v["suppressed"]
        same = sum(c["released"] == c["plaintext"] for c in v["cells"])
        parts.append(
            f"<p class='small'>Released to {esc(v['released_to'])}: {len(v['cells'])} "
            f"cells ({same} equal to the plaintext computation). Suppressed (under "
            f"k = {s['k']}): "
            + (
                f"{s['cells']} cells with {s['persons']} persons in total.</p>"
                if s["cells"] is not None
                else f"fewer than {s['k']} cells (so their number is not released either).</p>"
            )
        )
    # governance and cost
    parts.append("<h2>What was released to whom</h2>")
    parts.append(
        _table(
            ["analysis", "figure", "released to"],
            [(a, fig, who) for a, d in doc["released"].items() for fig, who in d.items()],
            left=3,
        )
    )
    if doc["approvals"]:
        parts.append("<h3>Approvals recorded</h3>")
        parts.append(
            _table(
                ["purpose", "for", "signed by", "plan hash"],
                [
                    (a["purpose"], a["analyst"], ", ".join(a["owners"]), a["plan_hash"][:16])
                    for a in doc["approvals"]
                ],
                left=4,
            )
        )
    parts.append("<h3>What was suppressed</h3>")
    parts.append(
        _table(
            ["table", "cells", "persons", "k"],
            [
                (n, v["suppressed"]["cells"], v["suppressed"]["persons"], v["suppressed"]["k"])
                for n, v in mo.items()
            ],
        )
    )
    audit = doc.get("audit") or {}
    if audit:
        parts.append("<h2>Audit</h2>")
        agree = audit.get("nodes_agree")
        parts.append(
            f"<p>The three nodes' hash-chained audit logs "
            f"<span class='{'ok' if agree else 'bad'}'>{'agree' if agree else 'disagree'}"
            "</span>.</p>"
        )
        parts.append(
            _table(
                ["node", "entries", "chain problems", "entries by kind"],
                [
                    (
                        n["log"],
                        n["entries"],
                        len(n["chain_problems"]),
                        ", ".join(f"{k} {c}" for k, c in n["by_kind"].items()),
                    )
                    for n in audit.get("nodes", [])
                ],
                left=1,
            )
        )
    parts.append("<h2>Cost of each analysis</h2>")
    parts.append(
        "<p class='small'>Seconds: the analyst's wall time over the analysis's queries; "
        "node seconds: the slowest node's compute time; rounds: communication rounds "
        "(the most any node spent); bytes: what the three nodes sent each other in all; "
        "all summed over the queries, as the nodes reported them (a local computation "
        "has no rounds or bytes). The independent queries of an analysis run "
        "concurrently: critical rounds count only the longest query of each batch, "
        "the rounds that network latency multiplies.</p>"
    )
    parts.append(
        _table(
            [
                "analysis",
                "how",
                "seconds",
                "node seconds",
                "queries",
                "rounds",
                "critical rounds",
                "bytes",
            ],
            [
                (
                    n,
                    c["mode"],
                    c["seconds"],
                    c.get("node_seconds"),
                    c["queries"],
                    c["rounds"],
                    c.get("critical_rounds"),
                    _bytes(c["bytes"]),
                )
                for n, c in f["costs"].items()
            ],
            left=2,
        )
    )
    if doc["uploads"]:
        parts.append(
            _table(
                ["upload", "rows", "columns", "seconds"],
                [
                    (u["table"], u["rows"], u["columns"], round(u["seconds"], 2))
                    for u in doc["uploads"]
                ],
            )
        )
    parts.append(f"<p class='small'>Timings (s): {esc(doc['timings'])}</p></body></html>")
    return "\n".join(parts)


def _method_label(method: str) -> str:
    return METHOD_LABELS.get(method, method)
