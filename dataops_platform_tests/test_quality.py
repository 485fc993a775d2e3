"""The checks catch what they promise: tampered tables fail them, clean ones pass."""

import duckdb
import pandas as pd
import pandera.errors as pa_errors
import pytest

from dataops_platform.project.validate import load_contracts
from dataops_platform.quality.checks import ledger, validate_partition
from dataops_platform.quality.pandera_schema import compile_schema
from dataops_platform_tests.project_files import contracts_dir

CUSTOMERS = "Kundennummer;Vorname;Nachname;E-Mail;Ort;Land;Anmeldedatum;Segment\n"


@pytest.fixture
def contracts(settings):
    return {c.name: c for c in load_contracts(settings.project_dir)}


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


def test_references_check_counts_orphans_per_file_and_its_severity_follows_the_contract(
        settings, contracts, land, one_pass, query):
    from dataops_platform.contracts.model import Rule, Severity
    from dataops_platform.quality.checks import check_references

    land("customers/c.csv", (CUSTOMERS + "1;Ann;Lee;ann@x.de;Köln;DE;2024-01-02;consumer\n")
         .encode("latin-1"))
    import json
    orders = [{"order_id": f"ORD-000000{i}", "customer_id": cid, "sku": "ABC-0001", "qty": 1,
               "amount": 1, "currency": "EUR", "ordered_at": "2026-11-01T10:00:00",
               "status": "placed"}  # every column delivered: columns_present passes
              for i, cid in enumerate([1, 1, 42, 43], start=1)]
    land("orders/o.ndjson", "\n".join(json.dumps(o) for o in orders) + "\n")
    result = one_pass()
    assert result.ok  # references are warn by default: counted, nothing quarantined
    (outcome,) = [c for c in result.checks if c.check == "references"]
    assert not outcome.passed and outcome.severity == "WARN"
    key = query("select distinct _partition from cleaned.orders")[0][0]
    conn = duckdb.connect(str(settings.warehouse_path))
    try:
        checked = check_references(conn, contracts["orders"], key)
        assert checked.metadata["customer_id -> customers.customer_id"].value == 2
        assert checked.metadata["product_sku -> products.sku"].value == 4  # no products landed
        assert checked.metadata["failing_rows"].value == 6

        strict = contracts["orders"].model_copy(update={"columns": [
            c.model_copy(update={"severity": {**c.severity, Rule.references: Severity.error}})
            if c.references else c for c in contracts["orders"].columns]})
        assert check_references(conn, strict, key).severity.value == "ERROR"
    finally:
        conn.close()


def test_contract_references_must_point_at_a_known_dataset_and_column(settings):
    from dataops_platform.contracts import ContractError
    from dataops_platform.contracts.loader import in_dependency_order

    ordered = [c.name for c in in_dependency_order(load_contracts(settings.project_dir))]
    assert ordered.index("customers") < ordered.index("orders")
    assert ordered.index("products") < ordered.index("orders")

    orders = contracts_dir(settings) / "orders.yaml"
    orders.write_text(orders.read_text()
                      .replace("{dataset: customers, column: customer_id}",
                               "{dataset: clients, column: customer_id}")
                      .replace("{dataset: products, column: sku}", "{dataset: products, column: code}"))
    with pytest.raises(ContractError) as info:
        load_contracts(settings.project_dir)
    problems = [str(p) for p in info.value.problems]
    assert any("columns[1] (customer_id).references" in p
               and "dataset 'clients' is not declared in this project" in p for p in problems)
    assert any("columns[2] (product_sku).references" in p and "no column 'code'" in p for p in problems)


def test_volume_bounds_per_file(settings, contracts, land, one_pass, query):
    from dataops_platform.contracts.model import Severity, Volume
    from dataops_platform.quality.checks import check_volume

    key = _landed_customers(land, one_pass, query)  # 4 rows delivered
    conn = duckdb.connect(str(settings.warehouse_path))
    try:
        def verdict(**bounds):
            contract = contracts["customers"].model_copy(update={"volume": Volume(**bounds)})
            result = check_volume(conn, contract, key)
            return result.passed, result.severity.value, result.metadata["rows_in"].value

        assert verdict(min_rows=4, max_rows=4) == (True, "WARN", 4)
        assert verdict(min_rows=5) == (False, "WARN", 4)
        assert verdict(min_rows=0, max_rows=3, severity=Severity.error) == (False, "ERROR", 4)
    finally:
        conn.close()


def test_reconciliation_conserves_amount_totals_and_names_an_altered_row(
        settings, contracts, land, one_pass, query):
    import json

    from dataops_platform.quality.checks import check_reconciliation

    rows = [("ORD-0000001", "10.50", 1), ("ORD-0000002", "-3.00", 2),   # negative: quarantined
            ("ORD-0000001", "10.50", 1), ("ORD-0000003", "abc", 1),     # duplicate; bad number
            ("ORD-0000004", " 7.25 ", 500)]
    land("orders/o.ndjson", "\n".join(json.dumps(
        {"order_id": o, "customer_id": 1, "sku": "ABC-0001", "qty": q, "amount": a,
         "currency": "EUR", "ordered_at": "2026-11-01T10:00:00"}) for o, a, q in rows) + "\n")
    result = one_pass()
    (outcome,) = [c for c in result.checks if c.check == "reconciliation"]
    assert outcome.passed and outcome.severity == "ERROR"
    key = query("select distinct _partition from cleaned.orders")[0][0]
    conn = duckdb.connect(str(settings.warehouse_path))
    try:
        checked = check_reconciliation(conn, contracts["orders"], key)
        figures = {k: v.value for k, v in checked.metadata.items()}
        # 10.50 + 7.25 cleaned, -3.00 quarantined, 10.50 the duplicate; "abc" parses nowhere
        assert (figures["amount/raw"], figures["amount/cleaned"], figures["amount/quarantined"],
                figures["amount/duplicates"], figures["amount/difference"]) == (
            "25.25", "17.75", "-3.00", "10.50", "0.00")
        assert figures["quantity/raw"] == "505"

        conn.execute("update cleaned.orders set amount = amount * 10 where order_id = 'ORD-0000004'")
        altered = check_reconciliation(conn, contracts["orders"], key)
        assert not altered.passed and altered.metadata["failing_columns"].value == "amount"
        assert altered.metadata["amount/difference"].value == "-65.25"
        sample = altered.metadata["amount/altered_rows"].value
        (line,) = [ln for ln in sample.splitlines() if "orders/o.ndjson" in ln]
        assert [cell.strip() for cell in line.strip("|").split("|")] == [
            "orders/o.ndjson", "5", "7.25", "72.5"]  # file, row, raw value, stored value

        conn.execute("update cleaned.orders set amount = amount / 10 where order_id = 'ORD-0000004'")
        conn.execute("delete from quarantine.orders__duplicates")  # a recorded duplicate vanishes
        vanished = check_reconciliation(conn, contracts["orders"], key)
        assert not vanished.passed and vanished.metadata["amount/difference"].value == "10.50"
        assert "missing or doubled" in vanished.metadata["amount/altered_rows"].value
    finally:
        conn.close()


def test_reconcile_accepts_numeric_columns_only(settings):
    from dataops_platform.contracts import ContractError

    orders = contracts_dir(settings) / "orders.yaml"
    orders.write_text(orders.read_text().replace("reconcile: [amount, quantity]",
                                                 "reconcile: [amount, currency, nope]"))
    with pytest.raises(ContractError) as info:
        load_contracts(settings.project_dir)
    assert "reconcile: ['currency', 'nope'] must be numeric columns" in str(info.value)


def test_each_column_gets_a_named_rule_check_with_counts_rate_and_located_sample(
        settings, contracts, land, one_pass, query):
    from dataops_platform.quality.rule_checks import evaluate_rules

    land("customers/c.csv", (CUSTOMERS + "1;Ann;Lee;ann@x.de;Köln;DE;2024-01-02;consumer\n"
                             "2;Bo;Ray;bad-mail;Lyon;FR;2024-01-03;business\n"
                             "3;Cy;;c@x.de;Bonn;XX;2024-01-04;consumer\n"      # two error rules
                             "4;Di;Fox;d@x.de;Bonn;DE;someday;consumer\n").encode("latin-1"))
    result = one_pass()
    assert result.ok  # rule checks are warn: the rows are already quarantined or flagged
    recorded = {c.check: c.passed for c in result.checks if c.check.startswith("rules_")}
    assert recorded == {"rules_customer_id": True, "rules_last_name": False, "rules_email": False,
                        "rules_country": False, "rules_signup_date": False, "rules_segment": True}
    key = query("select distinct _partition from raw.customers")[0][0]
    conn = duckdb.connect(str(settings.warehouse_path))
    try:
        results = evaluate_rules(conn, contracts["customers"], key)
    finally:
        conn.close()
    figures = {name: {k: v.value for k, v in r.metadata.items()} for name, r in results.items()}
    assert figures["rules_last_name"]["not_null (error)"] == 1
    assert figures["rules_country"]["allowed_values (error)"] == 1  # Cy's second violation counts too
    assert figures["rules_signup_date"]["type (error)"] == 1
    assert figures["rules_email"]["pattern (warn)"] == 1
    assert figures["rules_email"]["violation_rate"] == 0.25
    assert all(r.severity.value == "WARN" for r in results.values())

    def sample_rows(name: str) -> list[list[str]]:
        lines = figures[name]["failure_sample"].splitlines()[2:]
        return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]

    assert sample_rows("rules_email") == [["customers/c.csv", "2", "pattern", "bad-mail", "kept (warn)"]]
    assert sample_rows("rules_country") == [["customers/c.csv", "3", "allowed_values", "XX",
                                             "quarantined"]]
    assert "failure_sample" not in figures["rules_segment"]


def test_a_delivery_with_changed_columns_fails_the_schema_change_check(settings, land, one_pass):
    contract = contracts_dir(settings) / "customers.yaml"  # evolve: the file is loaded, and flagged
    contract.write_text(contract.read_text().replace("schema_policy: freeze", "schema_policy: evolve"))
    land("customers/a.csv", (CUSTOMERS + "1;Ann;Lee;ann@x.de;Köln;DE;2024-01-02;consumer\n")
         .encode("latin-1"))
    first = one_pass()
    assert all(c.passed for c in first.checks if c.check == "column_schema_change")
    land("customers/b.csv", (CUSTOMERS.replace(";Segment\n", ";Segment;Telefon\n")
                             + "2;Bo;Ray;bo@x.de;Bonn;DE;2024-01-03;consumer;0221-1\n").encode("latin-1"))
    second = one_pass()
    assert second.ok  # a warning: new columns are kept in raw, cleaned follows the contract
    outcomes = {c.asset: c for c in second.checks if c.check == "column_schema_change"}
    assert not outcomes["raw/customers"].passed and outcomes["raw/customers"].severity == "WARN"
    assert outcomes["cleaned/customers"].passed, outcomes["cleaned/customers"]
    import dagster as dg
    with dg.DagsterInstance.get() as instance:
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey(["raw", "customers"]), "column_schema_change")]
        ).popitem()[1]
    assert "Added columns: Telefon" in record.event.asset_check_evaluation.description
