"""``.str.startswith`` and ``.str.contains`` of secret strings inside MPC (three
in-memory parties, default security level) equal pandas': UTF-8 text, case, empty and
missing strings, strings of exactly max_len, constants longer than 8 bytes (two window
words) and longer than the column, in computed columns and filters; ``lower``,
``upper``, ``strip`` and regular expressions are refused with what to do instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sharelake.client.frame import Table
from sharelake.plan.canonical import PlanError
from sharelake.relational.table import ColumnSpec

from .helpers_idioms import frame_equal, run

MAX = 16
SPECS = [ColumnSpec("pid", "int", nullable=False), ColumnSpec("name", "string", max_len=MAX)]
NAMES = [
    "Amsterdam", "amsterdam", "Rotterdam", "Zuid-Öst", "北京市", "", None, "Ams", "damdam",
    "xdam", "Amsterdam-Noord!", "Den Haag", "A", "dam",
]  # fmt: skip


def frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pool = ["Amsterdam", "Delft", "Adam", "Edam", "Damme", "Vaals", "Ede"]
    extra = [str(x) for x in rng.choice(pool, 20)]
    names = NAMES + extra
    return pd.DataFrame(
        {"pid": np.arange(len(names), dtype=np.int64), "name": pd.array(names, dtype="string")}
    )


def t() -> Table:
    return Table.of("t", ["pid", "name"])


PATTERNS = ["Ams", "dam", "", "北京", "Amsterdam-Noord!", "msterdam-Noo", "Amsterdam-Noord!x"]


@pytest.mark.parametrize("seed", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_startswith_and_contains_equal_pandas_on_utf8_empty_and_missing_strings(seed: int) -> None:
    df = frame(seed)
    q = t()
    cols = {f"s{i}": q.name.str.startswith(p) for i, p in enumerate(PATTERNS)}
    cols |= {f"c{i}": q.name.str.contains(p, regex=False) for i, p in enumerate(PATTERNS)}
    got = run(q.assign(**cols)[["pid", *cols]], {"t": (df, SPECS)})
    want = {"pid": df.pid}
    want |= {f"s{i}": df.name.str.startswith(p) for i, p in enumerate(PATTERNS)}
    want |= {f"c{i}": df.name.str.contains(p, regex=False) for i, p in enumerate(PATTERNS)}
    frame_equal(got, pd.DataFrame(want), by=["pid"])


def test_a_substring_filter_keeps_the_rows_pandas_keeps() -> None:
    df = frame(3)
    q = t()
    got = run(
        q[q.name.str.contains("dam") & ~q.name.str.startswith("A")][["pid"]], {"t": (df, SPECS)}
    )
    keep = (df.name.str.contains("dam") & ~df.name.str.startswith("A")).fillna(False)
    assert sorted(got.pid.tolist()) == df.pid[keep].tolist()


def test_normalising_accessors_and_regular_expressions_are_refused_with_the_alternative() -> None:
    q = t()
    for name in ("lower", "upper", "strip"):
        with pytest.raises(AttributeError, match=rf"str\.{name}\(\).*upload"):
            getattr(q.name.str, name)()
    with pytest.raises(TypeError, match="regex=False"):
        q.name.str.contains("a.b")
    with pytest.raises(TypeError, match="case=False"):
        q.name.str.contains("a", case=False)
    with pytest.raises(AttributeError, match=r"\.str\.len.*before upload"):
        _ = q.name.str.len
    specs = [ColumnSpec("pid", "int", nullable=False), ColumnSpec("name", "int")]
    df = pd.DataFrame({"pid": [0], "name": [1]})
    with pytest.raises((TypeError, PlanError), match=r"\.str\.startswith needs string"):
        run(q.assign(s=q.name.str.startswith("a"))[["s"]], {"t": (df, specs)})
