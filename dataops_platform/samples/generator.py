"""Seeded demo data: the three demo datasets exactly as their source systems deliver them.

Why: the platform earns its keep on *dirty* files, so the demo needs files whose dirt is known.
Every planted problem is tallied in ``GeneratedFiles.expected``, so tests assert against planted
truth instead of against whatever the pipeline happens to produce. All values derive from the
seed and a fixed base date (never ``now()``), so the same seed gives byte-identical files.

Dirty rows carry exactly one planted violation each, and duplicates are copied from clean rows
only, so every count is the same whether it is taken before or after de-duplication. Orders
reference only customers and products that are fully clean, so "unknown customer/sku" counts
do not depend on how the pipeline treats quarantined reference rows.

Regenerate the bundled sample with ``python -m dataops_platform.samples.generator``.
"""

from __future__ import annotations

import csv
import json
import random
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

BASE_DATE = date(2026, 11, 1)  # fixed, so reruns are byte-identical

# --- source shapes (must match examples/webshop/webshop/defs/datasets/) ---------------------
CUSTOMER_HEADER = [
    "Kundennummer",
    "Vorname",
    "Nachname",
    "E-Mail",
    "Ort",
    "Land",
    "Anmeldedatum",
    "Segment",
]
CUSTOMER_DELIMITER = ";"
CUSTOMER_ENCODING = "latin-1"
CUSTOMER_NULL_MARKERS = ("", "NA", "n/a", "-")
ORDER_KEYS = (
    "order_id",
    "customer_id",
    "sku",
    "qty",
    "amount",
    "currency",
    "ordered_at",
    "status",
)
ORDER_REQUIRED = ("customer_id", "sku", "qty", "amount", "ordered_at")
PRODUCT_SCHEMA = pa.schema(
    [
        ("sku", pa.string()),
        ("product_name", pa.string()),
        ("category", pa.string()),
        ("price", pa.float64()),
        ("active", pa.bool_()),
        ("launched_on", pa.date32()),
    ]
)

SIGNUP_FORMATS = {"signup_iso": "%Y-%m-%d", "signup_dotted": "%d.%m.%Y", "signup_us": "%m/%d/%Y"}
ORDERED_AT_FORMATS = {
    "ordered_at_iso_t": "%Y-%m-%dT%H:%M:%S",
    "ordered_at_iso_space": "%Y-%m-%d %H:%M:%S",
    "ordered_at_dmy": "%d/%m/%Y %H:%M",
}
COUNTRIES = ("DE", "AT", "CH", "FR", "NL", "BE", "IT", "ES", "GB", "US")
SEGMENTS = ("consumer", "business")
CURRENCIES = ("EUR", "USD", "GBP")
STATUSES = ("placed", "shipped", "delivered", "cancelled", "returned")
CATEGORIES = {
    "books": "BOO",
    "electronics": "ELE",
    "garden": "GAR",
    "kitchen": "KIT",
    "toys": "TOY",
    "sports": "SPO",
}

# --- pools: every string is Latin-1 encodable and already in its standardized form ---------
FIRST_NAMES = (
    "Françoise",
    "Jürgen",
    "Sören",
    "Björn",
    "Chloé",
    "Hélène",
    "Jérôme",
    "Zoë",
    "Günther",
    "Anaïs",
    "Renée",
    "José",
    "Inês",
    "Jörg",
    "Käthe",
    "Øystein",
    "Léa",
    "Noël",
    "Maximilian",
    "Anna",
    "Lukas",
    "Sophie",
    "Emma",
    "Jean-Luc",
    "Marie",
    "Pieter",
    "Lotte",
    "Giulia",
    "Matteo",
    "Lucía",
    "Oliver",
    "Emily",
    "John",
    "Anna Maria",
)
LAST_NAMES = (
    "Müller",
    "Schäfer",
    "Köhler",
    "Krüger",
    "Schröder",
    "Gärtner",
    "Jäger",
    "Böhm",
    "Hübner",
    "Dupont",
    "Lefèvre",
    "Girard",
    "Rousseau",
    "Mercier",
    "Leclère",
    "Ménard",
    "Brunner",
    "Janssen",
    "De Vries",
    "Peeters",
    "Rossi",
    "Bianchi",
    "García",
    "Martínez",
    "Núñez",
    "Smith",
    "Brown",
    "Johnson",
    "Wagner",
    "Becker",
)
CITIES = {
    "DE": ("München", "Köln", "Düsseldorf", "Nürnberg", "Berlin", "Hamburg", "Lübeck", "Würzburg"),
    "AT": ("Wien", "Graz", "Linz", "Sankt Pölten"),
    "CH": ("Zürich", "Genève", "Bern", "Basel"),
    "FR": ("Paris", "Orléans", "Besançon", "Nîmes", "Saint-Étienne"),
    "NL": ("Amsterdam", "Utrecht", "Den Haag"),
    "BE": ("Bruxelles", "Liège", "Gent"),
    "IT": ("Milano", "Forlì", "Cantù"),
    "ES": ("Madrid", "Málaga", "Córdoba"),
    "GB": ("London", "Manchester"),
    "US": ("New York", "San José"),
}
COUNTRY_WEIGHTS = (40, 10, 10, 12, 6, 5, 5, 5, 4, 3)
EMAIL_DOMAINS = ("example.de", "example.com", "mail.example.fr", "example.ch", "example.at")
PRODUCT_WORDS = {
    "books": ("Roman", "Kochbuch", "Atlas", "Reiseführer", "Bildband"),
    "electronics": ("Kopfhörer", "Ladekabel", "Powerbank", "Lautsprecher", "Webcam"),
    "garden": ("Gartenschere", "Gießkanne", "Rasensprenger", "Pflanzkübel", "Laubrechen"),
    "kitchen": ("Küchenwaage", "Schneebesen", "Pfanne", "Messerblock", "Teekanne"),
    "toys": ("Puzzle", "Baukasten", "Plüschbär", "Kreisel", "Würfelspiel"),
    "sports": ("Springseil", "Yogamatte", "Trinkflasche", "Hantel", "Fußball"),
}
PRODUCT_ADJECTIVES = ("Classic", "Deluxe", "Mini", "Pro", "Öko", "Família", "Grand")

# --- dirt ------------------------------------------------------------------------------------
BAD_SIGNUP_DATES = ("31.02.2024", "soon", "2024-02-30", "13/13/2024", "unbekannt")
BAD_COUNTRIES = ("XX", "Germany", "Deutschland", "DEU", "Schweiz")
BAD_ORDERED_AT = (
    "yesterday",
    "{d:%Y}-13-01T10:00:00",
    "{d:%Y-%m-%d}T24:61:00",
    "{d:%d.%m.%Y} 10:00",
    "{d:%Y/%m/%d} 10:00:00",
    "n.a.",
)
UNKNOWN_STATUSES = ("pending", "on_hold", "lost", "refunded")
UNKNOWN_CATEGORIES = ("furniture", "misc", "clothing")
NULL_MARKERS_BY_COLUMN = {  # markers that stay markers after the column's standardization
    "Vorname": ("", "-"),
    "E-Mail": ("", "n/a", "-"),
    "Ort": ("", "-"),
    "Land": ("", "NA", "-"),
    "Segment": ("", "n/a", "-"),
}

CSV_CHUNK_ROWS = 200_000


@dataclass
class GeneratedFiles:
    """What was written, and the planted truth per dataset (counts over the delivered rows)."""

    files: list[Path]
    expected: dict[str, dict[str, int]] = field(default_factory=dict)
    # web-shop account -> the CRM customer it really is (None: not a CRM customer)
    webshop_truth: dict[str, int | None] = field(default_factory=dict)


CUSTOMER_KEYS = (
    "rows",
    "customer_ids",
    "exact_duplicates",
    "conflicting_duplicates",
    "bad_dates",
    "invalid_emails",
    "invalid_countries",
    "empty_last_names",
    "null_markers",
    "noisy_names",
    "noisy_emails",
    "noisy_cities",
    "noisy_countries",
    "noisy_segments",
    *SIGNUP_FORMATS,
)
ORDER_COUNT_KEYS = (
    "rows",
    "files",
    "order_ids",
    "exact_duplicates",
    "conflicting_order_ids",
    "bad_timestamps",
    "negative_amounts",
    "zero_qty",
    "unknown_statuses",
    "null_required",
    "null_optional",
    "unknown_customers",
    "unknown_skus",
    "string_customer_ids",
    "string_amounts",
    "noisy_skus",
    "noisy_currencies",
    "noisy_statuses",
    "shuffled_key_order",
    *ORDERED_AT_FORMATS,
    "resend_files",
    "resend_rows",
)
PRODUCT_KEYS = (
    "rows",
    "skus",
    "duplicate_skus",
    "malformed_skus",
    "negative_prices",
    "unknown_categories",
    "null_names",
    "noisy_skus",
    "noisy_categories",
)


def generate(out_dir: Path, rows: int = 2000, seed: int = 7, days: int = 3) -> GeneratedFiles:
    """Write customers (CSV), orders (NDJSON per day + one re-delivery) and products (Parquet).

    ``out_dir`` plays the landing folder: one sub-folder per dataset, as the contracts' globs
    expect. ``rows`` is the total number of order lines over the ``days`` daily files.
    """
    if rows < 50:
        raise ValueError(f"rows must be at least 50 to host every kind of planted dirt, got {rows}")
    if not 1 <= days <= rows // 10:
        raise ValueError(f"days must be between 1 and rows // 10, got {days}")
    rng = random.Random(seed)
    out_dir = Path(out_dir)
    n_customers = max(20, rows // 5)
    n_products = min(5000, max(60, rows // 30))

    customer_rows, customer_tally, customer_refs, customer_records = _customers(rng, n_customers)
    product_rows, product_tally, product_refs = _products(rng, n_products)
    day_lines, order_tally = _orders(
        rng, rows, days, customer_refs, product_refs, unknown_from=n_customers + 1000
    )

    files: list[Path] = []
    customers_path = out_dir / "customers" / f"customers_{BASE_DATE:%Y-%m-%d}.csv"
    customers_path.parent.mkdir(parents=True, exist_ok=True)
    with customers_path.open("w", encoding=CUSTOMER_ENCODING, newline="") as handle:
        writer = csv.writer(handle, delimiter=CUSTOMER_DELIMITER, lineterminator="\n")
        writer.writerow(CUSTOMER_HEADER)
        writer.writerows(customer_rows)
    files.append(customers_path)

    orders_dir = out_dir / "orders"
    orders_dir.mkdir(parents=True, exist_ok=True)
    first_day_bytes = b""
    for offset, lines in enumerate(day_lines):
        day = BASE_DATE + timedelta(days=offset)
        path = orders_dir / f"orders_{day:%Y-%m-%d}.ndjson"
        payload = "".join(line + "\n" for line in lines).encode("utf-8")
        path.write_bytes(payload)
        files.append(path)
        if offset == 0:
            first_day_bytes = payload
    resend = orders_dir / f"orders_{BASE_DATE:%Y-%m-%d}_resend.ndjson"
    resend.write_bytes(first_day_bytes)  # the source system re-delivered day one, unchanged
    files.append(resend)

    products_path = out_dir / "products" / "products.parquet"
    products_path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(product_rows, schema=PRODUCT_SCHEMA), products_path)
    files.append(products_path)

    # The next night's CRM snapshot: a few customers moved, a few are new (drawn last, so
    # the files above stay byte-identical to earlier versions of the generator).
    update_rows, update_tally = _customer_update(rng, customer_records, next_id=n_customers + 1)
    update_path = out_dir / "customers" / f"customers_{BASE_DATE + timedelta(days=1):%Y-%m-%d}.csv"
    with update_path.open("w", encoding=CUSTOMER_ENCODING, newline="") as handle:
        writer = csv.writer(handle, delimiter=CUSTOMER_DELIMITER, lineterminator="\n")
        writer.writerow(CUSTOMER_HEADER)
        writer.writerows(update_rows)
    files.insert(1, update_path)

    # The web shop's accounts: many are CRM customers who typed themselves in again (typos,
    # nicknames, swapped names, other email spellings); the rest are shop-only people, some
    # with the same name as a CRM customer. Its own generator: the files above stay as they were.
    webshop_rows, webshop_truth = _webshop(random.Random(seed + 1), customer_records)
    shop_day = BASE_DATE + timedelta(days=1)
    webshop_path = out_dir / "webshop_customers" / f"webshop_customers_{shop_day:%Y-%m-%d}.csv"
    webshop_path.parent.mkdir(parents=True, exist_ok=True)
    with webshop_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(WEBSHOP_HEADER)
        writer.writerows(webshop_rows)
    files.append(webshop_path)

    order_tally["files"] = days
    order_tally["resend_files"] = 1
    order_tally["resend_rows"] = len(day_lines[0])
    return GeneratedFiles(
        files=files,
        expected={
            "customers": _as_counts(customer_tally, CUSTOMER_KEYS),
            "orders": _as_counts(order_tally, ORDER_COUNT_KEYS),
            "products": _as_counts(product_tally, PRODUCT_KEYS),
            "customers_update": dict(update_tally),
            "webshop_customers": {
                "rows": len(webshop_rows),
                "crm_customers": sum(v is not None for v in webshop_truth.values()),
                "shop_only": sum(v is None for v in webshop_truth.values()),
            },
        },
        webshop_truth=webshop_truth,
    )


# --- helpers -------------------------------------------------------------------------------


def _as_counts(tally: Counter[str], keys: Sequence[str]) -> dict[str, int]:
    """Every known key present (zero when nothing was planted), in a stable order."""
    unknown = set(tally) - set(keys)
    if unknown:
        raise AssertionError(f"untracked tally keys {sorted(unknown)}")
    return {key: int(tally[key]) for key in keys}


def _assign_roles(rng: random.Random, n: int, quota: dict[str, int]) -> list[str | None]:
    """Give disjoint random rows one role each, so every dirty row carries exactly one problem."""
    wanted = sum(quota.values())
    if wanted > n:
        raise ValueError(f"{wanted} planted rows do not fit into {n} rows")
    roles: list[str | None] = [None] * n
    picked = rng.sample(range(n), wanted)
    position = 0
    for role, count in quota.items():
        for index in picked[position : position + count]:
            roles[index] = role
        position += count
    return roles


def _weighted(rng: random.Random, options: Sequence[str], weights: Sequence[float]) -> str:
    return rng.choices(options, weights=weights)[0]


def _later(rng: random.Random, position: int, length: int) -> float:
    """A sort key that places an extra row somewhere after ``position``."""
    return rng.uniform(position + 0.5, length)


def _name_noise(rng: random.Random, value: str) -> str:
    """Whitespace/case noise that trim + collapse_whitespace + title always undoes."""
    kind = rng.randrange(5)
    if kind == 0:
        return f"  {value.swapcase()}  "
    if kind == 1:
        return value.swapcase()
    if kind == 2:
        return value.upper()
    if kind == 3 and " " in value:
        return value.replace(" ", "   ", 1)
    return f" {value.lower()} "


_NO_DECOMPOSITION = str.maketrans({"Ø": "O", "ø": "o", "ß": "ss", "Æ": "AE", "æ": "ae"})


def _ascii(text: str) -> str:
    """E-mail local parts: ASCII-folded, as most CRMs do."""
    text = text.translate(_NO_DECOMPOSITION)
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9.-]", "", folded.lower())


# --- customers -----------------------------------------------------------------------------

_CUSTOMER_DIRT = {
    "bad_dates",
    "invalid_emails",
    "invalid_countries",
    "empty_last_names",
    "null_markers",
}


def _customer_record(rng: random.Random, customer_id: int) -> dict[str, Any]:
    country = _weighted(rng, COUNTRIES, COUNTRY_WEIGHTS)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return {
        "id": customer_id,
        "first": first,
        "last": last,
        "local": f"{_ascii(first)}.{_ascii(last)}",
        "domain": rng.choice(EMAIL_DOMAINS),
        "city": rng.choice(CITIES[country]),
        "country": country,
        "signup": date(2022, 1, 1) + timedelta(days=rng.randrange(1765)),
        "segment": _weighted(rng, SEGMENTS, (75, 25)),
    }


def _bad_email(rng: random.Random, local: str, domain: str) -> str:
    return rng.choice(
        (
            f"{local}.{domain}",  # no @
            f"{local.replace('.', ' ')}@{domain}",  # a space inside
            f"{local}@example",  # no TLD
            f"{local}@@{domain}",  # two @
            f"{local}@{domain}.",  # trailing dot
        )
    )


def _customer_row(
    rng: random.Random, rec: dict[str, Any], role: str | None
) -> tuple[list[str], Counter[str]]:
    """Render one customer as delivered, planting ``role`` and random standardization noise."""
    tags: Counter[str] = Counter()
    row = {
        "Kundennummer": str(rec["id"]),
        "Vorname": rec["first"],
        "Nachname": rec["last"],
        "E-Mail": f"{rec['local']}@{rec['domain']}",
        "Ort": rec["city"],
        "Land": rec["country"],
        "Segment": rec["segment"],
    }
    if role == "bad_dates":
        row["Anmeldedatum"] = rng.choice(BAD_SIGNUP_DATES)
    else:
        key = _weighted(rng, list(SIGNUP_FORMATS), (60, 25, 15))
        row["Anmeldedatum"] = rec["signup"].strftime(SIGNUP_FORMATS[key])
        tags[key] += 1
    if role == "invalid_emails":
        row["E-Mail"] = _bad_email(rng, rec["local"], rec["domain"])
    elif role == "invalid_countries":
        row["Land"] = rng.choice(BAD_COUNTRIES)
    elif role == "empty_last_names":
        row["Nachname"] = ""
    elif role == "null_markers":
        column = rng.choice(list(NULL_MARKERS_BY_COLUMN))
        row[column] = rng.choice(NULL_MARKERS_BY_COLUMN[column])
    if role in _CUSTOMER_DIRT:
        tags[role] += 1

    def present(column: str) -> bool:
        return row[column] not in CUSTOMER_NULL_MARKERS

    if rng.random() < 0.10:
        column = rng.choice(("Vorname", "Nachname"))
        if present(column):
            row[column] = _name_noise(rng, row[column])
            tags["noisy_names"] += 1
    if rng.random() < 0.05 and present("Ort"):
        row["Ort"] = _name_noise(rng, row["Ort"])
        tags["noisy_cities"] += 1
    if rng.random() < 0.06 and present("E-Mail"):
        email = row["E-Mail"]
        row["E-Mail"] = rng.choice((email.upper(), f" {email} ", email.title()))
        tags["noisy_emails"] += 1
    if rng.random() < 0.06 and row["Land"] in COUNTRIES:
        code = row["Land"]
        row["Land"] = rng.choice((code.lower(), f" {code}", f"{code} ", f" {code.lower()} "))
        tags["noisy_countries"] += 1
    if rng.random() < 0.06 and present("Segment"):
        seg = row["Segment"]
        row["Segment"] = rng.choice((seg.upper(), seg.title(), f" {seg}", f"{seg} "))
        tags["noisy_segments"] += 1
    return [row[column] for column in CUSTOMER_HEADER], tags


def _customers(rng: random.Random, n: int
               ) -> tuple[list[list[str]], Counter[str], list[int], list[dict[str, Any]]]:
    """Customer rows (file order), their tally, the ids orders may safely reference, and
    the records delivered clean (the next snapshot repeats some of them, moved)."""
    records = [_customer_record(rng, i) for i in range(1, n + 1)]
    seen: set[str] = set()
    for rec in records:  # an address is one person's: a namesake's gets their customer number
        if rec["local"] in seen:
            rec["local"] = f"{rec['local']}{rec['id']}"
        seen.add(rec["local"])
    k = max(1, n // 50)
    roles = _assign_roles(
        rng,
        n,
        {
            "bad_dates": k,
            "invalid_emails": k,
            "invalid_countries": k,
            "empty_last_names": k,
            "null_markers": max(2, n // 25),
            "dup_source": k,
            "conflict_source": max(1, n // 100),
        },
    )
    keyed: list[tuple[float, int, list[str], Counter[str]]] = []
    for index, (rec, role) in enumerate(zip(records, roles, strict=True)):
        row, tags = _customer_row(rng, rec, role if role in _CUSTOMER_DIRT else None)
        keyed.append((float(index), 0, row, tags))
        if role == "dup_source":  # the same line exported twice
            keyed.append((_later(rng, index, n), 1, list(row), tags + Counter(exact_duplicates=1)))
        elif role == "conflict_source":  # same customer id, different content
            moved = dict(rec)
            moved["city"] = rng.choice([c for c in CITIES[rec["country"]] if c != rec["city"]])
            moved["segment"] = "business" if rec["segment"] == "consumer" else "consumer"
            other, other_tags = _customer_row(rng, moved, None)
            other_tags["conflicting_duplicates"] += 1
            keyed.append((_later(rng, index, n), 1, other, other_tags))
    keyed.sort(key=lambda item: (item[0], item[1]))
    tally: Counter[str] = Counter(rows=len(keyed), customer_ids=n)
    for *_, tags in keyed:
        tally.update(tags)
    clean = [
        rec["id"]
        for rec, role in zip(records, roles, strict=True)
        if role in (None, "null_markers", "dup_source")
    ]
    clean_records = [rec for rec, role in zip(records, roles, strict=True)
                     if role in (None, "dup_source")]
    return [row for _, _, row, _ in keyed], tally, clean, clean_records


def _customer_update(rng: random.Random, records: list[dict[str, Any]],
                     next_id: int) -> tuple[list[list[str]], Counter[str]]:
    """A later snapshot: some customers moved to another city of their country, some are new.

    Every row is clean, so the only changes the history sees are the moves and the new ids.
    """
    moved = rng.sample(records, max(3, len(records) // 40))
    rows: list[tuple[int, list[str]]] = []
    for rec in moved:
        other = dict(rec, city=rng.choice([c for c in CITIES[rec["country"]] if c != rec["city"]]))
        rows.append((rec["id"], _customer_row(rng, other, None)[0]))
    fresh = [_customer_record(rng, next_id + i) for i in range(max(2, len(records) // 100))]
    rows.extend((rec["id"], _customer_row(rng, rec, None)[0]) for rec in fresh)
    rows.sort(key=lambda item: item[0])
    return [row for _, row in rows], Counter(rows=len(rows), moved=len(moved), new=len(fresh))


# --- web-shop accounts ---------------------------------------------------------------------

WEBSHOP_HEADER = ["account_id", "first_name", "last_name", "email", "city", "country",
                  "registered_at"]


def _webshop(rng: random.Random, crm: list[dict[str, Any]]
             ) -> tuple[list[list[str]], dict[str, int | None]]:
    """Accounts for 60% of the clean CRM customers (as the person typed them) plus shop-only
    people (a fifth of them namesakes of a CRM customer); returns rows and the truth."""
    from dataops_platform.samples.people import corrupt_person

    known = rng.sample(crm, int(len(crm) * 0.6))
    people: list[tuple[dict[str, Any], int | None]] = []
    for rec in known:
        person = {"first_name": rec["first"], "last_name": rec["last"],
                  "email": f"{rec['local']}@{rec['domain']}".lower(), "city": rec["city"],
                  "country": rec["country"]}
        people.append((corrupt_person(person, rng), rec["id"]))
    for i in range(max(5, len(crm) // 10)):
        rec = _customer_record(rng, -1 - i)
        if i % 5 == 0:  # a namesake: same name as a CRM customer, another person
            twin = rng.choice(crm)
            rec.update(first=twin["first"], last=twin["last"], local=f"{_ascii(twin['first'])}"
                       f".{_ascii(twin['last'])}{rng.randrange(10, 99)}")
        people.append(({"first_name": rec["first"], "last_name": rec["last"],
                        "email": f"{rec['local']}@{rec['domain']}".lower(), "city": rec["city"],
                        "country": rec["country"]}, None))
    rng.shuffle(people)
    rows, truth = [], {}
    start = datetime(2024, 1, 1)
    for n, (person, crm_id) in enumerate(people, start=1):
        account = f"W-{n:06d}"
        truth[account] = crm_id
        registered = start + timedelta(minutes=rng.randrange(1_000_000))
        rows.append([account, *(person.get(k) or "" for k in WEBSHOP_HEADER[1:6]),
                     f"{registered:%Y-%m-%d %H:%M:%S}"])
    return rows, truth


# --- products ------------------------------------------------------------------------------


def _products(
    rng: random.Random, n: int
) -> tuple[list[dict[str, Any]], Counter[str], list[tuple[str, float]]]:
    """Catalog rows (file order), their tally, and the (sku, price) pairs orders may use."""
    categories = list(CATEGORIES)
    numbers = rng.sample(range(1, 10000), n)
    k = max(1, n // 60)
    roles = _assign_roles(
        rng,
        n,
        {
            "malformed_skus": k,
            "negative_prices": k,
            "unknown_categories": k,
            "null_names": k,
            "dup_source": k,
        },
    )
    tally: Counter[str] = Counter()
    keyed: list[tuple[float, int, dict[str, Any]]] = []
    refs: list[tuple[str, float]] = []
    for index, (number, role) in enumerate(zip(numbers, roles, strict=True)):
        category = rng.choice(categories)
        sku = f"{CATEGORIES[category]}-{number:04d}"
        price = round(rng.uniform(2, 300), 2)
        name = f"{rng.choice(PRODUCT_ADJECTIVES)} {rng.choice(PRODUCT_WORDS[category])}"
        row: dict[str, Any] = {
            "sku": sku,
            "product_name": name,
            "category": category,
            "price": price,
            "active": rng.random() < 0.85,
            "launched_on": date(2018, 1, 1) + timedelta(days=rng.randrange(3200)),
        }
        if role == "malformed_skus":
            row["sku"] = rng.choice(
                (f"{sku[:2]}-{number:04d}", f"{sku[:3]}{number:04d}", f"{sku[:3]}-{number:04d}-X")
            )
        elif role == "negative_prices":
            row["price"] = -price
        elif role == "unknown_categories":
            row["category"] = rng.choice(UNKNOWN_CATEGORIES)
        elif role == "null_names":
            row["product_name"] = None
        if role is not None and role != "dup_source":
            tally[role] += 1
        if role != "malformed_skus" and rng.random() < 0.08:
            row["sku"] = rng.choice((sku.lower(), f" {sku}", f"{sku} ", f"  {sku.lower()}"))
            tally["noisy_skus"] += 1
        if role != "unknown_categories" and rng.random() < 0.08:
            row["category"] = rng.choice(
                (category.title(), category.upper(), f" {category}", f"{category} ")
            )
            tally["noisy_categories"] += 1
        keyed.append((float(index), 0, row))
        if role == "dup_source":  # the PIM exported the same sku twice with different content
            twin = dict(
                row,
                sku=sku,
                product_name=f"{row['product_name']} (neu)",
                price=round(price * 1.1, 2),
            )
            keyed.append((_later(rng, index, n), 1, twin))
            tally["duplicate_skus"] += 1
        elif role is None:
            refs.append((sku, price))
    keyed.sort(key=lambda item: (item[0], item[1]))
    tally["rows"] = len(keyed)
    tally["skus"] = n
    return [row for _, _, row in keyed], tally, refs


# --- orders --------------------------------------------------------------------------------


def _order_record(
    rng: random.Random,
    number: int,
    when: datetime,
    customers: Sequence[int],
    products: Sequence[tuple[str, float]],
) -> dict[str, Any]:
    sku, price = rng.choice(products)
    return {
        "order_id": f"ORD-{number:07d}",
        "customer_id": rng.choice(customers),
        "sku": sku,
        "qty": _weighted(rng, ("1", "2", "3", "4", "5", "10"), (50, 20, 12, 8, 6, 4)),
        "price": price,
        "currency": _weighted(rng, CURRENCIES, (80, 12, 8)),
        "ordered_at": when,
        "status": _weighted(rng, STATUSES, (40, 30, 20, 6, 4)),
    }


def _order_line(
    rng: random.Random, rec: dict[str, Any], role: str | None, unknown_from: int
) -> tuple[str, Counter[str]]:
    """Render one order as a JSON line, planting ``role`` and random standardization noise."""
    tags: Counter[str] = Counter()
    qty = int(rec["qty"])
    obj: dict[str, Any] = {
        "order_id": rec["order_id"],
        "customer_id": rec["customer_id"],
        "sku": rec["sku"],
        "qty": qty,
        "amount": round(qty * rec["price"], 2),
        "currency": rec["currency"],
        "ordered_at": None,
        "status": rec["status"],
    }
    when: datetime = rec["ordered_at"]
    if role == "negative_amounts":
        obj["amount"] = -obj["amount"]
    elif role == "zero_qty":
        obj["qty"] = 0
    elif role == "unknown_statuses":
        obj["status"] = rng.choice(UNKNOWN_STATUSES)
    elif role == "unknown_customers":
        obj["customer_id"] = unknown_from + rng.randrange(1000)
    elif role == "unknown_skus":
        obj["sku"] = f"ZZZ-{rng.randrange(10000):04d}"
    elif role == "null_optional":
        obj[rng.choice(("currency", "status"))] = None
    if role == "bad_timestamps":
        obj["ordered_at"] = rng.choice(BAD_ORDERED_AT).format(d=when)
    else:
        key = _weighted(rng, list(ORDERED_AT_FORMATS), (70, 20, 10))
        obj["ordered_at"] = when.strftime(ORDERED_AT_FORMATS[key])
        tags[key] += 1
    if role == "null_required":
        column = rng.choice(ORDER_REQUIRED)
        obj[column] = None
        if column == "ordered_at":
            tags = Counter()
    if role is not None:
        tags[role] += 1

    if obj["customer_id"] is not None and rng.random() < 0.04:
        obj["customer_id"] = rng.choice(("{}", " {}", "{} ", "  {} ")).format(obj["customer_id"])
        tags["string_customer_ids"] += 1
    if obj["amount"] is not None and rng.random() < 0.05:
        obj["amount"] = f"{obj['amount']:.2f}"
        tags["string_amounts"] += 1
    if obj["sku"] is not None and rng.random() < 0.04:
        sku = obj["sku"]
        obj["sku"] = rng.choice((sku.lower(), f" {sku}", f"{sku} "))
        tags["noisy_skus"] += 1
    if obj["currency"] is not None and rng.random() < 0.05:
        cur = obj["currency"]
        obj["currency"] = rng.choice((cur.lower(), f" {cur}", f"{cur} ", cur.title()))
        tags["noisy_currencies"] += 1
    if obj["status"] is not None and rng.random() < 0.05:
        status = obj["status"]
        obj["status"] = rng.choice((status.upper(), status.title(), f" {status}", f"{status} "))
        tags["noisy_statuses"] += 1
    keys = list(ORDER_KEYS)
    if rng.random() < 0.05:  # a different serializer upstream: same keys, other order
        while keys == list(ORDER_KEYS):
            rng.shuffle(keys)
        tags["shuffled_key_order"] += 1
    return json.dumps({key: obj[key] for key in keys}, ensure_ascii=False), tags


def _orders(
    rng: random.Random,
    rows: int,
    days: int,
    customers: Sequence[int],
    products: Sequence[tuple[str, float]],
    unknown_from: int,
) -> tuple[list[list[str]], Counter[str]]:
    """Order lines per day file, and their tally."""
    n_exact, n_conflict = max(1, rows // 200), max(1, rows // 400)
    base = rows - n_exact - n_conflict
    k = max(1, rows // 100)
    roles = _assign_roles(
        rng,
        base,
        {
            "bad_timestamps": k,
            "negative_amounts": k,
            "zero_qty": k,
            "unknown_statuses": k,
            "null_required": k,
            "unknown_customers": k,
            "unknown_skus": k,
            "null_optional": k,
            "dup_source": n_exact,
            "conflict_source": n_conflict,
        },
    )
    per_day = [base // days + (1 if d < base % days else 0) for d in range(days)]
    keyed: list[list[tuple[float, int, str, Counter[str]]]] = [[] for _ in range(days)]
    number = 0
    for day, count in enumerate(per_day):
        start = datetime.combine(BASE_DATE + timedelta(days=day), datetime.min.time())
        seconds = sorted(rng.randrange(86400) for _ in range(count))
        for position, second in enumerate(seconds):
            role = roles[number]
            number += 1
            rec = _order_record(rng, number, start + timedelta(seconds=second), customers, products)
            dirt = role if role not in ("dup_source", "conflict_source") else None
            line, tags = _order_line(rng, rec, dirt, unknown_from)
            keyed[day].append((float(position), 0, line, tags))
            if role == "dup_source":  # the same line sent twice in one file
                copy_tags = tags + Counter(exact_duplicates=1)
                keyed[day].append((_later(rng, position, count), 1, line, copy_tags))
            elif role == "conflict_source":  # a later correction under the same order id
                fixed = dict(
                    rec,
                    qty=str(int(rec["qty"]) % 10 + 1),
                    status="cancelled" if rec["status"] != "cancelled" else "placed",
                )
                other, other_tags = _order_line(rng, fixed, None, unknown_from)
                other_tags["conflicting_order_ids"] += 1
                target = min(day + 1, days - 1)
                sort_key = (
                    _later(rng, position, count)
                    if target == day
                    else rng.uniform(0, per_day[target])
                )
                keyed[target].append((sort_key, 1, other, other_tags))
    tally: Counter[str] = Counter(order_ids=base)
    files: list[list[str]] = []
    for entries in keyed:
        entries.sort(key=lambda item: (item[0], item[1]))
        files.append([line for _, _, line, _ in entries])
        for *_, tags in entries:
            tally.update(tags)
    tally["rows"] = sum(len(lines) for lines in files)
    return files, tally


# --- large orders CSV for benchmarks --------------------------------------------------------

ORDERS_CSV_HEADER = "order_id,customer_id,sku,qty,amount,currency,ordered_at,status"


def write_orders_csv(path: Path, rows: int, seed: int = 7) -> None:
    """Write ``rows`` dirty order lines as one comma-delimited UTF-8 CSV, chunk by chunk.

    Vectorized (numpy + Arrow compute) and written in chunks of 200k rows, so 5M rows need
    neither a Python loop per row nor the whole table in memory.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_customers = max(1000, rows // 5)
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    with path.open("wb") as sink:
        sink.write((ORDERS_CSV_HEADER + "\n").encode("utf-8"))
        for start in range(0, rows, CSV_CHUNK_ROWS):
            chunk = _orders_chunk(rng, start, min(CSV_CHUNK_ROWS, rows - start), n_customers)
            pacsv.write_csv(chunk, sink, options)


def _noisy(rng: np.random.Generator, values: pa.Array, rate: float) -> pa.Array:
    """Lower-case, title-case or pad about ``rate`` of the values."""
    n = len(values)
    kind = np.where(rng.random(n) < rate, rng.integers(1, 4, n), 0)
    variants: list[Callable[[pa.Array], pa.Array]] = [
        lambda v: v,
        pc.utf8_lower,
        pc.utf8_title,
        lambda v: pc.binary_join_element_wise("  ", v, " ", ""),
    ]
    out = values
    for code in (1, 2, 3):
        out = pc.if_else(pa.array(kind == code), variants[code](values), out)
    return out


def _digits(values: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pa.array(values).cast(pa.string()), width, "0")


def _orders_chunk(rng: np.random.Generator, start: int, n: int, n_customers: int) -> pa.Table:
    """One chunk of the benchmark CSV; all columns are strings so the dirt survives as-is."""
    order_no = np.arange(start + 1, start + n + 1)
    customer = rng.integers(1, n_customers + 1, n)
    prefix = np.array([CATEGORIES[c] for c in CATEGORIES])[rng.integers(0, len(CATEGORIES), n)]
    sku_no = rng.integers(1, 10000, n)
    qty = rng.choice(np.array([1, 2, 3, 4, 5, 10]), n, p=[0.5, 0.2, 0.12, 0.08, 0.06, 0.04])
    qty = np.where(rng.random(n) < 0.005, 0, qty)
    cents = qty * rng.integers(199, 30000, n)
    cents = np.where(rng.random(n) < 0.01, -cents, cents)
    currency = np.array(CURRENCIES)[rng.choice(3, n, p=[0.8, 0.12, 0.08])]
    status_pool = np.array([*STATUSES, *UNKNOWN_STATUSES])
    status = status_pool[
        rng.choice(len(status_pool), n, p=[0.4, 0.3, 0.2, 0.05, 0.03, 0.005, 0.005, 0.005, 0.005])
    ]
    base = np.datetime64(BASE_DATE.isoformat(), "s")
    when = base + rng.integers(0, 30 * 86400, n).astype("timedelta64[s]")
    fmt = rng.choice(4, n, p=[0.975, 0.01, 0.01, 0.005])  # iso T, iso space, d/m/Y, invalid

    iso = pa.array(np.datetime_as_string(when, unit="s"))
    ordered_at = pc.if_else(pa.array(fmt == 1), pc.replace_substring(iso, "T", " "), iso)
    dmy = pc.strftime(pa.array(when), format=ORDERED_AT_FORMATS["ordered_at_dmy"])
    ordered_at = pc.if_else(pa.array(fmt == 2), dmy, ordered_at)
    ordered_at = pc.if_else(pa.array(fmt == 3), pc.replace_substring(iso, "T", "T25:"), ordered_at)

    customer_text = pa.array(customer).cast(pa.string())
    padded = pc.binary_join_element_wise(" ", customer_text, "  ", "")
    customer_text = pc.if_else(pa.array(rng.random(n) < 0.01), padded, customer_text)
    sign = pa.array(np.where(cents < 0, "-", ""))
    amount = pc.binary_join_element_wise(
        sign,
        pa.array(np.abs(cents) // 100).cast(pa.string()),
        ".",
        _digits(np.abs(cents) % 100, 2),
        "",
    )
    table = pa.table(
        {
            "order_id": pc.binary_join_element_wise("ORD-", _digits(order_no, 7), ""),
            "customer_id": customer_text,
            "sku": _noisy(
                rng, pc.binary_join_element_wise(pa.array(prefix), _digits(sku_no, 4), "-"), 0.01
            ),
            "qty": pa.array(qty).cast(pa.string()),
            "amount": amount,
            "currency": _noisy(rng, pa.array(currency), 0.01),
            "ordered_at": ordered_at,
            "status": _noisy(rng, pa.array(status), 0.01),
        }
    )
    # ~0.5% exact duplicates: a row repeats the nearest preceding original row
    repeat = rng.random(n) < 0.005
    if n:
        repeat[0] = False
    source = np.maximum.accumulate(np.where(repeat, 0, np.arange(n)))
    return table.take(pa.array(source))


def main(argv: Sequence[str] | None = None) -> None:
    """Regenerate the example project's sample data (or write it to the folder given)."""
    from dataops_platform.project.loading import example_project

    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args[0]) if args else example_project() / "sample_data"
    result = generate(out)
    for path in result.files:
        print(f"{path.stat().st_size:>9}  {path}")


if __name__ == "__main__":
    main()
