"""Schema drift: evolve keeps new columns, freeze rejects the whole file, discard drops and counts."""

from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataops_platform.collect.schema_policy import drift
from dataops_platform.project.validate import load_contracts
from dataops_platform_tests.project_files import contracts_dir

HEADER = "Kundennummer;Vorname;Nachname;E-Mail;Ort;Land;Anmeldedatum;Segment"
ROW = "1;Ann;Lee;ann@x.de;Köln;DE;2024-01-02;consumer"


@pytest.fixture
def contracts(settings):
    return {c.name: c for c in load_contracts(settings.project_dir)}


def _products(path, **overrides):
    columns = {"sku": ["ABC-0001", "ABC-0002"], "product_name": ["Pen", "Ink"],
               "category": ["books", "books"], "price": [1.5, 2.25], "active": [True, False],
               "launched_on": pa.array([date(2024, 1, 2), date(2024, 3, 4)])}
    columns.update(overrides)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)


def test_drift_names_added_missing_and_retyped_columns(contracts):
    products = contracts["products"]
    found = drift(products, ["sku", "product_name", "price", "active", "launched_on", "colour"],
                  {"sku": "VARCHAR", "product_name": "VARCHAR", "price": "VARCHAR",
                   "active": "BOOLEAN", "colour": "VARCHAR"})
    assert found.added == ["colour"] and found.missing == ["category"]
    assert found.retyped == [("price", "decimal", "VARCHAR")]
    assert found.describe() == ("added colour; missing category; "
                                "retyped price (contract decimal, file VARCHAR)")
    same = drift(products, ["sku", "product_name", "category", "price", "active", "launched_on"],
                 {"price": "DECIMAL(10,2)", "active": "BOOLEAN"})
    assert not same and same.describe() == "none"


def test_freeze_rejects_a_drifting_file_whole_and_keeps_the_good_ones(settings, land, one_pass, query):
    assert contracts_policy(settings, "customers") == "freeze"  # as the demo declares
    land("customers/good.csv", (f"{HEADER}\n{ROW}\n").encode("latin-1"))
    land("customers/drift.csv", (f"{HEADER};Telefon\n{ROW.replace('1;', '2;', 1)};0221\n")
         .encode("latin-1"))
    result = one_pass()
    assert not result.ok
    (failure,) = result.failures
    assert "customers/drift.csv was rejected" in failure and "added Telefon" in failure
    assert "schema_policy: freeze" in failure and "Traceback" not in failure
    assert query("select distinct _source_file from raw.customers") == [("customers/good.csv",)]
    assert query("select count(*) from information_schema.tables "
                 "where table_name like '%stage%' or table_name like '%raw__customers%'") == [(0,)]


def test_freeze_rejects_a_retyped_parquet_column(settings, one_pass, query):
    contract = contracts_dir(settings) / "products.yaml"
    contract.write_text(contract.read_text().replace("schema_policy: discard", "schema_policy: freeze"))
    _products(settings.landing_dir / "products" / "p.parquet", price=["1.5", "2.25"])
    result = one_pass()
    (failure,) = result.failures
    assert "products/p.parquet was rejected" in failure
    assert "retyped price (contract decimal, file VARCHAR)" in failure


def test_discard_drops_unknown_columns_and_counts_them(settings, one_pass, query):
    assert contracts_policy(settings, "products") == "discard"
    _products(settings.landing_dir / "products" / "p.parquet", colour=["red", "blue"])
    assert one_pass().ok
    columns = [r[0] for r in query("select column_name from information_schema.columns "
                                   "where table_schema = 'raw' and table_name = 'products'")]
    assert "colour" not in columns and "product_name" in columns
    assert query("select count(*) from cleaned.products") == [(2,)]
    import dagster as dg
    with dg.DagsterInstance.get() as instance:
        (record,) = instance.fetch_materializations(dg.AssetKey(["raw", "products"]), limit=1).records
    metadata = record.asset_materialization.metadata
    assert metadata["discarded_columns"].value == "colour"
    assert metadata["discarded_column_count"].value == 1
    assert metadata["schema_drift"].value == "added colour"


def test_evolve_keeps_new_columns_in_raw(settings, land, one_pass, query):
    import json
    land("orders/o.ndjson", json.dumps({
        "order_id": "ORD-0000001", "customer_id": 1, "sku": "ABC-0001", "qty": 1, "amount": "1",
        "currency": "EUR", "ordered_at": "2026-11-01T10:00:00", "coupon": "X1"}) + "\n")
    result = one_pass()  # the missing optional 'status' is named (columns_present), not fatal
    assert not result.failures
    assert [c.check for c in result.failed_error_checks] == ["columns_present"]
    assert query("select coupon from raw.orders") == [("X1",)]  # status was not delivered
    assert query("select count(*) from cleaned.orders") == [(1,)]


def contracts_policy(settings, name: str) -> str:
    return {c.name: c for c in load_contracts(settings.project_dir)}[name].schema_policy.value
