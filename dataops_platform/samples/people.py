"""Seeded, labelled person records in two sources (crm, webshop) for entity resolution.

Why: a matcher can only be judged against known truth. Every record carries the entity it was
made from (``truth``), duplicates carry the corruptions real systems produce (typos, swapped
first/last names, nicknames, missing fields, transposed dates, case/whitespace noise, email
variants), and distinct people are made to look alike (namesakes in the same city, siblings
and twins at one address, parent and child with one name) so precision is tested, not only
recall. Same seed, same records.

    records, truth = generate_people(100_000)
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import pandas as pd

from dataops_platform.resolve.nicknames import NICKNAMES

SOURCES = ("crm", "webshop")


def _words(text: str) -> list[str]:
    return text.split()


FIELDS = ("first_name", "last_name", "email", "birth_date", "city", "postcode")

_FIRST = _words(
    "james john robert michael william david richard joseph thomas charles christopher daniel "
    "matthew anthony andrew edward alexander benjamin samuel nicholas stephen peter timothy "
    "patrick gregory wolfgang friedrich heinrich juergen mary patricia jennifer linda elizabeth "
    "barbara susan jessica sarah karen nancy lisa margaret betty sandra ashley dorothy kimberly "
    "emily donna michelle carol amanda melissa deborah stephanie rebecca laura sharon cynthia "
    "kathleen amy shirley angela helen anna brenda pamela nicole emma samantha katherine "
    "christina debra rachel catherine carolyn janet ruth maria heather diane virginia julie "
    "joyce victoria olivia kelly christine lauren joan evelyn judith megan cheryl andrea hannah "
    "martha jacqueline frances gloria ann teresa kathryn sara janice jean alice madison doris "
    "abigail julia judy grace denise amber marilyn beverly danielle theresa sophia marie diana "
    "brittany natalie isabella charlotte rose alexis kayla lukas leon finn jonas elias noah "
    "paul felix maximilian moritz julian tim jan niklas tobias florian sebastian simon fabian "
    "dominik marco kevin dennis marcel sven lars jens dirk uwe frank ralf bernd klaus dieter "
    "manfred helmut gerhard werner hans ursula ingrid renate gisela monika petra sabine "
    "claudia birgit susanne andrea nicole stefanie katrin anja silke tanja lena lea mia "
    "laura leonie sophie johanna luisa clara ella marlene frieda greta ida mathilda oskar "
    "emil anton henry theo karl ole mats milan rafael omar ali mehmet ahmet yusuf fatma ayse "
    "elif zeynep mustafa hasan ibrahim giuseppe giovanni antonio francesco luca marco paolo "
    "sofia giulia chiara francesca alessandro lorenzo matteo pierre jean louis hugo chloe "
    "camille lea manon ines lucas gabriel arthur raphael jose carlos juan luis miguel pedro "
    "carmen lucia elena marta pablo diego javier sergio adrian"
)
_LAST_COMMON = _words(
    "smith johnson williams brown jones miller davis garcia rodriguez wilson martinez anderson "
    "taylor thomas hernandez moore martin jackson thompson white lopez lee gonzalez harris "
    "clark lewis robinson walker perez hall young allen sanchez wright king scott green baker "
    "adams nelson hill ramirez campbell mitchell roberts carter phillips evans turner torres "
    "parker collins edwards stewart flores morris nguyen murphy rivera cook rogers morgan "
    "peterson cooper reed bailey bell gomez kelly howard ward cox diaz richardson wood watson "
    "brooks bennett gray james reyes cruz hughes price myers long foster sanders ross morales "
    "powell sullivan russell ortiz jenkins gutierrez perry butler barnes fisher henderson "
    "mueller schmidt schneider fischer weber meyer wagner becker schulz hoffmann schaefer koch "
    "bauer richter klein wolf schroeder neumann schwarz zimmermann braun krueger hofmann "
    "hartmann lange schmitt werner schmitz krause meier lehmann schmid schulze maier koehler "
    "herrmann koenig walter mayer huber kaiser fuchs peters lang scholz moeller weiss jung hahn "
    "keller vogel friedrich gunther rossi russo ferrari esposito bianchi romano colombo ricci "
    "marino greco bruno gallo conti deluca costa giordano mancini rizzo lombardi moretti "
    "dubois durand leroy moreau simon laurent lefebvre michel bertrand roux vincent fournier "
    "yilmaz kaya demir sahin celik yildiz yildirim ozturk aydin ozdemir arslan dogan kilic"
)
_SYLLABLES_A = ("ber", "gar", "hol", "kin", "lor", "man", "nor", "ost", "pen", "ros", "sal", "tor",
                "wal", "win", "ash", "bren", "cal", "dorn", "el", "fair", "gold", "hart", "lin",
                "mar", "ried", "stein", "thal", "brink", "feld", "kamp", "lind", "mor", "ull")
_SYLLABLES_B = ("man", "son", "ford", "ton", "berg", "mann", "er", "ley", "wood", "stein", "hof",
                "feld", "dorf", "ing", "sen", "kamp", "well", "by", "ham", "rich", "land", "rick")
_CITIES = _words(
    "berlin hamburg munich cologne frankfurt stuttgart duesseldorf leipzig dortmund essen bremen "
    "dresden hanover nuremberg duisburg bochum wuppertal bielefeld bonn muenster mannheim "
    "karlsruhe augsburg wiesbaden moenchengladbach gelsenkirchen aachen braunschweig kiel "
    "chemnitz halle magdeburg freiburg krefeld mainz luebeck erfurt oberhausen rostock kassel "
    "hagen potsdam saarbruecken hamm ludwigshafen oldenburg muelheim osnabrueck leverkusen "
    "heidelberg darmstadt solingen regensburg herne paderborn neuss ingolstadt offenbach "
    "fuerth ulm heilbronn pforzheim wuerzburg wolfsburg goettingen bottrop reutlingen koblenz "
    "bremerhaven recklinghausen erlangen bergisch-gladbach remscheid jena trier salzgitter "
    "moers siegen hildesheim cottbus gutersloh kaiserslautern witten hanau schwerin esslingen"
)
_DOMAINS = ("gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com", "web.de", "gmx.de",
            "gmx.net", "t-online.de", "hotmail.com", "icloud.com", "posteo.de", "mail.de")
_KEYBOARD = "qwertyuiopasdfghjklzxcvbnm"
_NICK_OF = {canonical: variants for canonical, variants in NICKNAMES.items()}


def _build_pools(rng: random.Random) -> tuple[list[str], list[float], list[str], list[float]]:
    """Name pools with Zipf-like weights: a few very common names, a long tail of rare ones."""
    synthetic = sorted({a + b for a in _SYLLABLES_A for b in _SYLLABLES_B} - set(_LAST_COMMON))
    last = list(_LAST_COMMON) + synthetic
    last_w = [1.0 / (i + 1) ** 0.9 for i in range(len(_LAST_COMMON))] + [0.004] * len(synthetic)
    first = list(dict.fromkeys(_FIRST))
    first_w = [1.0 / (i + 1) ** 0.6 for i in range(len(first))]
    order = list(range(len(first)))
    rng.shuffle(order)  # so the common first names are not all the English ones
    first = [first[i] for i in order]
    return first, first_w, last, last_w


def _postcodes(rng: random.Random) -> dict[str, list[str]]:
    """Each city gets its own block of 5-digit postcodes (between 5 and 60)."""
    out: dict[str, list[str]] = {}
    for i, city in enumerate(_CITIES):
        base = 10000 + i * 900
        out[city] = [f"{base + rng.randrange(900):05d}" for _ in range(rng.randint(5, 60))]
    return out


def _email(first: str, last: str, born: date | None, rng: random.Random) -> str:
    pattern = rng.randrange(6)
    year = born.year % 100 if born else rng.randrange(100)
    local = (f"{first}.{last}", f"{first[0]}{last}", f"{first}{last}{year:02d}",
             f"{first}_{last}{rng.randrange(1000)}", f"{last}.{first}",
             f"{first}{rng.randrange(10000)}")[pattern]
    return f"{local}@{rng.choice(_DOMAINS)}"


def _birth(rng: random.Random) -> date:
    return date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 66))


# --- corruptions (each takes and returns a person dict; fields that are absent are skipped) ---


def _typo(value: str, rng: random.Random) -> str:
    """One keyboard slip: substitute, drop, double or swap adjacent letters."""
    if len(value) < 3:
        return value
    i = rng.randrange(1, len(value) - 1)  # not the first letter: people rarely get that wrong
    kind = rng.randrange(4)
    if kind == 0:
        return value[:i] + rng.choice(_KEYBOARD) + value[i + 1:]
    if kind == 1:
        return value[:i] + value[i + 1:]
    if kind == 2:
        return value[:i] + value[i] + value[i:]
    return value[:i] + value[i + 1] + value[i] + value[i + 2:]


def _date_error(value: str, rng: random.Random) -> str:
    """One digit wrong, two adjacent digits transposed, or day and month swapped."""
    y, m, d = value[:4], value[5:7], value[8:10]
    kind = rng.randrange(3)
    if kind == 2 and int(d) <= 12 and d != m:
        return f"{y}-{d}-{m}"
    digits = list(y + m + d)
    if kind == 1:
        i = rng.choice([2, 3, 4, 6])  # within year tail, month or day
        if digits[i] != digits[i + 1]:
            digits[i], digits[i + 1] = digits[i + 1], digits[i]
            s = "".join(digits)
            return f"{s[:4]}-{s[4:6]}-{s[6:]}"
    i = rng.choice([3, 5, 7])
    digits[i] = str((int(digits[i]) + rng.randint(1, 8)) % 10)
    s = "".join(digits)
    return f"{s[:4]}-{s[4:6]}-{s[6:]}"


def _email_variant(value: str, person: dict[str, Any], rng: random.Random) -> str:
    local, _, domain = value.partition("@")
    kind = rng.randrange(5)
    if kind == 0:
        return value.upper() if rng.random() < 0.5 else value.capitalize()
    if kind == 1:
        return f"{local}+{rng.choice(['shop', 'news', 'spam', 'web'])}@{domain}"
    if kind == 2 and domain == "gmail.com" and "." not in local and len(local) > 4:
        i = rng.randrange(1, len(local) - 1)
        return f"{local[:i]}.{local[i:]}@{domain}"
    if kind == 2 and domain == "gmail.com":
        return f"{local.replace('.', '')}@googlemail.com"
    if kind == 3:
        return f"{_typo(local, rng)}@{domain}"
    first = (person.get("first_name") or "x").strip().lower() or "x"
    last = (person.get("last_name") or "y").strip().lower() or "y"
    other = _email(first, last, None, rng)  # a different address altogether; the suffix keeps
    local, _, domain = other.partition("@")  # it from being another person's real address
    return f"{local}{rng.randrange(100, 1000)}@{domain}"


def _nickname(value: str, rng: random.Random) -> str:
    key = value.strip().lower()
    if key in _NICK_OF:
        nick = rng.choice(_NICK_OF[key])
        return nick.capitalize() if value[:1].isupper() else nick
    for canonical, variants in _NICK_OF.items():
        if key in variants:
            return canonical.capitalize() if value[:1].isupper() else canonical
    return value


def _noise(value: str, rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return value.upper()
    if kind == 1:
        return value.lower()
    if kind == 2:
        return f"  {value} "
    return value.title()


def corrupt_person(row: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A plausible second-system copy of a person: one to three corruptions plus case noise.

    Works on any subset of first_name, last_name, email, birth_date, city, postcode, country
    (other keys are copied unchanged); never blanks both names, and blanks at most one field.
    """
    out = dict(row)
    has = {k for k in ("first_name", "last_name", "email", "birth_date", "city", "postcode", "country")
           if out.get(k)}
    options = ["typo_first", "typo_last"]
    if {"first_name", "last_name"} <= has:
        options.append("swap")
    if "first_name" in has:
        options += ["nickname", "nickname"]
    if "birth_date" in has:
        options += ["date", "date"]
    if "email" in has:
        options += ["email", "email"]
    if has & {"email", "birth_date", "city", "postcode", "country"}:
        options.append("missing")
    if "city" in has:
        options.append("typo_city")
    chosen = rng.sample(options, k=min(len(options), rng.choice((1, 1, 2, 2, 3))))
    for kind in chosen:
        if kind == "typo_first" and out.get("first_name"):
            out["first_name"] = _typo(out["first_name"], rng)
        elif kind == "typo_last" and out.get("last_name"):
            out["last_name"] = _typo(out["last_name"], rng)
        elif kind == "swap":
            out["first_name"], out["last_name"] = out["last_name"], out["first_name"]
        elif kind == "nickname" and out.get("first_name"):
            out["first_name"] = _nickname(out["first_name"], rng)
        elif kind == "date" and out.get("birth_date"):
            out["birth_date"] = _date_error(out["birth_date"], rng)
        elif kind == "email" and out.get("email"):
            out["email"] = _email_variant(out["email"], out, rng)
        elif kind == "missing":
            blank = [k for k in ("email", "birth_date", "city", "postcode", "country") if out.get(k)]
            if blank:
                out[rng.choice(blank)] = None
        elif kind == "typo_city" and out.get("city"):
            out["city"] = _typo(out["city"], rng)
    for key in ("first_name", "last_name", "city"):
        if out.get(key) and rng.random() < 0.35:
            out[key] = _noise(out[key], rng)
    return out


# --- the generator ----------------------------------------------------------------------------


class _People:
    """Makes base people; a fraction are look-alikes of an earlier person."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.first, self.first_w, self.last, self.last_w = _build_pools(rng)
        self.postcodes = _postcodes(rng)
        self.cities = list(self.postcodes)
        self.city_w = [1.0 / (i + 1) ** 0.7 for i in range(len(self.cities))]
        self.made: list[dict[str, Any]] = []
        self.emails: set[str] = set()

    def _first(self, avoid: str | None = None) -> str:
        while True:
            name = self.rng.choices(self.first, self.first_w)[0]
            if name != avoid:
                return name

    def unique_email(self, first: str, last: str, born: date) -> str:
        """An address no other person has (two John Smiths cannot share john.smith@gmail.com)."""
        email = _email(first, last, born, self.rng)
        while email in self.emails:
            local, _, domain = email.partition("@")
            email = f"{local}{self.rng.randrange(100)}@{domain}"
        self.emails.add(email)
        return email

    def fresh(self) -> dict[str, Any]:
        rng = self.rng
        first = self._first()
        last = rng.choices(self.last, self.last_w)[0]
        city = rng.choices(self.cities, self.city_w)[0]
        born = _birth(rng)
        return {"first_name": first, "last_name": last, "email": self.unique_email(first, last, born),
                "birth_date": born.isoformat(), "city": city,
                "postcode": rng.choice(self.postcodes[city])}

    def lookalike(self) -> dict[str, Any]:
        """A different person sharing much with an earlier one."""
        rng = self.rng
        base = rng.choice(self.made)
        person = self.fresh()
        kind = rng.randrange(4)
        person["last_name"] = base["last_name"]
        person["city"] = base["city"]
        base_born = date.fromisoformat(base["birth_date"])
        if kind == 0:  # namesake in the same city
            person["first_name"] = base["first_name"]
        elif kind == 1:  # sibling at the same address
            person["first_name"] = self._first(avoid=base["first_name"])
            person["postcode"] = base["postcode"]
            person["birth_date"] = (base_born + timedelta(days=rng.choice([-1, 1]) * rng.randint(300, 3000))
                                    ).isoformat()
        elif kind == 2:  # twin: same birthday and address, other first name
            person["first_name"] = self._first(avoid=base["first_name"])
            person["postcode"] = base["postcode"]
            person["birth_date"] = base["birth_date"]
        else:  # parent/child with the same name at the same address
            person["first_name"] = base["first_name"]
            person["postcode"] = base["postcode"]
            gap = timedelta(days=rng.randint(20 * 365, 35 * 365))
            child = base_born + gap
            person["birth_date"] = (child if child.year <= 2008 else base_born - gap).isoformat()
        person["email"] = self.unique_email(person["first_name"], person["last_name"],
                                            date.fromisoformat(person["birth_date"]))
        return person

    def person(self) -> dict[str, Any]:
        person = self.lookalike() if self.made and self.rng.random() < 0.15 else self.fresh()
        if len(self.made) < 50_000:
            self.made.append(person)
        else:
            self.made[self.rng.randrange(50_000)] = person
        return person


def _presented(person: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """How the first system stores a person: capitalised names, sometimes a field missing."""
    out = dict(person)
    out["first_name"] = out["first_name"].capitalize()
    out["last_name"] = out["last_name"].capitalize()
    out["city"] = out["city"].capitalize()
    if rng.random() < 0.05:
        out[rng.choice(["email", "birth_date", "postcode"])] = None
    return out


def generate_people(n_records: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n_records`` person records in two sources and their truth.

    About 55% of entities appear once, 37% twice (mostly once per source) and 8% three
    times; 15% of entities are look-alikes of an earlier one. Returns (records: record_id,
    source and the FIELDS as text, ISO dates; truth: record_id, true_entity), shuffled.
    """
    rng = random.Random(seed)
    people = _People(rng)
    rows: list[dict[str, Any]] = []
    truth: list[tuple[str, int]] = []
    counters = dict.fromkeys(SOURCES, 0)
    entity = 0
    while len(rows) < n_records:
        entity += 1
        person = people.person()
        copies = min(rng.choices((1, 2, 3), (55, 37, 8))[0], n_records - len(rows))
        first_source = rng.choice(SOURCES)
        for i in range(copies):
            if i == 0:
                source, record = first_source, _presented(person, rng)
            else:
                other = SOURCES[1 - SOURCES.index(first_source)]
                source = other if rng.random() < 0.8 else first_source
                record = corrupt_person(_presented(person, rng), rng)
            counters[source] += 1
            record_id = f"{source}:{counters[source]}"
            rows.append({"record_id": record_id, "source": source,
                         **{k: record.get(k) for k in FIELDS}})
            truth.append((record_id, entity))
    order = list(range(len(rows)))
    rng.shuffle(order)
    records = pd.DataFrame([rows[i] for i in order], columns=["record_id", "source", *FIELDS])
    labels = pd.DataFrame([truth[i] for i in order], columns=["record_id", "true_entity"])
    return records, labels
