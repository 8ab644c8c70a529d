"""docs/pandas.md lists every public method of the installed pandas (DataFrame, Series,
GroupBy, ``.str``, ``.dt``) with its sharelake status, as sharelake.client.pandas_api says."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from pandas.core.groupby import DataFrameGroupBy, SeriesGroupBy

from sharelake.client import pandas_api

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "pandas.md").read_text(encoding="utf-8")


def public(obj: object) -> set[str]:
    return {n for n in dir(obj) if not n.startswith("_")}


def installed_pandas() -> dict[str, set[str]]:
    return {
        "DataFrame": public(pd.DataFrame),
        "Series": public(pd.Series),
        "GroupBy": public(DataFrameGroupBy) | public(SeriesGroupBy),
        "str": public(pd.Series(["a"]).str),
        "dt": public(pd.Series(pd.to_datetime(["2020-01-01"])).dt),
    }


def test_every_public_method_of_the_installed_pandas_has_a_status() -> None:
    for kind, methods in installed_pandas().items():
        listed = set(pandas_api.names(kind))  # type: ignore[arg-type]
        missing = sorted(methods - listed)
        assert not missing, f"pandas {pd.__version__} {kind} methods missing: {missing}"


def test_the_pandas_page_holds_the_generated_index_of_every_method() -> None:
    section = pandas_api.markdown()
    assert section in PAGE, (
        "docs/pandas.md is out of step with sharelake.client.pandas_api: paste the output of "
        "`python -m sharelake.client.pandas_api` between its markers"
    )
    for kind, methods in installed_pandas().items():
        for name in methods:
            assert f"| `{name}` |" in section, (kind, name)
