"""Seeded synthetic monitoring data: four organisations' person lists and their ground truth.

The generator draws a population of victims and lets four organisations "see" some of
them, following a capture-recapture model, so that every figure the lake computes can be
checked against a known truth:

* ``ngo_shelter`` — an NGO supporting victims of sexual exploitation and sex workers;
* ``ngo_labour`` — an NGO helping exploited labour migrants;
* ``police`` — the national police (victims, suspects, witnesses);
* ``hotline`` — an anonymous-tip hotline (victims, witnesses, informants).

Capture model: victims fall in two strata (sexual exploitation, and labour and other
exploitation). Within a stratum the 16 inclusion patterns over the four lists follow a
Poisson log-linear model with main effects (different by stratum: the shelter sees the
sexual stratum, the labour NGO the other) and three positive two-way interactions
(shelter-hotline referrals, labour NGO-police reports, hotline-police tips). The pattern
"on no list" is the hidden part that multiple-systems estimation has to recover: the true
population size is known.

Recording: each organisation writes the persons it sees in its own way: names in the
original script or romanised, upper case, swapped given and family names, titles,
diacritics dropped, a rare typo; birth dates full, ``YYYY-MM``, ``YYYY`` or empty (and
rarely a wrong year); case fields (nationality, recruitment, route, sector, city) filled
with different completeness. Modus operandi distributions depend on nationality and
stratum, so they differ by source. The name pools (:func:`name_pools`) hold about 60
to 200 given and family names per nationality, in Latin, Cyrillic, Han and Thai script
(the linkage generator's pools for five of them, Chinese given names any one or two
characters), some persons have two given names, Vietnamese ones a middle name, so that
at 100,000 persons namesakes born in the same year stay rare; romanised variants use
the linkage pipeline's own romanisation so that they normalise alike.

Examples
--------
>>> lake = generate(seed=1, scale=0.2)
>>> sorted(lake.frames)
['hotline', 'ngo_labour', 'ngo_shelter', 'police']
>>> lake.truth.population > lake.truth.observed > 0
True
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..linkage.normalize import romanize
from ..linkage.synth import name_pool
from .model import COLUMNS, quarter_of

ORGANISATIONS: tuple[str, ...] = ("ngo_shelter", "ngo_labour", "police", "hotline")
"""The four synthetic data providers, in list order of the capture-history table."""

LABELS: dict[str, str] = {
    "ngo_shelter": "NGO: shelter and sex-worker support",
    "ngo_labour": "NGO: labour-migrant help desk",
    "police": "National police",
    "hotline": "Anonymous hotline",
}

BASE_VICTIMS = 4000
"""True number of victims at ``scale=1``: about half of them are on some list; with the
suspects, witnesses and informants that makes about 3,100 records."""

# Log-linear capture model: main effects per stratum (log odds against "on no list").
_MAIN = {
    "sexual": np.array([-1.0, -2.6, -1.6, -2.2]),
    "labour": np.array([-2.4, -1.3, -1.5, -2.6]),
}
_INTERACTIONS = {(0, 3): 0.7, (1, 2): 0.5, (2, 3): 0.4}
_SEXUAL_SHARE = 0.55

# Name pools. Romanian, Bulgarian, Nigerian, Chinese and Thai names come from the
# linkage generator's pools (sharelake.linkage.synth: a fixed sample of Faker's person
# providers, Chinese given names any one or two characters of the pool, Romanian
# patronymic surnames); the others are the hand-written lists below. Some persons have
# a second given name. At scale 25 (about 100,000 persons) namesakes born in the same
# year are rare, as in real lists of this size (see the report's linkage section).
_LINKAGE_LOCALE = {"RO": "ro", "BG": "bg", "NG": "ng", "CN": "zh", "TH": "th"}
_OWN_NAMES: dict[str, tuple[str, str]] = {
    "UA": (
        "Олена Оксана Наталія Ірина Тетяна Андрій Сергій Олександр Юлія Марія Богдан "
        "Вікторія Анастасія Дарина Катерина Людмила Світлана Галина Надія Любов Софія "
        "Соломія Христина Ольга Валентина Лариса Зоряна Мирослава Ярослава Леся Віра "
        "Роксолана Ганна Алла Інна Жанна Поліна Уляна Дмитро Микола Іван Петро Василь "
        "Михайло Олег Тарас Юрій Ярослав Віктор Володимир Григорій Степан Остап Роман "
        "Павло Максим Артем Денис Євген Ігор Костянтин Леонід Назар Орест Святослав Федір "
        "Антон Вадим Віталій Руслан Станіслав Тимофій Захар Кирило Матвій Еліна Мілана",
        "Коваленко Бондаренко Шевченко Ткаченко Кравченко Мельник Бойко Олійник Лисенко "
        "Руденко Савченко Петренко Коваль Шевчук Поліщук Бондар Марченко Мороз Кравчук "
        "Клименко Павленко Савчук Іваненко Литвиненко Гончаренко Левченко Карпенко "
        "Мартинюк Ковальчук Романенко Остапенко Василенко Кузьменко Сидоренко Вакуленко "
        "Гаврилюк Тимошенко Дмитренко Федоренко Яковенко Мельничук Пономаренко Захарченко "
        "Лук'яненко Мазур Білик Приходько Нестеренко Гуменюк Стасюк Пилипенко Кириленко "
        "Олексієнко Зінченко Гнатюк Давиденко Бабенко Грищенко Власенко Онищенко Осадчук "
        "Панченко Рибак Семенюк Тарасенко Юрченко Ярошенко Головко Демченко Жук Заїка "
        "Карпюк Лозинський Максименко Назаренко Остапчук Прокопенко Сорока Чорновол",
    ),
    "PL": (
        "Anna Katarzyna Małgorzata Agnieszka Piotr Krzysztof Tomasz Paweł Michał Joanna "
        "Łukasz Magdalena Barbara Ewa Elżbieta Zofia Krystyna Maria Teresa Danuta Beata "
        "Monika Dorota Aleksandra Natalia Karolina Justyna Marta Paulina Weronika Julia "
        "Wiktoria Alicja Dominika Patrycja Sylwia Iwona Grażyna Halina Jadwiga Bożena "
        "Jan Andrzej Stanisław Marek Grzegorz Józef Jerzy Tadeusz Adam Zbigniew Ryszard "
        "Dariusz Henryk Mariusz Kazimierz Wojciech Robert Mateusz Marian Rafał Jacek "
        "Janusz Mirosław Maciej Sławomir Jarosław Kamil Wiesław Roman Władysław Jakub "
        "Artur Zdzisław Edward Mieczysław Damian Dawid Przemysław Sebastian Czesław "
        "Leszek Daniel Waldemar Szymon Bartosz Kacper Filip Hubert Oskar Igor Wiktor",
        "Nowak Kowalski Wiśniewska Wójcik Kowalczyk Kamińska Lewandowski Zieliński "
        "Szymańska Woźniak Dąbrowski Kozłowska Jankowski Mazur Kwiatkowski Krawczyk "
        "Piotrowski Grabowska Nowakowski Pawłowski Michalski Nowicka Adamczyk Dudek "
        "Zając Wieczorek Jabłoński Król Majewska Olszewski Jaworski Wróbel Malinowska "
        "Pawlak Witkowski Walczak Stępień Górski Rutkowska Michalak Sikora Ostrowski "
        "Baran Duda Szewczyk Tomaszewski Pietrzak Marciniak Wróblewska Zalewski "
        "Jakubowski Jasiński Zawadzka Sadowski Bąk Chmielewski Włodarczyk Borkowski "
        "Czarnecka Sawicki Sokołowski Urbańska Kubiak Maciejewski Szczepański Kucharski "
        "Wilk Kalinowska Lis Mazurek Wysocki Adamski Kaźmierczak Wasilewska Sobczak "
        "Czerwiński Andrzejewski Cieślak Głowacka Zakrzewski Kołodziej Sikorski Krajewska",
    ),
    "NL": (
        "Sanne Lisa Emma Fleur Kim Daan Jesse Bram Naomi Romy Anouk Lotte Eva Iris Julia "
        "Sophie Tess Noa Mila Sara Lieke Femke Esther Marieke Ingrid Annemarie Willemijn "
        "Maaike Merel Roos Floor Isa Nina Demi Chantal Kelly Priscilla Shanice Jamila "
        "Sem Lucas Levi Finn Milan Thijs Ruben Lars Stijn Koen Niels Joris Pieter Jeroen "
        "Bas Sander Wouter Maarten Rick Kevin Dennis Mohamed Youssef Mehmet Ricardo "
        "Gerrit Hendrik Cornelis Johannes Willem Jan Dirk Arjen Sjoerd Tim Luuk Mats",
        "de Jong Jansen de Vries van den Berg van Dijk Bakker Visser Smit Meijer de Boer "
        "Mulder Bos de Groot Vos Peters Hendriks van Leeuwen Dekker Brouwer de Wit Dijkstra "
        "Smits de Graaf van der Meer van der Linden Kok Jacobs de Haan Vermeulen van den "
        "Heuvel van der Veen van den Broek de Bruijn de Bruin van der Heijden Schouten "
        "van Beek Willems van Vliet van de Ven Hoekstra Maas Verhoeven Koster van Dam "
        "van der Wal Prins Blom Huisman Peeters de Kok Kuipers van Wijk Post Kuiper "
        "Veenstra Kramer van den Brink Scholten van Wijngaarden Martens van der Vlist "
        "Boer Postma Wijnands Timmermans Groen Gerritsen Bosman Koopman Hermans Sanders "
        "Bosch Evers Molenaar Claassen Brink Hofman Wouters Verbeek Tromp Jonker Boon",
    ),
    "VN": (
        "An Lan Hoa Minh Anh Mai Hùng Hương Huy Thu Tuấn Ngọc Bình Cường Dũng Giang Hà "
        "Hải Hạnh Hiền Hiếu Hoàng Hồng Khánh Khoa Kiên Linh Long Loan Nam Nga Nhung Oanh "
        "Phong Phúc Phương Quân Quang Quyên Sơn Tâm Tân Thắng Thảo Thành Thủy Tiến Trang "
        "Trung Tú Tùng Uyên Vân Việt Vinh Xuân Yến Duy Đạt Điệp Đông Hậu Hưng Lâm Lộc "
        "Luân Mạnh Nghĩa Nhân Nhi Phát Quế Sang Tài Thanh Thịnh Thơ Toàn Trâm Trí Vy",
        "Nguyễn Trần Lê Phạm Hoàng Vũ Đặng Bùi Đỗ Ngô Huỳnh Phan Võ Dương Lý Hồ Trương "
        "Đinh Đào Đoàn Lâm Mai Trịnh Lưu Tạ Cao Hà Tô Thái Lương Quách Châu Kiều Chu "
        "Hứa Mạc Tăng Triệu Vương Khúc Lục Âu Giang Bạch Văn Tống Thân Diệp La Doãn Từ",
    ),
    "ER": (
        "Semhar Helen Yonas Tesfay Kidane Senait Filmon Luwam Abraham Aman Awet Berhane "
        "Biniam Dawit Daniel Efrem Eyob Feven Freweyni Ghirmay Habtom Hagos Hiwet Isaias "
        "Kibrom Mebrahtu Medhanie Merhawi Meron Michael Mihret Million Mussie Natnael "
        "Nebiat Rahel Ruta Saba Samuel Selam Sara Simon Solomon Tedros Teklay Teklit "
        "Tesfalem Tsega Tsegay Winta Yemane Yordanos Yohannes Zecarias Zemichael Zewdi "
        "Almaz Asmeret Elsa Eden Fiori Hermon Lidia Milena Nardos Rigbe Salam Tirhas",
        "Tesfamariam Ghebremedhin Haile Berhane Tekle Weldu Gebru Abraha Andemariam "
        "Asfaha Bahta Berhe Debesay Estifanos Fessehaye Gebremichael Gebreyesus "
        "Ghebrehiwet Ghebreslassie Habte Hailemariam Kahsay Kidane Kiflom Mehari "
        "Mengesteab Mesfin Mohammed Negash Ogbazghi Russom Sebhatu Semere Solomon "
        "Tekeste Teklehaimanot Tesfay Tewelde Tsegai Weldemichael Woldegiorgis Yemane "
        "Yohannes Zerai Zeray Ghirmay Araia Asmerom Beraki Efrem Gherezgiher Goitom "
        "Hagos Isaak Kibreab Measho Okbay Sium Teame Tecle Welday Yosief Zemichael",
    ),
}
_TWO_GIVEN = {"RO": 0.2, "BG": 0.0, "UA": 0.0, "NG": 0.3, "VN": 0.0, "CN": 0.0, "TH": 0.0,
              "PL": 0.15, "NL": 0.25, "ER": 0.0}  # fmt: skip
_VN_MIDDLE = ("Văn", "Thị", "Đức", "Minh", "Quang", "Ngọc", "Thanh", "Hữu", "Xuân", "Hoài")


def _split_pool(text: str) -> tuple[str, ...]:
    # Dutch surnames keep their particles: "van den Berg" is one name
    words, out, particle = text.split(), [], ""
    for w in words:
        if w in ("de", "van", "den", "der"):
            particle += w + " "
            continue
        out.append(particle + w)
        particle = ""
    return tuple(dict.fromkeys(out))


@functools.lru_cache(maxsize=1)
def name_pools() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Given and family names per nationality (originals, in their own script)."""

    pools: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for c, loc in _LINKAGE_LOCALE.items():
        pools[c] = (name_pool(loc, "given"), name_pool(loc, "family"))
    for c, (given, family) in _OWN_NAMES.items():
        pools[c] = (_split_pool(given), _split_pool(family))
    return pools


# nationality mix and modus operandi by stratum
_NATIONALITY = {
    "sexual": {"RO": 0.2, "BG": 0.14, "NL": 0.2, "NG": 0.16, "UA": 0.08, "TH": 0.08,
               "CN": 0.05, "PL": 0.04, "VN": 0.02, "ER": 0.03},
    "labour": {"RO": 0.12, "BG": 0.06, "NL": 0.03, "NG": 0.04, "UA": 0.18, "PL": 0.2,
               "VN": 0.15, "CN": 0.1, "ER": 0.1, "TH": 0.02},
}  # fmt: skip
_RECRUITMENT = {
    "RO": {"loverboy": 0.4, "job_offer": 0.3, "acquaintance": 0.15, "family": 0.1, "online": 0.05},
    "BG": {"loverboy": 0.35, "job_offer": 0.3, "acquaintance": 0.2, "family": 0.15},
    "NL": {"loverboy": 0.55, "online": 0.3, "acquaintance": 0.15},
    "NG": {"debt": 0.55, "job_offer": 0.2, "family": 0.15, "agency": 0.1},
    "UA": {"job_offer": 0.45, "agency": 0.3, "online": 0.25},
    "PL": {"job_offer": 0.5, "agency": 0.4, "acquaintance": 0.1},
    "VN": {"debt": 0.6, "agency": 0.25, "family": 0.15},
    "CN": {"debt": 0.5, "agency": 0.35, "job_offer": 0.15},
    "TH": {"job_offer": 0.5, "online": 0.3, "debt": 0.2},
    "ER": {"debt": 0.5, "abduction": 0.3, "family": 0.2},
}
_LABOUR_SECTORS = {"agriculture": 0.3, "construction": 0.15, "domestic": 0.1,
                   "hospitality": 0.12, "manufacturing": 0.1, "logistics": 0.13,
                   "criminal": 0.07, "begging": 0.03}  # fmt: skip
_CITIES = {
    "sexual": {"Amsterdam": 0.3, "Den Haag": 0.15, "Rotterdam": 0.15, "Utrecht": 0.1,
               "Groningen": 0.06, "Eindhoven": 0.08, "Arnhem": 0.06, "Alkmaar": 0.1},
    "agriculture": {"Venlo": 0.4, "Westland": 0.4, "Breda": 0.2},
    "logistics": {"Tilburg": 0.4, "Venlo": 0.4, "Rotterdam": 0.2},
    "other": {"Rotterdam": 0.25, "Amsterdam": 0.25, "Den Haag": 0.15, "Almere": 0.1,
              "Eindhoven": 0.1, "Zwolle": 0.05, "Enschede": 0.1},
}  # fmt: skip
_ROUTES = {
    "RO": ("RO>HU>AT>DE>NL", "road"), "BG": ("BG>RO>HU>AT>DE>NL", "road"),
    "UA": ("UA>PL>DE>NL", "road"), "PL": ("PL>DE>NL", "road"), "NL": ("", "none"),
    "NG": ("NG>NE>LY>IT>FR>NL", "mixed"), "ER": ("ER>SD>LY>IT>NL", "mixed"),
    "VN": ("VN>RU>PL>DE>NL", "mixed"), "CN": ("CN>NL", "air"), "TH": ("TH>NL", "air"),
}  # fmt: skip

# recording habits: share of names written in the original script, of each field left empty
_HABITS: dict[str, dict[str, float]] = {
    "ngo_shelter": {"native": 0.6, "upper": 0.05, "swap": 0.05, "title": 0.05, "typo": 0.01,
                    "dob_full": 0.4, "dob_month": 0.25, "dob_year": 0.33, "nat": 0.05,
                    "rec": 0.15, "route": 0.3, "sector": 0.05, "city": 0.1},
    "ngo_labour": {"native": 0.5, "upper": 0.1, "swap": 0.08, "title": 0.0, "typo": 0.01,
                   "dob_full": 0.55, "dob_month": 0.2, "dob_year": 0.23, "nat": 0.03,
                   "rec": 0.1, "route": 0.2, "sector": 0.03, "city": 0.1},
    "police": {"native": 0.1, "upper": 0.6, "swap": 0.1, "title": 0.0, "typo": 0.01,
               "dob_full": 0.85, "dob_month": 0.05, "dob_year": 0.08, "nat": 0.02,
               "rec": 0.3, "route": 0.15, "sector": 0.05, "city": 0.05},
    "hotline": {"native": 0.3, "upper": 0.05, "swap": 0.15, "title": 0.1, "typo": 0.015,
                "dob_full": 0.2, "dob_month": 0.2, "dob_year": 0.57, "nat": 0.3,
                "rec": 0.5, "route": 0.7, "sector": 0.3, "city": 0.3},
}  # fmt: skip
_OTHERS = {  # non-victim records per organisation at scale 1: (role, count)
    "ngo_shelter": (("informant", 40),),
    "ngo_labour": (("informant", 25), ("witness", 15)),
    "police": (("suspect", 300), ("witness", 60)),
    "hotline": (("witness", 60), ("informant", 30)),
}
_START, _DAYS = dt.date(2021, 1, 1), 4 * 365


@dataclass(frozen=True)
class GroundTruth:
    """What the generator knows and the organisations do not.

    ``population``: true number of victims (seen or not); ``observed``: distinct victims
    on at least one list; ``overlap``: the true capture-history table of victims
    (``in_<org>`` columns and ``count``, non-empty patterns); ``persons``: one row per
    person with the true attributes; ``record_person``: for each organisation the true
    person id of each of its rows; ``crosstabs``: true modus operandi counts over the
    observed distinct victims.
    """

    population: int
    observed: int
    overlap: pd.DataFrame
    persons: pd.DataFrame
    record_person: dict[str, np.ndarray[Any, np.dtype[np.int64]]]
    crosstabs: dict[str, pd.DataFrame]

    def known_to_others(self, org: str) -> pd.Series:
        """For each record of ``org``: on how many other lists its person truly is."""
        mine = self.record_person[org]
        others = np.zeros(len(mine), dtype=np.int64)
        for o, ids in self.record_person.items():
            if o != org:
                others += np.isin(mine, ids)
        return pd.Series(others, name="known_to")

    def to_dict(self) -> dict[str, Any]:
        """The truth as JSON-ready figures (for report.json)."""
        return {
            "population": self.population,
            "observed_distinct_victims": self.observed,
            "overlap": self.overlap.to_dict(orient="records"),
            "crosstabs": {k: v.to_dict(orient="records") for k, v in self.crosstabs.items()},
        }


@dataclass(frozen=True)
class SyntheticLake:
    """The four organisations' tables (in the data model) and the ground truth."""

    frames: dict[str, pd.DataFrame]
    truth: GroundTruth
    seed: int
    scale: float

    @property
    def records(self) -> int:
        """Total number of records over the four organisations."""
        return sum(len(f) for f in self.frames.values())


def _patterns() -> np.ndarray[Any, np.dtype[np.int64]]:
    return np.array(list(itertools.product((0, 1), repeat=4)), dtype=np.int64)


def pattern_probabilities(stratum: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The capture model: probability of each of the 16 patterns (``0000`` first)."""
    P = _patterns()
    logw = P @ _MAIN[stratum]
    for (i, j), g in _INTERACTIONS.items():
        logw = logw + g * P[:, i] * P[:, j]
    w = np.exp(logw)
    return np.asarray(w / w.sum(), dtype=np.float64)


def _choice(rng: np.random.Generator, table: dict[str, float], n: int) -> np.ndarray[Any, Any]:
    keys = list(table)
    p = np.array([table[k] for k in keys], dtype=np.float64)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=n, p=p / p.sum())]


Names = Literal["uniform", "realistic"]
"""How often each name of a pool is drawn: all alike (``uniform``), or by rank with
Zipf-like weights 1 / (rank + 4) over the pool in a fixed shuffled order
(``realistic``): the top name of a pool of 60 is about 6% of its nationality, the top
three 15-20% (as the published shares of Vietnamese, Chinese or Korean family names
and the weights of :mod:`sharelake.linkage.synth_hard`), so namesakes are frequent."""


def _name_weights(n: int, names: Names, key: str) -> np.ndarray[Any, Any] | None:
    """Draw weights over a pool of ``n`` names (None: uniform)."""
    if names == "uniform":
        return None
    w = 1.0 / (np.arange(1, n + 1) + 4.0)
    w = w[np.random.default_rng(sum(map(ord, key))).permutation(n)]  # rank != alphabet
    out: np.ndarray[Any, Any] = w / w.sum()
    return out


def _draw(
    rng: np.random.Generator, pool: np.ndarray[Any, Any], k: int, names: Names, key: str
) -> np.ndarray[Any, Any]:
    p = _name_weights(len(pool), names, key)
    if p is None:
        out: np.ndarray[Any, Any] = pool[rng.integers(0, len(pool), k)]
    else:
        out = pool[rng.choice(len(pool), size=k, p=p)]
    return out


def _persons(
    rng: np.random.Generator, n_victims: int, n_others: int, names_by: Names = "uniform"
) -> pd.DataFrame:
    n = n_victims + n_others
    stratum = np.where(rng.random(n) < _SEXUAL_SHARE, "sexual", "labour").astype(object)
    stratum[n_victims:] = "none"
    nat = np.empty(n, dtype=object)
    for s in ("sexual", "labour"):
        m = stratum == s
        nat[m] = _choice(rng, _NATIONALITY[s], int(m.sum()))
    m = stratum == "none"
    nat[m] = _choice(rng, {**_NATIONALITY["labour"], "NL": 0.5}, int(m.sum()))
    given = np.empty(n, dtype=object)
    family = np.empty(n, dtype=object)
    rec = np.empty(n, dtype=object)
    for c, (gs, fs) in name_pools().items():
        m = nat == c
        k = int(m.sum())
        pool = np.array(gs, dtype=object)
        first = _draw(rng, pool, k, names_by, f"{c}given")
        second = _draw(rng, pool, k, names_by, f"{c}given")
        two = rng.random(k) < _TWO_GIVEN[c]
        names = [
            f"{a} {b}" if t and a != b else a for a, b, t in zip(first, second, two, strict=True)
        ]
        if c == "VN":  # a middle name, then the given name
            middle = _draw(rng, np.array(_VN_MIDDLE, dtype=object), k, names_by, "VNmiddle")
            names = [f"{mid} {g}" for mid, g in zip(middle, first, strict=True)]
        given[m] = np.array(names, dtype=object)
        family[m] = _draw(rng, np.array(fs, dtype=object), k, names_by, f"{c}family")
        rec[m] = _choice(rng, _RECRUITMENT[c], k)
    sector = np.full(n, None, dtype=object)
    sector[stratum == "sexual"] = "sexual"
    lab = stratum == "labour"
    sector[lab] = _choice(rng, _LABOUR_SECTORS, int(lab.sum()))
    city = np.full(n, None, dtype=object)
    group = np.where(np.isin(sector, list(_CITIES)), sector, "other")
    for key, table in _CITIES.items():
        m = (group == key) & (stratum != "none")
        city[m] = _choice(rng, table, int(m.sum()))
    age_days = rng.integers(16 * 365, 50 * 365, n)
    # contacts grow over the four years (more awareness, more reports)
    day = (np.sqrt(rng.random(n)) * _DAYS).astype(np.int64)
    contact = np.array([_START + dt.timedelta(days=int(d)) for d in day], dtype=object)
    dob = np.array(
        [c - dt.timedelta(days=int(a)) for c, a in zip(contact, age_days, strict=True)],
        dtype=object,
    )
    sex = np.where(
        stratum == "sexual",
        np.where(rng.random(n) < 0.92, "F", "M"),
        np.where(rng.random(n) < 0.35, "F", "M"),
    ).astype(object)
    sex[rng.random(n) < 0.01] = "X"
    return pd.DataFrame(
        {
            "person_id": np.arange(n, dtype=np.int64),
            "role": np.where(stratum == "none", "other", "victim"),
            "stratum": stratum,
            "given_name": given,
            "family_name": family,
            "date_of_birth": dob,
            "sex": sex,
            "nationality": nat,
            "recruitment": [None if s == "none" else r for s, r in zip(stratum, rec, strict=True)],
            "transport_route": [_ROUTES[c][0] if s != "none" else None
                                for c, s in zip(nat, stratum, strict=True)],
            "transport_mode": [_ROUTES[c][1] if s != "none" else None
                               for c, s in zip(nat, stratum, strict=True)],
            "exploitation_sector": sector,
            "exploitation_city": city,
            "contact": contact,
        }
    )  # fmt: skip


def _latin(name: str) -> str:
    if name.isascii() or all(ord(ch) < 0x250 for ch in name):
        return name
    return " ".join(t.capitalize() for t in romanize(name).split())


def _typo(rng: np.random.Generator, name: str) -> str:
    if len(name) < 4:
        return name + name[-1]
    i = int(rng.integers(1, len(name) - 1))
    return name[:i] + name[i + 1] + name[i] + name[i + 2 :]


def _record(rng: np.random.Generator, p: dict[str, Any], h: dict[str, float]) -> dict[str, str]:
    given, family = str(p["given_name"]), str(p["family_name"])
    if rng.random() >= h["native"] or rng.random() < 0.3:
        given, family = _latin(given), _latin(family)
    if rng.random() < h["upper"]:
        given, family = given.upper(), family.upper()
    if rng.random() < h["typo"]:
        family = _typo(rng, family)
    if rng.random() < h["swap"]:
        given, family = family, given
    if rng.random() < h["title"]:
        given = ("Mrs. " if p["sex"] == "F" else "Mr. ") + given
    dob: dt.date = p["date_of_birth"]
    u = rng.random()
    if rng.random() < 0.01:
        dob = dob.replace(year=dob.year + (1 if rng.random() < 0.5 else -1), day=min(dob.day, 28))
    if u < h["dob_full"]:
        birth = dob.isoformat()
    elif u < h["dob_full"] + h["dob_month"]:
        birth = dob.isoformat()[:7]
    elif u < h["dob_full"] + h["dob_month"] + h["dob_year"]:
        birth = dob.isoformat()[:4]
    else:
        birth = ""
    contact = p["contact"] + dt.timedelta(days=int(rng.integers(0, 45)))
    contact = min(contact, _START + dt.timedelta(days=_DAYS - 1))

    def keep(value: Any, field: str) -> str:
        return "" if value is None or rng.random() < h[field] else str(value)

    victim = p["role"] == "victim"
    return {
        "given_name": given,
        "family_name": family,
        "date_of_birth": birth,
        "sex": str(p["sex"]),
        "nationality": keep(p["nationality"], "nat"),
        "recruitment": keep(p["recruitment"], "rec") if victim else "",
        "transport_route": keep(p["transport_route"], "route") if victim else "",
        "transport_mode": keep(p["transport_mode"], "route") if victim else "",
        "exploitation_sector": keep(p["exploitation_sector"], "sector") if victim else "",
        "exploitation_city": keep(p["exploitation_city"], "city") if victim else "",
        "first_contact": contact.isoformat(),
    }


def generate(*, seed: int = 0, scale: float = 1.0, names: Names = "uniform") -> SyntheticLake:
    """Generate the four organisations' lists and the ground truth.

    Parameters
    ----------
    seed
        Seed of every random draw: the same seed and scale give the same data.
    scale
        Multiplies the population (``scale=1``: :data:`BASE_VICTIMS` victims, about 3,100
        records; ``scale=25``: about 100,000 persons).
    names
        How names are drawn from the pools (:data:`Names`): ``uniform`` (default, the
        figures of LINKAGE.md 4e) or ``realistic`` (a few names per nationality cover
        15-20% of it: many more namesakes).

    Returns
    -------
    SyntheticLake

    Examples
    --------
    >>> lake = generate(seed=3, scale=0.1)
    >>> list(lake.frames["police"].columns)[:4]
    ['record_id', 'role', 'given_name', 'family_name']
    """
    if scale <= 0:
        raise ValueError("scale must be positive")
    rng = np.random.default_rng(seed)
    n_victims = max(1, round(BASE_VICTIMS * scale))
    others = {o: [(r, max(1, round(c * scale))) for r, c in v] for o, v in _OTHERS.items()}
    n_others = sum(c for v in others.values() for _, c in v)
    if names not in ("uniform", "realistic"):
        raise ValueError("names must be 'uniform' or 'realistic'")
    people = _persons(rng, n_victims, n_others, names)
    # capture patterns of the victims, by stratum
    P = _patterns()
    pattern = np.zeros((len(people), 4), dtype=np.int64)
    for s in ("sexual", "labour"):
        idx = np.flatnonzero(people["stratum"].to_numpy() == s)
        pattern[idx] = P[rng.choice(16, size=len(idx), p=pattern_probabilities(s))]
    # non-victims: on their organisation's list, suspects also on the hotline's at times
    nxt = n_victims
    for o, roles in others.items():
        for role, c in roles:
            sl = slice(nxt, nxt + c)
            people.loc[people.index[sl], "role"] = role
            pattern[sl, ORGANISATIONS.index(o)] = 1
            if role == "suspect":
                pattern[sl, 3] |= (rng.random(c) < 0.15).astype(np.int64)
            nxt += c
    records: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in people.to_dict("records")
    ]
    frames: dict[str, pd.DataFrame] = {}
    record_person: dict[str, np.ndarray[Any, np.dtype[np.int64]]] = {}
    for j, org in enumerate(ORGANISATIONS):
        ids = np.flatnonzero(pattern[:, j])
        ids = ids[rng.permutation(len(ids))]
        rows = [_record(rng, records[i], _HABITS[org]) for i in ids]
        df = pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in ("record_id", "role")])
        prefix = {"ngo_shelter": "S", "ngo_labour": "L", "police": "PV", "hotline": "H"}[org]
        start = int(rng.integers(1000, 9000))
        df.insert(0, "record_id", [f"{prefix}-{start + k:06d}" for k in range(len(ids))])
        df.insert(1, "role", people["role"].to_numpy()[ids])
        frames[org] = df[list(COLUMNS)]
        record_person[org] = ids.astype(np.int64)
    truth = _truth(people, pattern, n_victims, record_person)
    return SyntheticLake(frames, truth, seed, scale)


def _truth(
    people: pd.DataFrame,
    pattern: np.ndarray[Any, np.dtype[np.int64]],
    n_victims: int,
    record_person: dict[str, np.ndarray[Any, np.dtype[np.int64]]],
) -> GroundTruth:
    victims = people["role"].to_numpy() == "victim"
    seen = victims & (pattern.sum(axis=1) > 0)
    pats = pd.DataFrame(pattern[seen], columns=[f"in_{o}" for o in ORGANISATIONS]).astype(bool)
    overlap = (
        pats.value_counts().rename("count").reset_index().sort_values(list(pats.columns))
    ).reset_index(drop=True)
    obs = people[seen]
    quarter = obs["contact"].map(lambda d: quarter_of(d.isoformat()))
    crosstabs = {
        "recruitment_nationality": obs.groupby(["recruitment", "nationality"])
        .size()
        .rename("count")
        .reset_index(),
        "sector_city": obs.groupby(["exploitation_sector", "exploitation_city"])
        .size()
        .rename("count")
        .reset_index(),
        "quarter": quarter.value_counts()
        .sort_index()
        .rename("count")
        .rename_axis("contact_quarter")
        .reset_index(),
    }
    return GroundTruth(
        population=n_victims,
        observed=int(seen.sum()),
        overlap=overlap,
        persons=people.assign(pattern=["".join(map(str, r)) for r in pattern]),
        record_person=record_person,
        crosstabs=crosstabs,
    )
