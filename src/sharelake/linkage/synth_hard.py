"""A hard generator of person lists: realistic namesake rates, partial and wrong dates.

:func:`make_hard_lists` draws people from eight origins with name-frequency
distributions in which a few names cover much of a population, as they do in life:

* Vietnamese (family names by their published shares: Nguyen about 38%, Tran 11%,
  Le 9.5%, Pham 7%, ...; a middle name Van/Thi/Duc/Minh...; a third of them with an
  English given name, as in the diaspora), written with or without diacritics, the
  middle name kept or dropped;
* Chinese (Wang, Li, Zhang, Liu, Chen ... about 7% each at the top) in Han characters,
  Hanyu Pinyin with varying spacing, or the Cantonese/Wade-Giles spellings common on
  foreign documents (Wong, Lee, Cheung, Chan, Lau, Chow ...);
* Korean (Kim about 21%, Lee 15%, Park 8% ...), with the usual romanisation variants
  (Lee/Yi/Rhee, Park/Pak/Bak, Choi/Choe, Jung/Jeong/Chung, ...) and given names as
  "Min-jun", "Minjun" or "Min Jun";
* Russian and Bulgarian in Cyrillic or one of five Latin transliterations;
* Thai in Thai script, RTGS or an informal romanisation;
* Arabic names in the Latin spellings different offices use (Mohammed, Muhammad,
  Mohamed ...; Al-/El- prefixes);
* Nigerian (Yoruba, Igbo, Hausa) and English names.

Names inside an origin are drawn by rank with Zipf-like weights (1 / (rank + 4)) where no
published shares are used, so common names ("John Smith", "Nguyen Van An") recur and
namesakes with different birth dates are frequent. Each record of a shared person is
rendered independently: transliteration, diacritics, typos (10%), swapped
given/family fields (6%), honorifics. Birth dates are full (80%), ``YYYY`` only
(10%), ``YYYY-MM`` (4%) or empty (6%); a full date is wrong in 8% of the records
(another day, day/month swapped, a year one off, or a different year). ``dates="sparse"``
makes the dates harder: 15% empty, 20% ``YYYY``, 5% ``YYYY-MM``, 12% of full dates wrong.

Every parameter of the scorer is chosen on sets of TRAINING seeds; the quality report
(:mod:`sharelake.linkage.quality`) uses disjoint TEST seeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd

from sharelake.linkage.synth import (
    SyntheticLists,
    cyrillic_latin,
    name_pool,
    pinyin,
    thai_latin,
    typo,
)

__all__ = ["DATE_MIXES", "ORIGINS", "make_hard_lists"]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


ORIGINS: dict[str, float] = {
    "vi": 0.20,
    "zh": 0.15,
    "ko": 0.10,
    "cyr": 0.15,
    "th": 0.10,
    "ar": 0.10,
    "ng": 0.10,
    "en": 0.10,
}
"""Origins and their shares of the population."""

# (name, share in per cent) -- published family-name shares, rounded
_VI_FAMILY = (
    ("Nguyễn", 38.4), ("Trần", 11.0), ("Lê", 9.5), ("Phạm", 7.1), ("Hoàng", 5.1),
    ("Huỳnh", 2.2), ("Phan", 4.5), ("Vũ", 3.9), ("Võ", 2.0), ("Đặng", 2.1), ("Bùi", 2.0),
    ("Đỗ", 1.4), ("Hồ", 1.3), ("Ngô", 1.3), ("Dương", 1.0), ("Lý", 0.5), ("Đinh", 0.6),
    ("Trương", 0.6), ("Lâm", 0.4), ("Mai", 0.3), ("Trịnh", 0.3), ("Đoàn", 0.3),
    ("Cao", 0.3), ("Lương", 0.3), ("Tạ", 0.2), ("Quách", 0.1), ("Thái", 0.1), ("Kiều", 0.1),
)  # fmt: skip
_VI_MIDDLE = ("Văn", "Thị", "Đức", "Minh", "Ngọc", "Thanh", "Hữu", "Quang", "Xuân", "Hoàng")
_VI_GIVEN = _words(
    "An Anh Bảo Bình Châu Chi Cường Dũng Dung Duy Giang Hà Hải Hạnh Hiếu Hòa Hoa Hùng Hương "
    "Huy Khánh Khoa Lan Linh Long Mai Minh Nam Nga Ngân Nhung Phong Phúc Phương Quân Quốc "
    "Quyên Sơn Tài Tâm Thảo Thắng Thành Thu Thủy Tiến Trang Trí Trung Tú Tuấn Tùng Uyên Vân "
    "Việt Vinh Vy Xuân Yến "
)
_ZH_FAMILY = (
    ("王", 7.1), ("李", 7.0), ("张", 6.7), ("刘", 5.4), ("陈", 4.5), ("杨", 3.1),
    ("黄", 2.2), ("赵", 2.0), ("吴", 2.0), ("周", 1.9), ("徐", 1.5), ("孙", 1.4),
    ("马", 1.3), ("朱", 1.2), ("胡", 1.1), ("郭", 1.1), ("何", 1.0), ("高", 1.0),
    ("林", 1.0), ("罗", 0.9), ("郑", 0.9), ("梁", 0.8), ("谢", 0.7), ("宋", 0.6),
    ("唐", 0.6), ("许", 0.6), ("韩", 0.6), ("冯", 0.5), ("邓", 0.5), ("曹", 0.5),
)  # fmt: skip
#: Spellings other than Hanyu Pinyin on foreign documents (Cantonese, Wade-Giles).
_ZH_ALT = {
    "王": ("Wong",), "李": ("Lee", "Lei"), "张": ("Cheung", "Chang"), "刘": ("Lau", "Liu"),
    "陈": ("Chan", "Chen"), "杨": ("Yeung", "Yang"), "黄": ("Wong", "Huang"),
    "赵": ("Chiu", "Chao"), "吴": ("Ng", "Wu"), "周": ("Chow", "Chou"), "徐": ("Tsui", "Hsu"),
    "孙": ("Suen", "Sun"), "郭": ("Kwok", "Kuo"), "何": ("Ho",), "林": ("Lam",),
    "罗": ("Law", "Lo"), "郑": ("Cheng", "Chang"), "梁": ("Leung",), "谢": ("Tse", "Hsieh"),
}  # fmt: skip
_KO_FAMILY = (
    ("Kim", 21.5, ("Gim",)), ("Lee", 14.7, ("Yi", "Rhee", "Rhie")), ("Park", 8.4, ("Pak", "Bak")),
    ("Choi", 4.7, ("Choe",)), ("Jung", 4.4, ("Jeong", "Chung")), ("Kang", 2.3, ("Gang",)),
    ("Cho", 2.1, ("Jo",)), ("Yoon", 2.1, ("Yun",)), ("Jang", 2.0, ("Chang",)),
    ("Lim", 1.7, ("Im",)), ("Han", 1.5, ()), ("Oh", 1.5, ("O",)), ("Seo", 1.5, ("Suh",)),
    ("Shin", 1.5, ("Sin",)), ("Kwon", 1.4, ("Gwon",)), ("Hwang", 1.4, ()), ("Ahn", 1.3, ("An",)),
    ("Song", 1.3, ()), ("Yoo", 1.2, ("Yu", "Ryu")), ("Hong", 1.1, ()),
)  # fmt: skip
_KO_SYLL = _words(
    "min jun seo yeon ji hoon woo hyun soo eun ha young jin sung ho hye won jae kyung dong "
    "hee yu na bin tae in mi ra chan "
)
_RU_FAMILY = _words(
    "Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров Морозов "
    "Волков Алексеев Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев Орлов Андреев "
    "Макаров Никитин Захаров Зайцев Соловьёв Борисов Яковлев Григорьев "
)
_RU_GIVEN = _words(
    "Александр Сергей Дмитрий Андрей Алексей Иван Михаил Николай Владимир Евгений Елена Ольга "
    "Наталья Татьяна Ирина Светлана Мария Анна Юлия Екатерина Павел Юрий Олег Виктор Галина "
    "Людмила Георги Димитър Стоян Йордан Цветана Росица "
)
_AR_GIVEN = (
    ("Mohammed", "Muhammad", "Mohamed", "Mohammad", "Mohamad"), ("Ahmed", "Ahmad"),
    ("Ali",), ("Omar", "Umar"), ("Youssef", "Yusuf", "Yousef"), ("Fatima", "Fatma", "Fatimah"),
    ("Aisha", "Aicha", "Ayesha"), ("Mariam", "Maryam", "Meryem"), ("Khalid", "Khaled"),
    ("Hassan", "Hasan"), ("Hussein", "Husain", "Hussain", "Houssein"), ("Ibrahim", "Ebrahim"),
    ("Abdullah", "Abdallah"), ("Mustafa", "Mostafa", "Moustafa"), ("Layla", "Leila", "Laila"),
    ("Zainab", "Zaynab", "Zeinab"), ("Karim", "Kareem"), ("Samir", "Sameer"), ("Nour", "Noor"),
    ("Tariq", "Tarek", "Tareq"), ("Amina", "Aminah"), ("Yasmin", "Yasmine"), ("Said", "Saeed"),
)  # fmt: skip
_AR_FAMILY = (
    ("Hassan", "Hasan"), ("Haddad",), ("Khalil", "Khaleel"), ("Mansour", "Mansur"),
    ("Nasser", "Nasser", "Nasir"), ("Saleh", "Salih"), ("Hussein", "Husain"),
    ("Ibrahim",), ("Abdallah", "Abdullah"), ("Farouk", "Faruq"), ("Aziz",),
    ("Al-Masri", "El-Masri", "Masri"), ("Al-Khatib", "El-Khatib", "Khatib"),
    ("Al-Najjar", "El-Naggar", "Najjar"), ("Qureshi", "Kureshi"), ("Rahman", "Rehman"),
    ("Suleiman", "Sulaiman", "Soliman"), ("Yousef", "Youssef", "Yusuf"), ("Darwish",),
    ("Othman", "Osman", "Uthman"), ("Hamdan",), ("Shaikh", "Sheikh"), ("Jaber", "Jabir"),
)  # fmt: skip
_EN_GIVEN = _words(
    "James John Robert Michael William David Mary Patricia Jennifer Linda Elizabeth Richard "
    "Joseph Thomas Charles Susan Jessica Sarah Karen Daniel Matthew Anthony Mark Nancy Lisa "
    "Betty Paul Steven Andrew Emily Kevin Brian George Edward Anna Peter Kate "
)
_EN_FAMILY = _words(
    "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore "
    "Martin Jackson Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright "
    "Scott Hill Green Adams Baker Nelson Carter Mitchell Roberts Turner Phillips "
)
_HONORIFIC = ("Mr ", "Mrs ", "Dr ", "Ms ")


@lru_cache(maxsize=64)
def _zipf(n: int) -> np.ndarray:
    """Weights 1 / (rank + 4) over a pool of n names: the top name of a pool of 40 is
    about 9% of its origin, of a pool of 200 about 4%."""
    w = 1.0 / (np.arange(1, n + 1) + 4.0)
    out: np.ndarray = w / w.sum()
    return out


@lru_cache(maxsize=64)
def _ranked(locale: str, kind: str) -> tuple[str, ...]:
    """A pool of :mod:`sharelake.linkage.synth` in a fixed shuffled order (its rank order
    for the Zipf weights), so that frequency does not follow the alphabet."""
    pool = list(_zh_given() if (locale, kind) == ("zh", "given") else name_pool(locale, kind))
    order = np.random.default_rng(sum(map(ord, locale + kind))).permutation(len(pool))
    return tuple(pool[k] for k in order)


def _shares(xs: tuple[float, ...]) -> np.ndarray:
    w = np.asarray(xs, dtype=np.float64)
    out: np.ndarray = w / w.sum()
    return out


def _pick(rng: np.random.Generator, p: np.ndarray) -> int:
    return int(rng.choice(len(p), p=p))


@lru_cache(maxsize=8)
def _zh_given() -> tuple[str, ...]:
    return tuple(sorted({w for w in name_pool("zh", "given") if len(w) <= 2}))


def _strip_marks(text: str) -> str:
    import unicodedata

    s = unicodedata.normalize("NFKD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in s if not unicodedata.combining(c))


# a person: (origin, given parts, family, extra, dob); rendering is per record


@dataclass(frozen=True)
class _Person:
    origin: str
    given: tuple[str, ...]
    family: str
    dob: tuple[int, int, int]


def _person(rng: np.random.Generator) -> _Person:
    origins = list(ORIGINS)
    o = origins[_pick(rng, _shares(tuple(ORIGINS.values())))]
    dob = (int(rng.integers(1945, 2012)), int(rng.integers(1, 13)), int(rng.integers(1, 29)))
    if o == "vi":
        fam = _VI_FAMILY[_pick(rng, _shares(tuple(x[1] for x in _VI_FAMILY)))][0]
        if rng.random() < 0.33:
            given: tuple[str, ...] = (_EN_GIVEN[_pick(rng, _zipf(len(_EN_GIVEN)))],)
        else:
            mid = _VI_MIDDLE[_pick(rng, _zipf(len(_VI_MIDDLE)))]
            given = (mid, _VI_GIVEN[_pick(rng, _zipf(len(_VI_GIVEN)))])
        return _Person(o, given, fam, dob)
    if o == "zh":
        fam = _ZH_FAMILY[_pick(rng, _shares(tuple(x[1] for x in _ZH_FAMILY)))][0]
        pool = _ranked("zh", "given")
        return _Person(o, (pool[_pick(rng, _zipf(len(pool)))],), fam, dob)
    if o == "ko":
        k = _pick(rng, _shares(tuple(x[1] for x in _KO_FAMILY)))
        p = _zipf(len(_KO_SYLL))
        return _Person(o, (_KO_SYLL[_pick(rng, p)], _KO_SYLL[_pick(rng, p)]), str(k), dob)
    if o == "cyr":
        if rng.random() < 0.5:
            g, f = _RU_GIVEN, _RU_FAMILY
        else:
            g, f = _ranked("bg", "given"), _ranked("bg", "family")
        fam = f[_pick(rng, _zipf(len(f)))]
        female = rng.random() < 0.5 and fam.endswith(("ов", "ев", "ёв", "ин"))
        return _Person(o, (g[_pick(rng, _zipf(len(g)))],), fam + ("а" if female else ""), dob)
    if o == "th":
        g, f = _ranked("th", "given"), _ranked("th", "family")
        return _Person(o, (g[_pick(rng, _zipf(len(g)))],), f[_pick(rng, _zipf(len(f)))], dob)
    if o == "ar":
        gi = _pick(rng, _zipf(len(_AR_GIVEN)))
        fi = _pick(rng, _zipf(len(_AR_FAMILY)))
        return _Person(o, (str(gi),), str(fi), dob)
    if o == "ng":
        g, f = _ranked("ng", "given"), _ranked("ng", "family")
        return _Person(o, (g[_pick(rng, _zipf(len(g)))],), f[_pick(rng, _zipf(len(f)))], dob)
    g, f = _EN_GIVEN, _EN_FAMILY
    return _Person(o, (g[_pick(rng, _zipf(len(g)))],), f[_pick(rng, _zipf(len(f)))], dob)


def _choice(rng: np.random.Generator, xs: tuple[str, ...]) -> str:
    return xs[int(rng.integers(len(xs)))]


def _render(p: _Person, rng: np.random.Generator) -> tuple[str, str]:
    """(given, family) as one organisation writes them."""
    o = p.origin
    if o == "vi":
        plain = rng.random() < 0.6
        parts = list(p.given)
        if len(parts) == 2 and rng.random() < 0.2:
            parts = parts[1:]  # middle name dropped
        given, family = " ".join(parts), p.family
        if plain:
            given, family = _strip_marks(given), _strip_marks(family)
        return given, family
    if o == "zh":
        r = rng.random()
        if r < 0.4:
            return p.given[0], p.family
        given = pinyin(p.given[0], rng)
        if r < 0.9 or p.family not in _ZH_ALT:
            return given, pinyin(p.family, rng)
        return given, _choice(rng, _ZH_ALT[p.family])
    if o == "ko":
        name, _, alts = _KO_FAMILY[int(p.family)]
        fam = name if rng.random() < 0.8 or not alts else _choice(rng, alts)
        a, b = p.given
        sep = ("-", "", " ")[int(rng.integers(3))]
        return a.capitalize() + sep + (b.capitalize() if sep == " " else b), fam
    if o == "cyr":
        if rng.random() < 0.4:
            return p.given[0], p.family
        scheme = ("official", "bgn", "german", "french", "scholarly")[int(rng.integers(5))]
        return cyrillic_latin(p.given[0], scheme), cyrillic_latin(p.family, scheme)
    if o == "th":
        if rng.random() < 0.4:
            return p.given[0], p.family
        return thai_latin(p.given[0], rng), thai_latin(p.family, rng)
    if o == "ar":
        given = _choice(rng, _AR_GIVEN[int(p.given[0])])
        return given, _choice(rng, _AR_FAMILY[int(p.family)])
    return p.given[0], p.family


#: Birth-date mixes: cumulative shares of empty, ``YYYY`` and ``YYYY-MM`` dates, and the
#: factor on the error rates of full dates (8% in "usual").
DATE_MIXES: dict[str, tuple[float, float, float, float]] = {
    "usual": (0.06, 0.16, 0.20, 1.0),
    "sparse": (0.15, 0.35, 0.40, 1.5),
}


def _date(
    dob: tuple[int, int, int], rng: np.random.Generator, mix: tuple[float, float, float, float]
) -> str:
    y, m, d = dob
    r = rng.random()
    if r < mix[0]:
        return ""
    if r < mix[1]:
        return f"{y:04d}"
    if r < mix[2]:
        return f"{y:04d}-{m:02d}"
    e = rng.random() / mix[3]
    if e < 0.03:
        d = int(rng.integers(1, 29))
    elif e < 0.05 and d <= 12:
        m, d = d, m
    elif e < 0.07:
        y += int(rng.choice((-1, 1)))
    elif e < 0.08:
        y += int(rng.choice((-1, 1))) * int(rng.integers(2, 30))
    return f"{y:04d}-{m:02d}-{d:02d}"


def _record(
    p: _Person, rng: np.random.Generator, mix: tuple[float, float, float, float]
) -> tuple[str, str, str]:
    given, family = _render(p, rng)
    if rng.random() < 0.1:
        if rng.random() < 0.5:
            given = typo(given, rng)
        else:
            family = typo(family, rng)
    if rng.random() < 0.03:
        given = _choice(rng, _HONORIFIC) + given
    if rng.random() < 0.06:
        given, family = family, given
    return given, family, _date(p.dob, rng, mix)


def make_hard_lists(
    n: int = 2000,
    *,
    overlap: float = 0.1,
    seed: int = 0,
    dates: Literal["usual", "sparse"] = "usual",
) -> SyntheticLists:
    """Two lists of ``n`` records each, ``round(overlap * n)`` of them the same people.

    Parameters
    ----------
    n : int
        Records per list.
    overlap : float
        Share of each list's records whose person is on the other list too (0..1).
    seed : int
        Generator seed; the quality report keeps training and test seeds apart.
    dates : {"usual", "sparse"}
        Birth-date mix (:data:`DATE_MIXES`): "usual" as in the module docstring;
        "sparse" with 15% empty, 20% ``YYYY`` only, 5% ``YYYY-MM`` and 12% of the full
        dates wrong (harder than the lists of the issue).

    Returns
    -------
    SyntheticLists
        ``left``, ``right`` (``record_id``, ``given_name``, ``family_name``,
        ``date_of_birth``, rows in random order) and the true links.

    Examples
    --------
    >>> s = make_hard_lists(100, overlap=0.2, seed=1)
    >>> len(s.left), len(s.right), len(s.links)
    (100, 100, 20)
    """
    if not 0.0 <= overlap <= 1.0:
        raise ValueError("overlap must be between 0 and 1")
    if dates not in DATE_MIXES:
        raise ValueError(f"dates must be one of {', '.join(DATE_MIXES)}")
    rng = np.random.default_rng(seed)
    shared = round(overlap * n)
    people = [_person(rng) for _ in range(2 * n - shared)]
    members = (list(range(n)), list(range(shared)) + list(range(n, 2 * n - shared)))
    frames, pos = [], []
    for side, mem in zip("LR", members, strict=True):
        order = rng.permutation(len(mem))
        rows = [_record(people[mem[k]], rng, DATE_MIXES[dates]) for k in order]
        frames.append(
            pd.DataFrame(
                {
                    "record_id": [f"{side}{k:06d}" for k in range(len(mem))],
                    "given_name": [r[0] for r in rows],
                    "family_name": [r[1] for r in rows],
                    "date_of_birth": [r[2] for r in rows],
                }
            )
        )
        inv = np.empty(len(mem), dtype=np.int64)
        inv[order] = np.arange(len(mem))
        pos.append(inv)
    links = frozenset((f"L{pos[0][k]:06d}", f"R{pos[1][k]:06d}") for k in range(shared))
    return SyntheticLists(frames[0], frames[1], links)
