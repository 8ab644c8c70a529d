"""Map an organisation's own CSV export to the sharelake person data model.

An NGO keeps its case list with its own column names, Dutch labels, dates as DD-MM-YYYY
and country names in full. This script shows the mapping, validates the result and
writes a CSV in the model (``python examples/mapping_example.py``), ready for
``sharelake upload``. Adapt the three dictionaries to your own export.
"""

from __future__ import annotations

import io
import sys

import pandas as pd

from sharelake.monitoring.model import DataModelError, validate_frame

# The organisation's own export (normally: pd.read_csv("our_cases.csv", dtype=str)).
OWN_EXPORT = """\
dossier,voornaam,achternaam,geboren,geslacht,land,werving,sector,plaats,aanmelding,status
D-17,Ana Maria,Popescu,14-03-1998,V,Roemenië,loverboy,prostitutie,Amsterdam,07-02-2023,slachtoffer
D-18,Olena,Kovalenko,07-1991,V,Oekraïne,baan,land- en tuinbouw,Venlo,22-05-2023,slachtoffer
D-19,Blessing,Okafor,1996,V,Nigeria,schuld,prostitutie,'s-Gravenhage,30-08-2023,slachtoffer
D-20,Mehmet,Yilmaz,,M,,,,,,verdachte
"""

COLUMNS = {  # own column -> model field
    "dossier": "record_id",
    "voornaam": "given_name",
    "achternaam": "family_name",
    "geboren": "date_of_birth",
    "geslacht": "sex",
    "land": "nationality",
    "werving": "recruitment",
    "sector": "exploitation_sector",
    "plaats": "exploitation_city",
    "aanmelding": "first_contact",
    "status": "role",
}
VALUES = {  # model field -> {own label: model code}
    "sex": {"V": "F", "M": "M", "X": "X"},
    "nationality": {"Roemenië": "RO", "Oekraïne": "UA", "Nigeria": "NG"},
    "recruitment": {"loverboy": "loverboy", "baan": "job_offer", "schuld": "debt"},
    "exploitation_sector": {"prostitutie": "sexual", "land- en tuinbouw": "agriculture"},
    "role": {"slachtoffer": "victim", "verdachte": "suspect", "getuige": "witness"},
}


def iso_date(text: str) -> str:
    """DD-MM-YYYY, MM-YYYY or YYYY -> the model's ISO 8601 (partial) date."""
    parts = text.split("-") if text else []
    return "-".join(reversed(parts))


def to_model(own: pd.DataFrame) -> pd.DataFrame:
    """Rename, recode and reformat the export; unknown labels stay as they are, so that
    validation reports them instead of silently losing them."""
    df = own.rename(columns=COLUMNS)[list(COLUMNS.values())].fillna("")
    for field, mapping in VALUES.items():
        df[field] = df[field].map(lambda v, m=mapping: m.get(v, v))
    for field in ("date_of_birth", "first_contact"):
        df[field] = df[field].map(iso_date)
    return df


def main(out: str = "cases_in_model.csv") -> int:
    own = pd.read_csv(io.StringIO(OWN_EXPORT), dtype=str, keep_default_na=False)
    try:
        valid = validate_frame(to_model(own), source="our_cases.csv")
    except DataModelError as exc:
        for problem in exc.problems:
            print(f"our_cases.csv: {problem}", file=sys.stderr)
        return 1
    valid.to_csv(out, index=False)
    print(f"wrote {len(valid)} records in the data model to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:2]))
