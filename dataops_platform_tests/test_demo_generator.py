"""The demo generator delivers files in the contracts' source shape, with exactly the dirt it claims.

Counts are re-derived from the written files with the contracts' own rules (null markers,
standardization, formats, patterns, allowed values), never taken from the generator's tally.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataops_platform.contracts.model import Column, Contract
from dataops_platform.samples.generator import GeneratedFiles, generate, write_orders_csv
from dataops_platform_tests.project_files import SAMPLE_DATA, example_contract

DIRT_KEYS = {
    "customers": [
        "exact_duplicates", "conflicting_duplicates", "bad_dates", "invalid_emails",
        "invalid_countries", "empty_last_names", "null_markers", "noisy_names", "noisy_emails",
        "noisy_countries",
    ],
    "orders": [
        "exact_duplicates", "conflicting_order_ids", "bad_timestamps", "negative_amounts",
        "zero_qty", "unknown_statuses", "null_required", "null_optional", "unknown_customers",
        "unknown_skus", "string_customer_ids", "string_amounts", "noisy_currencies",
        "noisy_statuses", "shuffled_key_order", "ordered_at_iso_t", "ordered_at_iso_space",
        "ordered_at_dmy",
    ],
    "products": [
        "duplicate_skus", "malformed_skus", "negative_prices", "unknown_categories",
        "null_names", "noisy_skus",
    ],
}


def contract(name: str) -> Contract:
    return example_contract(name)


def standardize(value: str, column: Column) -> str:
    for step in column.standardize:
        if step.value == "trim":
            value = value.strip()
        elif step.value == "collapse_whitespace":
            value = re.sub(r"\s+", " ", value)
        elif step.value == "lower":
            value = value.lower()
        elif step.value == "upper":
            value = value.upper()
        elif step.value == "title":
            value = value.title()
    return value


def first_format(value: str, column: Column) -> str | None:
    for fmt in column.formats or []:
        try:
            datetime.strptime(value.strip(), fmt)
        except ValueError:
            continue
        return fmt
    return None


def nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {key: value for key, value in counts.items() if value}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GeneratedFiles]:
    out = tmp_path_factory.mktemp("landing")
    return out, generate(out)


def read_customers(path: Path) -> tuple[list[str], list[list[str]]]:
    options = contract("customers").source.options
    text = path.read_bytes().decode(options.encoding)
    header, *rows = csv.reader(io.StringIO(text, newline=""), delimiter=options.delimiter)
    return header, rows


def customer_ids(path: Path) -> set[int]:
    header, rows = read_customers(path)
    index = header.index(contract("customers").column("customer_id").source_name)
    return {int(row[index]) for row in rows}


def day_files(out: Path) -> list[Path]:
    return sorted(p for p in (out / "orders").glob("*.ndjson") if "_resend" not in p.name)


# --- counting from the files ---------------------------------------------------------------


def count_customers(path: Path) -> Counter[str]:
    c = contract("customers")
    header, rows = read_customers(path)
    markers = set(c.source.null_markers)
    at = {col.name: header.index(col.source_name) for col in c.columns}
    format_keys = dict(zip(c.column("signup_date").formats or [],
                           ["signup_iso", "signup_dotted", "signup_us"], strict=True))
    counts: Counter[str] = Counter(rows=len(rows))
    ids = {int(row[at["customer_id"]]) for row in rows}
    counts["customer_ids"] = len(ids)
    distinct = {tuple(row) for row in rows}
    counts["exact_duplicates"] = len(rows) - len(distinct)
    counts["conflicting_duplicates"] = len(distinct) - len(ids)
    for row in rows:
        if len(row) != len(header):
            counts["unplanned_ragged_rows"] += 1
            continue
        for col in c.columns:
            if row[at[col.name]] in markers:
                if col.nullable:
                    counts["null_markers"] += 1
                elif col.name == "last_name":
                    counts["empty_last_names"] += 1
                else:
                    counts[f"unplanned_null_{col.name}"] += 1
        raw = {name: row[i] for name, i in at.items()}
        if raw["signup_date"] not in markers:
            fmt = first_format(raw["signup_date"], c.column("signup_date"))
            counts[format_keys[fmt] if fmt else "bad_dates"] += 1
        if any(
            raw[name] not in markers and raw[name] != standardize(raw[name], c.column(name))
            for name in ("first_name", "last_name")
        ):
            counts["noisy_names"] += 1
        if raw["email"] not in markers:
            email = standardize(raw["email"], c.column("email"))
            counts["noisy_emails"] += email != raw["email"]
            counts["invalid_emails"] += not re.search(c.column("email").pattern or "", email)
        for name, noisy_key, invalid_key in (
            ("country", "noisy_countries", "invalid_countries"),
            ("segment", "noisy_segments", "unplanned_invalid_segments"),
            ("city", "noisy_cities", None),
        ):
            if raw[name] in markers:
                continue
            value = standardize(raw[name], c.column(name))
            allowed = c.column(name).allowed_values
            if allowed is not None and value not in allowed:
                counts[invalid_key or "unplanned"] += 1
            elif value != raw[name]:
                counts[noisy_key] += 1
    return counts


def count_orders(out: Path) -> Counter[str]:
    c = contract("orders")
    known_customers = customer_ids(out / "customers" / "customers_2026-11-01.csv")
    product_table = pq.read_table(next((out / "products").glob("*.parquet")))
    known_skus = {s.strip().upper() for s in product_table.column("sku").to_pylist() if s}
    source_keys = [col.source_name for col in c.columns]
    format_keys = dict(zip(c.column("ordered_at").formats or [],
                           ["ordered_at_iso_t", "ordered_at_iso_space", "ordered_at_dmy"],
                           strict=True))
    files = day_files(out)
    lines = [line for path in files for line in path.read_text("utf-8").splitlines()]
    resends = sorted((out / "orders").glob("*_resend.ndjson"))
    counts: Counter[str] = Counter(rows=len(lines), files=len(files), resend_files=len(resends))
    counts["resend_rows"] = sum(len(p.read_text("utf-8").splitlines()) for p in resends)
    records = [json.loads(line) for line in lines]
    order_ids = {r["order_id"].strip().upper() for r in records}
    counts["order_ids"] = len(order_ids)
    semantic = {json.dumps(r, sort_keys=True) for r in records}
    counts["exact_duplicates"] = len(lines) - len(set(lines))
    counts["conflicting_order_ids"] = len(semantic) - len(order_ids)
    for r in records:
        if sorted(r) != sorted(source_keys):
            counts["unplanned_key_set"] += 1
            continue
        counts["shuffled_key_order"] += list(r) != source_keys
        for col in c.columns:
            if r[col.source_name] is None:
                counts["null_optional" if col.nullable else "null_required"] += 1
        if not re.search(c.column("order_id").pattern or "", r["order_id"]):
            counts["unplanned_bad_order_id"] += 1
        if r["customer_id"] is not None:
            counts["string_customer_ids"] += isinstance(r["customer_id"], str)
            counts["unknown_customers"] += int(str(r["customer_id"]).strip()) not in known_customers
        if r["sku"] is not None:
            sku = standardize(r["sku"], c.column("product_sku"))
            counts["noisy_skus"] += sku != r["sku"]
            counts["unknown_skus"] += sku not in known_skus
        if r["qty"] is not None:
            qty = c.column("quantity")
            counts["zero_qty"] += r["qty"] < (qty.min or 0)
            counts["unplanned_large_qty"] += r["qty"] > (qty.max or 10**9)
        if r["amount"] is not None:
            counts["string_amounts"] += isinstance(r["amount"], str)
            counts["negative_amounts"] += float(r["amount"]) < (c.column("amount").min or 0)
        if r["ordered_at"] is not None:
            fmt = first_format(r["ordered_at"], c.column("ordered_at"))
            counts[format_keys[fmt] if fmt else "bad_timestamps"] += 1
        for name, noisy_key, invalid_key in (
            ("currency", "noisy_currencies", "unplanned_invalid_currency"),
            ("status", "noisy_statuses", "unknown_statuses"),
        ):
            if r[name] is None:
                continue
            value = standardize(r[name], c.column(name))
            counts[noisy_key] += value != r[name]
            counts[invalid_key] += value not in (c.column(name).allowed_values or [])
    return counts


def count_products(path: Path) -> Counter[str]:
    c = contract("products")
    rows = pq.read_table(path).to_pylist()
    sku_col, category_col = c.column("sku"), c.column("category")
    skus = [standardize(r["sku"], sku_col) for r in rows]
    counts: Counter[str] = Counter(rows=len(rows), skus=len(set(skus)))
    counts["duplicate_skus"] = len(rows) - len(set(skus))
    for r, sku in zip(rows, skus, strict=True):
        counts["noisy_skus"] += sku != r["sku"]
        counts["malformed_skus"] += not re.search(sku_col.pattern or "", sku)
        counts["negative_prices"] += r["price"] < (c.column("unit_price").min or 0)
        counts["null_names"] += r["product_name"] is None
        category = standardize(r["category"], category_col)
        if category not in (category_col.allowed_values or []):
            counts["unknown_categories"] += 1
        elif category != r["category"]:
            counts["noisy_categories"] += 1
    return counts


# --- tests ---------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", rows=400, seed=11, days=2)
    second = generate(tmp_path / "b", rows=400, seed=11, days=2)
    other = generate(tmp_path / "c", rows=400, seed=12, days=2)
    names = [p.relative_to(tmp_path / "a") for p in first.files]
    assert names == [p.relative_to(tmp_path / "b") for p in second.files]
    assert len(names) == 7  # customers and their update, 2 order days, the resend, products, shop
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert first.expected == second.expected
    assert [p.relative_to(tmp_path / "c") for p in other.files] == names
    differing = [n for n in names if (tmp_path / "a" / n).read_bytes()
                 != (tmp_path / "c" / n).read_bytes()]
    assert differing == names


def test_files_land_where_the_contracts_look(generated: tuple[Path, GeneratedFiles]) -> None:
    out, result = generated
    for name in ("customers", "orders", "products", "webshop_customers"):
        matches = sorted(out.glob(contract(name).landing_glob))
        assert matches, name
        assert set(matches) <= set(result.files)
    assert sorted(result.files) == sorted(p for p in out.rglob("*") if p.is_file())
    assert [p.name for p in day_files(out)] == [
        "orders_2026-11-01.ndjson", "orders_2026-11-02.ndjson", "orders_2026-11-03.ndjson",
    ]


def test_web_shop_accounts_carry_their_truth(generated: tuple[Path, GeneratedFiles]) -> None:
    """Every account is labelled: the CRM customer it really is, or none (shop-only)."""
    out, result = generated
    shop = (out / "webshop_customers").glob("*.csv")
    accounts = [line.split(",")[0] for path in shop for line in path.read_text().splitlines()[1:]]
    assert sorted(accounts) == sorted(result.webshop_truth)
    crm_ids = {int(line.split(";")[0]) for path in (out / "customers").glob("*.csv")
               for line in path.read_text(encoding="latin-1").splitlines()[1:]
               if line.split(";")[0].isdigit()}
    known = [c for c in result.webshop_truth.values() if c is not None]
    assert known and set(known) <= crm_ids
    counts = result.expected["webshop_customers"]
    assert (counts["crm_customers"], counts["shop_only"]) == (len(known),
                                                              len(accounts) - len(known))


def test_customers_file_is_latin1_with_the_contract_header(
    generated: tuple[Path, GeneratedFiles],
) -> None:
    out, _ = generated
    c = contract("customers")
    path = out / "customers" / "customers_2026-11-01.csv"
    data = path.read_bytes()
    assert any(byte >= 0x80 for byte in data)
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    text = data.decode(c.source.options.encoding)
    assert "München" in text or "Köln" in text or "Zürich" in text
    assert "Müller" in text.title() or "Françoise" in text.title()
    first_line = text.split("\n", 1)[0]
    assert first_line == "Kundennummer;Vorname;Nachname;E-Mail;Ort;Land;Anmeldedatum;Segment"
    assert first_line.split(c.source.options.delimiter) == [col.source_name for col in c.columns]
    header, rows = read_customers(path)
    assert all(len(row) == len(header) for row in rows)
    assert all(line.count(";") == len(header) - 1 for line in text.splitlines())


def test_every_order_line_is_a_json_object_with_the_source_keys(
    generated: tuple[Path, GeneratedFiles],
) -> None:
    out, _ = generated
    source_keys = sorted(col.source_name for col in contract("orders").columns)
    for path in sorted((out / "orders").glob("*.ndjson")):
        text = path.read_text("utf-8")
        assert text.endswith("\n")
        for line in text.splitlines():
            record = json.loads(line)
            assert isinstance(record, dict)
            assert sorted(record) == source_keys
            assert re.fullmatch(r"ORD-[0-9]{7}", record["order_id"])


def test_resend_is_a_byte_copy_of_the_first_day(generated: tuple[Path, GeneratedFiles]) -> None:
    out, result = generated
    resend = out / "orders" / "orders_2026-11-01_resend.ndjson"
    assert resend in result.files
    assert resend.read_bytes() == day_files(out)[0].read_bytes()
    assert resend.read_bytes() != day_files(out)[1].read_bytes()


def test_products_parquet_has_naturally_typed_source_columns(
    generated: tuple[Path, GeneratedFiles],
) -> None:
    out, _ = generated
    schema = pq.read_schema(out / "products" / "products.parquet")
    assert schema.names == [col.source_name for col in contract("products").columns]
    assert [schema.field(n).type for n in schema.names] == [
        pa.string(), pa.string(), pa.string(), pa.float64(), pa.bool_(), pa.date32(),
    ]
    assert 60 <= pq.read_metadata(out / "products" / "products.parquet").num_rows <= 5000


@pytest.mark.parametrize("dataset", ["customers", "orders", "products"])
def test_planted_counts_match_what_is_in_the_files(
    generated: tuple[Path, GeneratedFiles], dataset: str
) -> None:
    out, result = generated
    if dataset == "customers":
        counted = count_customers(out / "customers" / "customers_2026-11-01.csv")
    elif dataset == "orders":
        counted = count_orders(out)
    else:
        counted = count_products(out / "products" / "products.parquet")
    assert nonzero(dict(counted)) == nonzero(result.expected[dataset])
    missing = [key for key in DIRT_KEYS[dataset] if result.expected[dataset].get(key, 0) < 1]
    assert missing == []


def test_bundled_sample_data_is_the_default_generator_output(
    generated: tuple[Path, GeneratedFiles],
) -> None:
    out, result = generated
    shipped = sorted(p.relative_to(SAMPLE_DATA) for p in SAMPLE_DATA.rglob("*.*"))
    assert shipped == sorted(p.relative_to(out) for p in result.files)
    assert sum((SAMPLE_DATA / p).stat().st_size for p in shipped) < 1_000_000
    for name in shipped:
        if name.suffix == ".parquet":  # compare content: the footer names the pyarrow version
            assert pq.read_table(SAMPLE_DATA / name).equals(pq.read_table(out / name))
        else:
            assert (SAMPLE_DATA / name).read_bytes() == (out / name).read_bytes(), name


def test_default_sizes(generated: tuple[Path, GeneratedFiles]) -> None:
    _, result = generated
    assert result.expected["orders"]["rows"] == 2000
    assert result.expected["customers"]["customer_ids"] == 400
    assert result.expected["products"]["skus"] == 66
    assert result.expected["orders"]["resend_rows"] > 0


def test_rows_and_days_are_honoured(tmp_path: Path) -> None:
    result = generate(tmp_path, rows=300, seed=3, days=2)
    assert result.expected["orders"]["rows"] == 300
    assert len(day_files(tmp_path)) == 2
    assert nonzero(dict(count_orders(tmp_path))) == nonzero(result.expected["orders"])
    with pytest.raises(ValueError):
        generate(tmp_path / "small", rows=10)


def test_write_orders_csv_writes_the_requested_rows(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    write_orders_csv(path, 10_000, seed=5)
    lines = path.read_text("utf-8").splitlines()
    assert lines[0] == "order_id,customer_id,sku,qty,amount,currency,ordered_at,status"
    assert len(lines) == 10_001
    rows = [line.split(",") for line in lines[1:]]
    assert all(len(row) == 8 for row in rows)
    assert 0 < len(lines) - 1 - len(set(lines[1:])) < 200  # ~0.5% exact duplicates
    assert sum(float(row[4]) < 0 for row in rows) > 20
    column = contract("orders").column("ordered_at")
    formats = Counter(first_format(row[6], column) for row in rows)
    assert set(formats) == {*(column.formats or []), None}
    assert any(row[1] != row[1].strip() for row in rows)
    assert any(row[5] != row[5].strip().upper() for row in rows)

    again = tmp_path / "again.csv"
    write_orders_csv(again, 10_000, seed=5)
    assert again.read_bytes() == path.read_bytes()
    write_orders_csv(again, 10_000, seed=6)
    assert again.read_bytes() != path.read_bytes()


def test_the_next_customer_snapshot_moves_some_customers_and_adds_new_ones(
    generated: tuple[Path, GeneratedFiles],
) -> None:
    out, result = generated
    _, first = read_customers(out / "customers" / "customers_2026-11-01.csv")
    header, update = read_customers(out / "customers" / "customers_2026-11-02.csv")
    truth = result.expected["customers_update"]
    assert len(update) == truth["rows"] == truth["moved"] + truth["new"]
    ids, city = header.index("Kundennummer"), header.index("Ort")
    before = {row[ids]: row[city].strip().lower() for row in first}
    moved = [row for row in update if row[ids] in before]
    assert len(moved) == truth["moved"] and all(before[r[ids]] != r[city].strip().lower()
                                                for r in moved)
    assert sum(row[ids] not in before for row in update) == truth["new"]
