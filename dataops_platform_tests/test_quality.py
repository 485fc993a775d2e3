"""The checks catch what they promise: tampered tables fail them, clean ones pass."""

import duckdb
import pandas as pd
import pandera.errors as pa_errors
import pytest

from dataops_platform.contracts import load_contracts
from dataops_platform.quality.checks import ledger, validate_partition
from dataops_platform.quality.pandera_schema import compile_schema

CUSTOMERS = "Kundennummer;Vorname;Nachname;E-Mail;Ort;Land;Anmeldedatum;Segment\n"


@pytest.fixture
def contracts(settings):
    return {c.name: c for c in load_contracts(settings.contracts_dir)}


def _landed_customers(land, one_pass, query):
    land("customers/c.csv", (CUSTOMERS + "1;Ann;Lee;ann@x.de;Köln;DE;2024-01-02;consumer\n"
                             "2;Bo;Ray;bad-mail;Lyon;FR;2024-01-03;business\n"
                             "3;Cy;;c@x.de;Bonn;DE;2024-01-04;consumer\n"
                             "1;Ann;Lee;ann@x.de;Köln;DE;2024-01-02;consumer\n").encode("latin-1"))
    assert one_pass().ok
    return query("select distinct _partition from raw.customers")[0][0]


def test_ledger_and_pandera_pass_on_what_the_pipeline_stored(settings, contracts, land, one_pass, query):
    key = _landed_customers(land, one_pass, query)
    conn = duckdb.connect(str(settings.warehouse_path))
    try:
        assert ledger(conn, contracts["customers"], key) == {
            "raw": 4, "cleaned": 2, "quarantined": 1, "duplicates": 1}
        checked, failures, _ = validate_partition(conn, contracts["customers"], key)
        assert (checked, failures) == (2, 0)  # the bad e-mail is a warn rule: kept, not a failure
    finally:
        conn.close()


def test_a_lost_row_and_a_forbidden_value_are_caught(settings, contracts, land, one_pass, query):
    key = _landed_customers(land, one_pass, query)
    conn = duckdb.connect(str(settings.warehouse_path))
    try:
        conn.execute("delete from quarantine.customers")  # a row vanishes
        counts = ledger(conn, contracts["customers"], key)
        assert counts["raw"] != counts["cleaned"] + counts["quarantined"] + counts["duplicates"]

        conn.execute("update cleaned.customers set country = 'XX' where customer_id = 2")
        checked, failures, sample = validate_partition(conn, contracts["customers"], key, batch_rows=1)
        assert checked == 2 and failures == 1
        assert sample["_source_file"].tolist() == ["customers/c.csv"]
        assert sample["_row_number"].tolist() == [2]
        assert sample["failure_case"].tolist() == ["XX"]

        # a primary key repeated in two different batches is still caught
        conn.execute("update cleaned.customers set country = 'FR', customer_id = 1")
        checked, failures, sample = validate_partition(conn, contracts["customers"], key, batch_rows=1)
        assert failures == 2 and sample["check"].tolist() == ["primary_key_unique"] * 2
    finally:
        conn.close()


def test_compiled_schema_enforces_each_rule_and_only_warns_on_warn_rules(contracts):
    schema = compile_schema(contracts["orders"])
    good = pd.DataFrame({
        "order_id": ["ORD-0000001"], "customer_id": [1], "product_sku": ["ABC-0001"],
        "quantity": [1], "amount": [9.5], "currency": ["EUR"],
        "ordered_at": [pd.Timestamp("2026-11-01 10:00")], "status": ["unknown-status"]})
    with pytest.warns(pa_errors.SchemaWarning):  # status allowed_values is a warn rule
        schema.validate(good)
    good = good.assign(status=["placed"])
    for column, value in [("order_id", "ORD-1"), ("quantity", 0), ("amount", -1.0),
                          ("currency", "JPY"), ("customer_id", None)]:
        bad = good.assign(**{column: [value]})
        with pytest.raises(pa_errors.SchemaError):
            schema.validate(bad)
    with pytest.raises(pa_errors.SchemaError):  # primary key unique within a file
        schema.validate(pd.concat([good, good], ignore_index=True))


def test_cleaned_materializations_carry_a_plottable_profile(settings, land, one_pass, query):
    _landed_customers(land, one_pass, query)
    import dagster as dg
    with dg.DagsterInstance.get() as instance:
        (record,) = instance.fetch_materializations(
            dg.AssetKey(["cleaned", "customers"]), limit=1).records
    metadata = record.asset_materialization.metadata
    # two cleaned rows (Ann, Bo): no null ids, city known for both, one distinct segment each
    assert metadata["profile/customer_id/null_pct"].value == 0.0
    assert metadata["profile/customer_id/distinct"].value == 2
    assert metadata["profile/customer_id/mean"].value == 1.5
    table = metadata["profile"].value
    (email,) = [line for line in table.splitlines() if line.startswith("| email |")]
    assert email.split(" | ")[-1].strip(" |") in ("aaa@a.aa", "aaa-aaaa")  # shapes of the values
