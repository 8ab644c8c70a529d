"""Seeded synthetic multi-script person lists with ground truth (for linkage quality).

:func:`make_lists` draws people from Romanian, Bulgarian (Cyrillic), Nigerian
(Yoruba, Igbo, Hausa), Chinese (Han) and Thai name pools and writes two lists in
which only ``overlap`` (default 10%) of the records describe the same person.
Each record of a shared person is rendered independently, as two organisations
would: Cyrillic or one of four Latin transliterations of it (Bulgarian official,
English BGN/PCGN style, German, French), Han characters or pinyin with varying
spacing, Thai script or an RTGS or informal romanisation, Romanian with or
without diacritics (comma or cedilla), with typos, swapped given/family order,
a dropped second given name, honorifics, and partial, missing or day/month
swapped birth dates.

The name pools are a fixed sample of the person providers of Faker (MIT),
embedded so the generator is reproducible without it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sharelake.linkage.normalize import CYRILLIC

__all__ = ["LOCALES", "SyntheticLists", "make_lists"]

LOCALES = ("ro", "bg", "ng", "zh", "th")
"""Locales drawn, in equal proportions."""

_POOLS: dict[tuple[str, str], str] = {
    ("bg", "given"): (
        "Антонела Беримир Берия Бетина Благосвет Бог Богдалина Богомил Богослав Боила Боне "
        "Варта Венда Весислав Вигалот Видю Винко Войнка Галиян Генко Гетко Гоца Джулия "
        "Диамантина Динна Елеонета Емануел Ергана Ермиля Захаринка Звездолет Зенгин Йожи Карин "
        "Карина Кети Кириен Койно Латьо Лозен Лулчо Максимилияна Матьо Машо Настимир Настрадин "
        "Начо Негослав Нелида Орфей Панделис Пето Петрийка Радостка Розалин Ромил Роско Савета "
        "Себастиан Севдан Сергелинка Сиен Силян Симо Славейко Смехотерапия Спасияна Стоимена "
        "Стоянка Ташимира Урима Фимка Флориан Фъстък Хинко Чано Чардафона Шаро Щерион Юрита "
    ),
    ("bg", "family"): (
        "Балканска Бодуров Бранков Бумов Вампирска Вражалски Възвъзов Въртунински Габровлиева "
        "Гьоков Дачев Дришльов Занов Зенгинов Илиева Йорданов Канчин Каракашев Келешев Китов "
        "Клатикрушев Кокошкова Колев Колипатков Куртажова Кучев Кучкуделова Лимонадов "
        "Младенова Мустакова Николов Парашкевов Певецова Пеева Пикянски Площаков Плюцова "
        "Поаков Пулев Пътечкова Римпопов Самоходов Скринска Сланинкова Сопаджиева Стойков "
        "Тодоров Тодорова Топков Топчийски Тошев Тумангелов Тутурилов Хвърчилков Цветков "
        "Чанлиева Чупетловска Шкембова Щърбов Яназов "
    ),
    ("ro", "given"): (
        "Achim Adelaida Agata Alice Aneta Angela Antonela Ariadna Aristide Aureliana Aurora "
        "Bogdana Brândușa Bucur Carina Casandra Cazimir Celia Codin Constanța Coralia Cornelia "
        "Corvin Cristobal Daniela Delia Dina Ducu Dumitra Emilian Eremia Eric Fiodor Florian "
        "George Georgel Georgian Ica Ilona Iuliana Ivona Ladislau Laurențiu Leonard Liana Lili "
        "Lucia Luciana Ludovic Ludovica Luminița Marian Marin Melania Mircea Măriuca Nicoară "
        "Nicușor Norica Oana Octavia Octavian Ofelia Petruța Roberta Rodica Sabin Sabina "
        "Sebastian Silvana Silvia Steluța Teohari Teona Titus Tudor Valentin Victor Zeno Zoe "
    ),
    ("ro", "family"): (
        "Aanei Ababei Albu Ardelean Barbu Cristea Diaconescu Diaconu Dima Dinu Dobre Dochioiu "
        "Dumitrescu Eftimie Ene Florea Georgescu Gheorghiu Ionescu Ioniță Manole Marin "
        "Mazilescu Mocanu Nemeș Nistor Niță Oprea Pop Popa Popescu Preda Pușcașu Stan Stancu "
        "Stoica Stănescu Suciu Tabacu Toma Tomescu Tudor Voinea "
    ),
    ("ng", "given"): (
        "Aanuoluwapo Abebi Abiodun Abosede Adeolu Adeoti Adepeju Adesoji Adetoun Adigun Adunni "
        "Ahmad Ajala Ajani Ajoke Akanmu Akinwale Alamu Amoke Amope Anjolaoluwa Arike Asake "
        "Atinuke Ayinde Bello Doyinsola Durodola Ekene Ekundayo Ewatomi Fikayomi Folu Gambo "
        "Haruna Ibironke Ifeoma Ifunanya Ige Ikenna Ikeoluwa Inioluwa Kelechi Leke Morolake "
        "Mosinmileoluwa Motunrayo Musa Ninioluwa Nnamdi Nonso ObaniJesu Obianuju Obinna Ogechi "
        "Olanrewaju Oluchi Olufunke Olumorotimi Oluwafemi Oluwasanmi Oluwole Omotayo Omotoun "
        "Onyinye Osunleke Oyindasola Ruqayya Sani Shamsuddeen Similoluwa Simisola Sowande "
        "Tokunbo Uche Uchenna Ujunwa Wuraola Yejide Yusuf "
    ),
    ("ng", "family"): (
        "Abubakar Adegbite Adelakun Adelusi Adeyemo Adisa Afolayan Afonja Ajayi Ajewole Ali "
        "Aloba Anyanwu Balogun Bamiloye Buhari Fadipe Faleti Ilupeju Iroha Iwu Jaiyeola Kabir "
        "Kolade Lawal Madu Makinde Makinwa Mohammed Ninalowo Nwosu Odunsi Ogindan Ogunbiyi "
        "Ogunbo Ogunyeye Ojukwu Okeke Okoro Olabode Oladipupo Oloyede Olukunga Olusanya "
        "Omidina Omotoso Onoh Oparinde Osuntokun Owokoniran Owolabi Owoyemi Oyadiran Sa’idu "
        "Shehu Sobowale Suleiman Udeh Yusuf Zubairu "
    ),
    ("zh", "given"): (
        "丹 丹丹 丽丽 云 伟 俊 倩 兵 军 冬梅 凤兰 凤英 凯 刚 华 博 娜 娟 婷 婷婷 宁 宇 小红 峰 "
        "平 建 建军 建华 建平 彬 志强 敏 文 旭 明 春梅 晨 晶 杰 柳 桂兰 桂芝 桂花 桂芳 桂荣 楠 "
        "洋 浩 海燕 淑华 淑珍 燕 玉 玉兰 玉华 玉梅 玉珍 琳 畅 磊 秀云 秀华 秀梅 秀珍 秀芳 秀荣 "
        "红 红梅 莉 莹 萍 超 辉 鑫 阳 雪 雪梅 静 鹏 龙 "
    ),
    ("zh", "family"): (
        "乌 于 但 何 佟 修 党 兰 冯 况 冷 勾 区 华 卞 危 吕 唐 娄 孔 宫 宾 尧 展 嵇 平 幸 庄 "
        "应 康 廉 廖 彭 敖 斯 晋 曹 毕 沈 浦 海 玉 程 索 翁 耿 胥 苗 葛 詹 谭 费 赖 郎 鄢 闭 "
        "阚 高 鲁 龚 "
    ),
    ("th", "given"): (
        "กรพนธ์ กษิดิฐ กะดิรัตน์ กุลภาวลัย คมกริบ คำ คำปลิว จักรชัย จิตตานันท์ ฉลองชัย ซูฮัยดา "
        "ฐิติกุล ณัฐธภรณ์ ณัฐวรินทร ดวงสมร ตรีนุช ทรรศนชัย ทัตธน ธนนนท์ ธัชญา ธีรวุฒิ ธีราทัต "
        "ธเนษฐ นพ นภัสรินทร์ นรีรัตน์ นวรรษนันท์ นาตยา นาวีตา นิติ นุจรี ปฐวีกานต์ ประสิทธิ์ "
        "ประเสริฐ ปาริตา ปุณณรัตน์ พรชนก พรเบญญา พิชาภพ พิพิธธน พิไลพร ฟิรยา ภานุพล มณียา มนัส "
        "มะลีวัลย์ มะสูเกียน มารุด รมิตา รวิวาน รอซีด๊ะ วสิตา วิรศักดิ์ วีระโชติ ศรายุธ ศศินา "
        "ศศิยา ศิริญา ศุภกรชนา ศุภชัย สมหมาย สมใจ สันติราษฎร์ สุกฤษตา สุทกร สุธินันท์ อมัด "
        "อัญชัญ อาซือมะ อาภัศรา อารีย์ อาแอเสาะ เกษมชัย เขียว เจตธนากร เฉลิมพล เอกชัย โสภา "
        "ไชยภพ ไพสิฐ "
    ),
    ("th", "family"): (
        "กุมารบุญ ขอหมั่นกลาง คณานุรักษ์ จันทา จ้อยนุแสง ฉัตรอภิเที่ยงค่ำ ดาตู ดาบเงิน "
        "ดาบเพ็ชร์ ตรีครุธพันธุ์ ตรีเภรินทร์ ตวงทอง ตวันเยี่ยม ตั้งกุลงาม ถนอมกุลบุตร ถนัดกลึง "
        "ถนัดภาษา ถนัดหัตถกรรม ถนัดอักษร ถมปัด ถาวระวรณ์ ถาวรายุศม์ ทรงโกมล ทรัพย์ธำรงค์ "
        "ทวนทอง ทศโยธิน ทหารแท้ ทองปากน้ำ ทองเนื้อดี ทีฆะ ธนประทีป ธนรักษ์ ธรรมทินนา ธาราธร "
        "นวลฉวี นับเนื่องนอ นาคพันธุ์ นาควงษ์ นาคะนคร นานายน นิลเสนา นิษประปัญจ์ นุตตาร "
        "บุญญาไลย์ บุญศล บุญส่ง บุตราช บุนยาภิสนท์ ประจันตะเสน ยาปะโลหิต ราชมณี ร่มธิติรัตน์ "
        "ศรีธนะเวทย์ ศรีอุ่น ศิวะวรเวท สังข์กรด หิรัญสาลี อัตตนาถ เพียยา แนวพนิช "
    ),
}

_BG_SCHEMES: dict[str, dict[str, str]] = {
    "bgn": {"х": "kh", "щ": "shch", "ъ": "", "й": "y", "ю": "yu", "я": "ya", "ь": ""},
    "german": {
        "в": "w", "ж": "sch", "ш": "sch", "ч": "tsch", "щ": "schtsch", "ц": "z", "й": "j",
        "ю": "ju", "я": "ja", "х": "ch", "з": "s", "с": "s", "ъ": "a", "ь": "",
    },
    "french": {
        "ш": "ch", "ч": "tch", "у": "ou", "ж": "j", "х": "kh", "я": "ia", "ю": "iou",
        "ъ": "a", "щ": "cht", "ц": "ts", "й": "i", "ь": "",
    },
    "scholarly": {
        "ж": "ž", "ш": "š", "ч": "č", "щ": "št", "ц": "c", "х": "h", "ъ": "ă",
        "ю": "ju", "я": "ja", "й": "j", "ь": "",
    },
}  # fmt: skip
_BG_BASE = CYRILLIC  # the official Bulgarian system, as in the pipeline
_THAI_INFORMAL = (("ph", "p"), ("th", "t"), ("kh", "k"), ("ch", "j"), ("u", "oo"), ("o", "oh"))
_HONORIFICS = {
    "ro": ("Dl. ", "Dna. "),
    "bg": ("Г-н ", "Г-жа "),
    "ng": ("Mr ", "Chief ", "Mrs "),
    "zh": ("", ""),
    "th": ("นาย", "นางสาว"),
}


@dataclass(frozen=True)
class SyntheticLists:
    """Two person tables and the ground truth (pairs of ``record_id``)."""

    left: pd.DataFrame
    right: pd.DataFrame
    links: frozenset[tuple[str, str]]


def _pool(locale: str, kind: str) -> list[str]:
    return _POOLS[(locale, kind)].split()


def _cyrillic_latin(text: str, scheme: str) -> str:
    table = {**_BG_BASE, **_BG_SCHEMES.get(scheme, {})}
    out = "".join(table.get(c.lower(), c) for c in text)
    if scheme == "french" and out.endswith("ov"):
        out = out[:-2] + "off"
    elif scheme == "german" and out.endswith("ow") is False and out.endswith("ov"):
        out = out[:-2] + "ow"
    return out[:1].upper() + out[1:]


def _pinyin(text: str, rng: np.random.Generator) -> str:
    from pypinyin import Style, lazy_pinyin

    syl = [s.replace("ü", "u").replace("v", "u") for s in lazy_pinyin(text, style=Style.NORMAL)]
    sep = ("", " ", "-")[int(rng.integers(3))] if len(syl) > 1 else ""
    return sep.join(s.capitalize() if k == 0 or sep == " " else s for k, s in enumerate(syl))


def _thai_latin(text: str, rng: np.random.Generator) -> str:
    from pythainlp.transliterate import romanize

    out = str(romanize(text, engine="royin"))
    if rng.random() < 0.5:
        for old, new in _THAI_INFORMAL:
            if rng.random() < 0.4:
                out = out.replace(old, new)
    return out.capitalize()


def _ro_variant(text: str, rng: np.random.Generator) -> str:
    r = rng.random()
    if r < 0.4:  # typed without diacritics
        return text.translate(str.maketrans("ășțâîĂȘȚÂÎ", "astaiASTAI"))
    if r < 0.6:  # legacy cedilla code points
        return text.translate(str.maketrans("șțȘȚ", "şţŞŢ"))
    return text


def _render(locale: str, name: str, rng: np.random.Generator) -> str:
    if locale == "bg" and rng.random() < 0.5:
        scheme = ("official", "bgn", "german", "french", "scholarly")[int(rng.integers(5))]
        return _cyrillic_latin(name, scheme)
    if locale == "zh" and rng.random() < 0.5:
        return _pinyin(name, rng)
    if locale == "th" and rng.random() < 0.5:
        return _thai_latin(name, rng)
    if locale == "ro":
        return _ro_variant(name, rng)
    return name


def _typo(text: str, rng: np.random.Generator) -> str:
    if len(text) < 3 or not text.isascii():
        return text
    k = int(rng.integers(1, len(text) - 1))
    op = int(rng.integers(4))
    letter = "abcdefghijklmnopqrstuvwxyz"[int(rng.integers(26))]
    if op == 0:
        return text[:k] + text[k + 1 :]
    if op == 1:
        return text[:k] + letter + text[k:]
    if op == 2:
        return text[:k] + letter + text[k + 1 :]
    return text[: k - 1] + text[k] + text[k - 1] + text[k + 1 :]


def _date(y: int, m: int, d: int, rng: np.random.Generator) -> str:
    r = rng.random()
    if r < 0.10:
        return ""
    if r < 0.22:
        return f"{y:04d}"
    if r < 0.28:
        return f"{y:04d}-{m:02d}"
    if r < 0.33 and d <= 12:
        m, d = d, m
    elif r < 0.36:
        d = int(rng.integers(1, 29))
    return f"{y:04d}-{m:02d}-{d:02d}"


def _person(rng: np.random.Generator) -> tuple[str, list[str], str, tuple[int, int, int]]:
    locale = LOCALES[int(rng.integers(len(LOCALES)))]
    given = _pool(locale, "given")
    n_given = 2 if locale in ("ro", "ng") and rng.random() < 0.25 else 1
    names = [given[int(rng.integers(len(given)))] for _ in range(n_given)]
    family = _pool(locale, "family")
    dob = (int(rng.integers(1950, 2010)), int(rng.integers(1, 13)), int(rng.integers(1, 29)))
    return locale, names, family[int(rng.integers(len(family)))], dob


def _record(
    person: tuple[str, list[str], str, tuple[int, int, int]], rng: np.random.Generator
) -> tuple[str, str, str]:
    locale, names, family_name, (y, m, d) = person
    kept = names[:1] if len(names) > 1 and rng.random() < 0.3 else names
    given = " ".join(_render(locale, g, rng) for g in kept)
    family = _render(locale, family_name, rng)
    if rng.random() < 0.2:
        if rng.random() < 0.5:
            given = _typo(given, rng)
        else:
            family = _typo(family, rng)
    if rng.random() < 0.05:
        given = _HONORIFICS[locale][int(rng.integers(2))] + given
    if rng.random() < 0.1:
        given, family = family, given
    return given, family, _date(y, m, d, rng)


def make_lists(n: int = 1000, *, overlap: float = 0.1, seed: int = 0) -> SyntheticLists:
    """Two lists of ``n`` records each, ``round(overlap * n)`` of them shared.

    Parameters
    ----------
    n : int
        Records per list.
    overlap : float
        Fraction of each list's records whose person is also in the other list.
    seed : int
        Seed of the generator (training and test data use different seeds).

    Returns
    -------
    SyntheticLists
        ``left`` and ``right`` with columns ``record_id``, ``given_name``,
        ``family_name``, ``date_of_birth``, rows in random order, and the true
        links.

    Examples
    --------
    >>> s = make_lists(50, seed=1)
    >>> len(s.left), len(s.right), len(s.links)
    (50, 50, 5)
    """
    rng = np.random.default_rng(seed)
    shared = round(overlap * n)
    people = [_person(rng) for _ in range(2 * n - shared)]
    left_people = list(range(n))
    right_people = list(range(shared)) + list(range(n, 2 * n - shared))
    frames = []
    ids: list[list[str]] = []
    for side, members in (("L", left_people), ("R", right_people)):
        order = rng.permutation(len(members))
        rows = [_record(people[members[k]], rng) for k in order]
        rec_ids = [f"{side}{k:06d}" for k in range(len(members))]
        ids.append([f"{side}{int(np.where(order == j)[0][0]):06d}" for j in range(len(members))])
        frames.append(
            pd.DataFrame(
                {
                    "record_id": rec_ids,
                    "given_name": [r[0] for r in rows],
                    "family_name": [r[1] for r in rows],
                    "date_of_birth": [r[2] for r in rows],
                }
            )
        )
    links = frozenset((ids[0][p], ids[1][p]) for p in range(shared))
    return SyntheticLists(frames[0], frames[1], links)
