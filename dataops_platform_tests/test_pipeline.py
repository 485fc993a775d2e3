"""End to end on real folders and a real DuckDB file: every landed row is accounted for."""

import json

from dataops_platform.samples.generator import generate
from dataops_platform_tests.project_files import contracts_dir

CUSTOMERS_HEADER = "Kundennummer;Vorname;Nachname;E-Mail;Ort;Land;Anmeldedatum;Segment\n"


def _ledger_by_file(query, dataset):
    rows = query(f"""
        select r._partition, r.n,
               coalesce(c.n, 0), coalesce(q.n, 0), coalesce(d.n, 0)
        from (select _partition, count(*) n from raw.{dataset} group by 1) r
        left join (select _partition, count(*) n from cleaned.{dataset} group by 1) c using (_partition)
        left join (select _partition, count(*) n from quarantine.{dataset} group by 1) q using (_partition)
        left join (select _partition, count(*) n from quarantine.{dataset}__duplicates group by 1) d
               using (_partition)
    """)
    return {key: (n, cleaned, quarantined, dups) for key, n, cleaned, quarantined, dups in rows}


def test_generated_demo_is_fully_accounted_for_per_file(settings, one_pass, query):
    truth = generate(settings.landing_dir, rows=600, seed=11, days=2).expected
    result = one_pass()
    assert result.ok, result.failures + [c.check for c in result.failed_error_checks]

    for dataset in ("customers", "orders", "products"):
        ledger = _ledger_by_file(query, dataset)
        assert ledger, dataset
        for key, (rows_in, cleaned, quarantined, dups) in ledger.items():
            assert rows_in == cleaned + quarantined + dups, (dataset, key)

    # the generator's planted truth, seen through the contracts
    orders = _ledger_by_file(query, "orders")
    assert len(orders) == truth["orders"]["files"]  # the resend copy was not ingested again
    assert sum(v[0] for v in orders.values()) == truth["orders"]["rows"]
    assert sum(v[3] for v in orders.values()) == (
        truth["orders"]["exact_duplicates"] + truth["orders"]["conflicting_order_ids"])
    negative = "select count(*) from quarantine.orders where rule = 'min' and \"column\" = 'amount'"
    assert query(negative)[0][0] == truth["orders"]["negative_amounts"]
    customers = _ledger_by_file(query, "customers")
    assert sum(v[2] for v in customers.values()) == (
        truth["customers"]["bad_dates"] + truth["customers"]["invalid_countries"]
        + truth["customers"]["empty_last_names"])
    # warn-level rule: malformed emails are kept and flagged, not quarantined
    assert query("select count(*) from cleaned.customers where list_contains(_warnings, 'email:pattern')"
                 )[0][0] == truth["customers"]["invalid_emails"]
    # curated marts were built from the cleaned tables
    assert query("select count(*) from curated.enriched_orders")[0][0] > 0
    assert query("select count(*) from curated.enriched_orders where unknown_customer")[0][0] \
        == truth["orders"]["unknown_customers"]


def test_quarantine_row_names_file_row_rule_value_and_keeps_the_original(settings, land, one_pass, query):
    land("customers/c.csv", (CUSTOMERS_HEADER
                             + "1;Ann;Lee;ann@x.de;Köln;DE;2024-01-02;consumer\n"
                             + "2;Bob;Ray;bob@x.de;Wien;AT;31.02.2024;business\n").encode("latin-1"))
    assert one_pass().ok
    (row,) = query("select _source_file, _row_number, \"column\", rule, value, original_record "
                   "from quarantine.customers")
    assert row[:5] == ("customers/c.csv", 2, "signup_date", "type", "31.02.2024")
    assert json.loads(row[5])["Ort"] == "Wien"
    assert query("select city from cleaned.customers") == [("Köln",)]


def test_relanding_identical_file_changes_nothing_and_changed_file_replaces_it(
        settings, land, one_pass, query):
    body = CUSTOMERS_HEADER + "1;Ann;Lee;ann@x.de;Köln;DE;2024-01-02;consumer\n"
    land("customers/c.csv", body.encode("latin-1"))
    assert one_pass().ok
    before = query("select * exclude (_ingested_at, _run_id) from raw.customers")

    land("customers/c.csv", body.encode("latin-1"))  # same bytes, new mtime
    again = one_pass()
    assert again.ok and not any(again.processed.values())
    assert query("select * exclude (_ingested_at, _run_id) from raw.customers") == before

    land("customers/c.csv", (body + "2;Bob;Ray;bob@x.de;Wien;AT;2024-01-03;business\n").encode("latin-1"))
    changed = one_pass()
    assert changed.ok and len(changed.processed["customers"]) == 1
    # the new version replaced the old one: one file, two rows, no stale copy
    assert query("select count(distinct _partition), count(*) from raw.customers") == [(1, 2)]
    assert query("select count(*) from cleaned.customers") == [(2,)]


def test_columns_in_another_order_land_in_the_right_columns(settings, land, one_pass, query):
    land("customers/a.csv", (CUSTOMERS_HEADER + "1;Ann;Lee;ann@x.de;Köln;DE;2024-01-02;consumer\n")
         .encode("latin-1"))
    land("customers/b.csv", ("Land;Segment;Anmeldedatum;Ort;E-Mail;Nachname;Vorname;Kundennummer\n"
                             "FR;business;2024-02-03;Lyon;bo@x.fr;Ray;Bo;2\n").encode("latin-1"))
    assert one_pass().ok
    assert query("select customer_id, first_name, last_name, city, country, segment "
                 "from cleaned.customers order by customer_id") == [
        (1, "Ann", "Lee", "Köln", "DE", "consumer"),
        (2, "Bo", "Ray", "Lyon", "FR", "business"),
    ]


def test_empty_and_header_only_files_are_ingested_as_zero_rows(settings, land, one_pass, query):
    land("customers/empty.csv", b"")
    land("customers/header.csv", CUSTOMERS_HEADER.encode("latin-1"))
    land("orders/empty.ndjson", b"")
    result = one_pass()
    assert result.ok, result.failures
    assert len(result.processed["customers"]) == 2
    assert query("select count(*) from raw.customers") == [(0,)]
    assert query("select count(*) from cleaned.customers") == [(0,)]
    assert query("select count(*) from quarantine.customers") == [(0,)]


def test_malformed_files_fail_only_their_partition_with_a_clear_message(settings, land, one_pass, query):
    land("customers/good.csv", (CUSTOMERS_HEADER + "1;Ann;Lee;ann@x.de;Köln;DE;2024-01-02;consumer\n")
         .encode("latin-1"))
    assert one_pass().ok

    land("customers/ragged.csv", (CUSTOMERS_HEADER + "2;Bo;Ray;b@x.de;Lyon;FR;2024-01-02;consumer;extra\n")
         .encode("latin-1"))
    land("orders/garbage.ndjson", b'{"order_id": "ORD-0000001"}\n\x00\xff\xfe garbage {{{\n')
    result = one_pass()
    assert not result.ok
    text = "\n".join(result.failures)
    assert "customers/ragged.csv" in text and "Expected Number of Columns" in text
    assert "orders/garbage.ndjson" in text
    assert "Traceback" not in text
    # earlier data intact, and the bad files left no rows behind
    assert query("select customer_id from cleaned.customers") == [(1,)]
    assert query("select count(*) from raw.customers") == [(1,)]


def test_wrong_encoding_is_reported_with_the_file_and_the_fix(settings, land, one_pass):
    contract = contracts_dir(settings) / "customers.yaml"
    contract.write_text(contract.read_text().replace("encoding: latin-1", "encoding: utf-8"))
    land("customers/latin.csv", (CUSTOMERS_HEADER + "1;Ann;Müller;a@x.de;Köln;DE;2024-01-02;consumer\n")
         .encode("latin-1"))
    result = one_pass()
    assert not result.ok
    (failure,) = result.failures
    assert "customers/latin.csv" in failure and "utf-8" in failure
    assert "deliver it again" in failure


def test_a_new_dataset_flows_from_one_contract_file_without_code(settings, land, one_pass, query):
    (contracts_dir(settings) / "sensor_readings.yaml").write_text("""
name: sensor_readings
description: Readings from the greenhouse sensors, one JSON array per upload.
owner: iot-team
source:
  format: json
primary_key: [sensor, measured_at]
columns:
  - {name: sensor, nullable: false, standardize: [trim, lower]}
  - {name: measured_at, type: timestamp, nullable: false}
  - {name: celsius, rename_from: temp, type: float, min: -50, max: 60}
  - {name: ok, type: boolean}
""")
    land("sensor_readings/upload-1.json", json.dumps([
        {"sensor": " GH-1 ", "measured_at": "2026-11-01 10:00:00", "temp": 21.5, "ok": "yes"},
        {"sensor": "gh-1", "measured_at": "2026-11-01 10:00:00", "temp": 21.5, "ok": "yes"},
        {"sensor": "gh-2", "measured_at": "2026-11-01 10:00:00", "temp": 99, "ok": "no"},
        {"sensor": "gh-3", "measured_at": "yesterday", "temp": 12, "ok": "no"},
    ]))
    result = one_pass()
    assert result.ok, result.failures
    assert query("select sensor, celsius, ok from cleaned.sensor_readings") == [("gh-1", 21.5, True)]
    assert sorted(query("select \"column\", rule from quarantine.sensor_readings")) == [
        ("celsius", "max"), ("measured_at", "type")]
    assert query("select count(*) from quarantine.sensor_readings__duplicates") == [(1,)]


def test_schema_drift_extra_columns_kept_in_raw_and_missing_ones_named(settings, land, one_pass, query):
    land("orders/day1.ndjson", json.dumps({
        "order_id": "ORD-0000001", "customer_id": 1, "sku": "ABC-0001", "qty": 2, "amount": 3,
        "currency": "EUR", "ordered_at": "2026-11-01T10:00:00", "status": "placed"}) + "\n")
    # day 2: a new 'coupon' field arrives, 'amount' (required) and 'status' (optional) are gone
    land("orders/day2.ndjson", json.dumps({
        "order_id": "ORD-0000002", "customer_id": 1, "sku": "ABC-0001", "qty": 1,
        "currency": "EUR", "ordered_at": "2026-11-02T10:00:00", "coupon": "XMAS"}) + "\n")
    result = one_pass()
    assert not result.failures  # the missing columns are a named finding, not a crash
    assert [(c.check, c.partition.split("@")[0], c.metadata["missing_columns"])
            for c in result.failed_error_checks] == [("columns_present", "day2.ndjson", "amount, status")]
    assert query("select order_id, coupon from raw.orders order by order_id") == [
        ("ORD-0000001", None), ("ORD-0000002", "XMAS")]
    assert query("select order_id from cleaned.orders") == [("ORD-0000001",)]
    assert query("select _source_file, \"column\", rule from quarantine.orders") == [
        ("orders/day2.ndjson", "amount", "column_missing")]
