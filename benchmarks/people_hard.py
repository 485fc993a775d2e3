"""A harder labelled person generator, in FEBRL's column layout, for entity-resolution benchmarks.

Why another generator: ``dataops_platform.samples.people`` is the data the fixed weights were set
on, and FEBRL is one public set; a matcher tuned on either can still fail on data shaped
differently. This one draws people from other name and place pools and corrupts duplicates
the way real registrations do:

- keyboard typos (a neighbouring key), OCR confusions (0/o, 1/l, 5/s, rn/m, cl/d), phonetic
  respellings (ph/f, ck/k, ie/ei, ou/u, th/t, y/i), dropped and doubled letters;
- missing values (any field; the id in many records), swapped given name and surname,
  address lines swapped, day and month of the birth date swapped, a digit of the id or
  postcode wrong, an invalid birth date (day 31 of a 30-day month), nicknames and initials,
  abbreviations (street -> st, road -> rd, north -> n), whitespace and case noise;
- clusters of 1 to 6 records per person (the share of each size depends on the set), and
  look-alikes: relatives at one address (same surname, street, postcode; siblings and twins
  with their own given names, a parent and child with the same given name) and namesakes.

Columns: rec_id (``rec-<person>-org`` / ``rec-<person>-dup-<k>``, the truth), given_name,
surname, street_number, address_1, address_2, suburb, postcode, state, date_of_birth
(YYYYMMDD), soc_sec_id. Same seed, same records.

    from people_hard import SHAPES, generate
    frames = generate("clusters", seed=1)   # dataset name -> DataFrame
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pandas as pd


def _words(text: str) -> list[str]:
    return text.split()


GIVEN = _words(
    "aiko amara anders astrid bao beatriz bjorn bronwyn caoimhe chidi chiara dagny darius "
    "deepika dmitri eero elif emeka esperanza farah fenna finnegan folasade gaspard guadalupe "
    "hamid hanne haruto ines ingrid ivo jarrah jovana kalani kasimir kemal keziah lachlan "
    "leilani lorenzo lucia magnus mahala malak marisol mateus mirela nadia nikolai noor oisin "
    "olamide olek paloma pernille quinn radek rafaela ravi rhiannon rosalind rustam saoirse "
    "sebastiao senna siobhan sunniva tadeo tamsin teodor thandiwe tobiah ulla vesna viggo "
    "wairimu xiomara yannick yara yusra zbigniew zofia zuri adriana benedikt cosima dorothea "
    "emilian florentina gottfried hieronymus isadora jolanda konstantin leopoldine maximiliane "
    "nepomuk ottilie philippa quirin rosamunde sieglinde theodora valentin wilhelmina"
)
NICK = {"nikolai": "kolya", "konstantin": "kostya", "philippa": "pippa", "theodora": "thea",
        "wilhelmina": "mina", "maximiliane": "maxi", "benedikt": "ben", "valentin": "val",
        "florentina": "flo", "dorothea": "dora", "sebastiao": "tiao", "rosalind": "ros",
        "lachlan": "lachie", "gottfried": "gottfried", "isadora": "izzy"}
SURNAME = _words(
    "abernethy achterberg adeyemi albrecht alvarado amundsen antonelli archuleta bakshi balogun "
    "bergqvist blackwood bogdanovic brennan calloway carvalho castellano chakraborty dabrowski "
    "delacroix doherty dragomir eastwood eklund fairweather falkenrath fitzgerald gallagher "
    "gonzaga grünewald hakobyan halvorsen hernandez honeycutt iwasaki jankowski jessop "
    "kaczmarek kavanagh kowalczyk lindqvist lombardi macallister mahlangu marchetti mcnamara "
    "mendelsohn montgomery nakamura nascimento obradovic okonkwo olafsson pacheco pemberton "
    "quintero radcliffe rasmussen rinaldi rutherford sandoval schellenberg sigurdsson sokolova "
    "szczepanski takahashi thorvaldsen underwood valdivia vanderbilt wainwright wojcik yamamoto "
    "zielinski zimmerli smith nguyen kim tran patel"
)
COMMON = ("smith", "nguyen", "kim", "tran", "patel")  # a fifth of the people: frequent surnames
STREETS = _words(
    "acacia banksia bellbird boronia brolga callistemon coolabah currawong dampier eucalypt "
    "flinders grevillea hakea ironbark jacaranda kookaburra lilly pilly macadamia mulga nardoo "
    "paperbark quandong riverina saltbush stringybark tallowwood waratah wattle yarran"
)
KINDS = ("street", "road", "avenue", "crescent", "place", "close", "drive", "parade", "court")
ABBR = {"street": "st", "road": "rd", "avenue": "ave", "crescent": "cres", "place": "pl",
        "close": "cl", "drive": "dr", "parade": "pde", "court": "ct", "north": "n", "south": "s",
        "mount": "mt", "saint": "st"}
PLACES = ("north ryde", "south yarra", "mount gambier", "saint marys", "port pirie", "alice springs",
          "broken hill", "coffs harbour", "wagga wagga", "echuca", "mildura", "toowoomba",
          "geraldton", "kalgoorlie", "bunbury", "launceston", "devonport", "ballarat",
          "bendigo", "shepparton", "orange", "dubbo", "tamworth", "armidale", "lismore",
          "bundaberg", "mackay", "rockhampton", "gladstone", "cairns", "katherine", "whyalla")
BUILDINGS = ("", "", "", "unit 4", "flat 2", "rear", "the grange", "rosebank", "lot 7",
             "ivy cottage", "building c", "level 3")
STATES = ("nsw", "vic", "qld", "wa", "sa", "tas", "act", "nt")
KEYBOARD = {c: n for c, n in zip("qwertyuiopasdfghjklzxcvbnm",
                                 ["wa", "qes", "wrd", "etf", "ryg", "tuh", "yij", "uok", "ipl", "ol",
                                  "qsz", "awdx", "sefc", "drgv", "fthb", "gyjn", "hukm", "jilm", "kop",
                                  "asx", "zsdc", "xdfv", "cfgb", "vghn", "bhjm", "njk"], strict=True)}
OCR = (("0", "o"), ("o", "0"), ("1", "l"), ("l", "1"), ("5", "s"), ("s", "5"), ("m", "rn"),
       ("rn", "m"), ("d", "cl"), ("8", "b"), ("e", "c"))
PHONETIC = (("ph", "f"), ("f", "ph"), ("ck", "k"), ("k", "ck"), ("ie", "ei"), ("ei", "ie"),
            ("ou", "u"), ("th", "t"), ("y", "i"), ("i", "y"), ("c", "k"), ("z", "s"), ("v", "w"))


@dataclass(frozen=True)
class Shape:
    """How one data set is built."""

    people: int
    sizes: tuple[float, ...]   # share of people with 1, 2, ... records
    corruptions: float         # mean corruptions per duplicate
    missing: float             # chance each field of a duplicate is blank
    id_missing: float          # chance a record has no soc_sec_id
    relatives: float           # share of people who get a relative at their address
    link: bool = False         # two files (org in A, one duplicate in B) instead of one


SHAPES = {
    "pairs": Shape(3300, (0.5, 0.5), 1.5, 0.03, 0.2, 0.08),
    "clusters": Shape(1800, (0.25, 0.2, 0.2, 0.15, 0.1, 0.1), 2.0, 0.05, 0.3, 0.1),
    "messy": Shape(2000, (0.3, 0.3, 0.2, 0.1, 0.05, 0.05), 3.0, 0.12, 0.5, 0.1),
    "families": Shape(2000, (0.35, 0.3, 0.2, 0.15), 1.5, 0.05, 0.4, 0.5),
    "link": Shape(5000, (0.0, 1.0), 2.0, 0.06, 0.3, 0.1, link=True),
}


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 2:
        return text
    kind = rng.random()
    i = rng.randrange(len(text))
    if kind < 0.3 and text[i] in KEYBOARD:  # neighbouring key
        return text[:i] + rng.choice(KEYBOARD[text[i]]) + text[i + 1:]
    if kind < 0.45:
        pairs = [p for p in OCR if p[0] in text]
        if pairs:
            a, b = rng.choice(pairs)
            return text.replace(a, b, 1)
    if kind < 0.65:
        pairs = [p for p in PHONETIC if p[0] in text]
        if pairs:
            a, b = rng.choice(pairs)
            return text.replace(a, b, 1)
    if kind < 0.8:
        return text[:i] + text[i + 1:]  # dropped letter
    if kind < 0.9 and i + 1 < len(text):
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]  # transposed
    return text[:i] + text[i] + text[i:]  # doubled


def _abbreviate(text: str) -> str:
    return " ".join(ABBR.get(w, w) for w in text.split())


def _person(rng: random.Random) -> dict[str, str]:
    surname = rng.choice(COMMON) if rng.random() < 0.2 else rng.choice(SURNAME)
    year, month, day = rng.randint(1920, 2008), rng.randint(1, 12), rng.randint(1, 28)
    return {"given_name": rng.choice(GIVEN), "surname": surname,
            "street_number": str(rng.randint(1, 400)),
            "address_1": f"{rng.choice(STREETS)} {rng.choice(KINDS)}",
            "address_2": rng.choice(BUILDINGS), "suburb": rng.choice(PLACES),
            "postcode": str(rng.randint(800, 7999)).zfill(4), "state": rng.choice(STATES),
            "date_of_birth": f"{year}{month:02d}{day:02d}",
            "soc_sec_id": str(rng.randint(1_000_000, 9_999_999))}


def _relative(rng: random.Random, person: dict[str, str]) -> dict[str, str]:
    """Someone else at the same address: sibling, twin or a parent/child namesake."""
    other = _person(rng)
    for field in ("surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state"):
        other[field] = person[field]
    kind = rng.random()
    if kind < 0.3:  # twin: same birth date, own given name
        other["date_of_birth"] = person["date_of_birth"]
    elif kind < 0.5:  # parent and child with one given name, a generation apart
        other["given_name"] = person["given_name"]
        year = int(person["date_of_birth"][:4])
        other["date_of_birth"] = f"{year - rng.randint(22, 40)}{other['date_of_birth'][4:]}"
    return other


def _corrupt(rng: random.Random, record: dict[str, str], shape: Shape) -> dict[str, str]:
    """A duplicate of ``record`` with about ``shape.corruptions`` errors. Birth years stay in
    1900-2099: a typed date past 2262-04-11 makes DuckDB's SUMMARIZE (the cleaned step's
    column profile) fail with a ConversionException, which is a platform bug of its own."""
    out = dict(record)
    for _ in range(max(1, round(rng.expovariate(1 / shape.corruptions)))):
        what = rng.random()
        if what < 0.30:
            field = rng.choice(["given_name", "surname", "address_1", "suburb", "address_2"])
            if out[field]:
                out[field] = _typo(rng, out[field])
        elif what < 0.38:
            out["given_name"], out["surname"] = out["surname"], out["given_name"]
        elif what < 0.45:
            out["address_1"], out["address_2"] = out["address_2"], out["address_1"]
        elif what < 0.53:
            d = out["date_of_birth"]
            if len(d) == 8 and int(d[6:]) <= 12:
                out["date_of_birth"] = d[:4] + d[6:] + d[4:6]  # day and month swapped
            elif len(d) == 8:  # one digit wrong (not the century: see _corrupt's docstring)
                i = rng.randrange(2, 8)
                out["date_of_birth"] = d[:i] + str(rng.randint(0, 9)) + d[i + 1:]
        elif what < 0.57:
            d = out["date_of_birth"]
            if len(d) == 8 and d[4:6] in ("04", "06", "09", "11"):
                out["date_of_birth"] = d[:6] + "31"  # no such day
            else:
                out["date_of_birth"] = d[:2] + d[3] + d[2] + d[4:] if len(d) == 8 else d  # 1962 -> 1926
        elif what < 0.64:
            for field in ("soc_sec_id", "postcode", "street_number"):
                if out[field] and rng.random() < 0.5:
                    i = rng.randrange(len(out[field]))
                    out[field] = out[field][:i] + str(rng.randint(0, 9)) + out[field][i + 1:]
                    break
        elif what < 0.74:
            for field in ("address_1", "suburb"):
                out[field] = _abbreviate(out[field])
        elif what < 0.82:
            name = out["given_name"]
            out["given_name"] = NICK.get(name, name[:1]) if rng.random() < 0.6 else name[:1]
        elif what < 0.9:
            field = rng.choice(list(out))
            out[field] = f"  {out[field].upper()} " if rng.random() < 0.5 else out[field].title()
        else:
            field = rng.choice(["suburb", "address_1", "surname"])
            out[field] = out[field].replace(" ", "") if " " in out[field] else out[field] + " "
    for field in out:
        if rng.random() < shape.missing:
            out[field] = ""
    if rng.random() < shape.id_missing:
        out["soc_sec_id"] = ""
    return out


def generate(shape_name: str, seed: int = 1) -> dict[str, pd.DataFrame]:
    """Dataset name -> records (``rec_id`` carries the truth); one dataset, two when linking."""
    shape = SHAPES[shape_name]
    rng = random.Random(f"{shape_name}-{seed}")
    people = []
    while len(people) < shape.people:
        person = _person(rng)
        people.append(person)
        if rng.random() < shape.relatives and len(people) < shape.people:
            people.append(_relative(rng, person))
    rows_a, rows_b = [], []
    for p, person in enumerate(people):
        size = rng.choices(range(1, len(shape.sizes) + 1), weights=shape.sizes)[0]
        original = dict(person)
        if rng.random() < shape.id_missing:
            original["soc_sec_id"] = ""
        rows_a.append({"rec_id": f"rec-{p}-org", **original})
        for k in range(size - 1):
            dup = {"rec_id": f"rec-{p}-dup-{k}", **_corrupt(rng, person, shape)}
            (rows_b if shape.link else rows_a).append(dup)
    if shape.link:
        return {f"{shape_name}_a": pd.DataFrame(rows_a), f"{shape_name}_b": pd.DataFrame(rows_b)}
    rng.shuffle(rows_a)
    return {shape_name: pd.DataFrame(rows_a)}
