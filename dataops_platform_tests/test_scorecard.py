"""The quality scorecard: one row per dataset with rows passing, checks passing, freshness."""

import pytest

from dataops_platform.project.validate import load_contracts
from dataops_platform.quality.scorecard import freshness_status

CUSTOMERS = ("Kundennummer;Vorname;Nachname;E-Mail;Ort;Land;Anmeldedatum;Segment\n"
             "1;Ann;Lee;ann@x.de;Köln;DE;2024-01-02;consumer\n"
             "2;Bo;;bo@x.de;Bonn;DE;2024-01-03;consumer\n")


@pytest.fixture
def contracts(settings):
    return {c.name: c for c in load_contracts(settings.project_dir)}


def test_freshness_follows_the_contract_policy(contracts):
    orders = contracts["orders"]  # warn after 26h, fail after 50h
    assert freshness_status(orders, 1.0) == "fresh"
    assert freshness_status(orders, 27.0) == "late"
    assert freshness_status(orders, 51.0) == "stale"
    assert freshness_status(orders, None) == "no data"
    assert freshness_status(contracts["customers"], 500.0) == "no policy"


def test_scorecard_of_the_demo_counts_rows_and_checks_per_dataset(settings, land_samples,
                                                                  one_pass, query):
    land_samples()
    result = one_pass()
    assert result.ok
    rows = {r[0]: r[1:] for r in query(
        "select dataset, files, rows_in, rows_cleaned, row_pass_rate, checks_run, checks_passed, "
        "error_failures, warn_failures, freshness from curated.quality_scorecard")}
    orders = [c for c in result.checks  # the per-file checks (column rule checks count dirt,
              if c.asset == "cleaned/orders" and c.partition  # the schema-change one warns)
              and not c.check.startswith("rules_") and c.check != "column_schema_change"]
    ledger = query("select (select count(*) from raw.orders), (select count(*) from cleaned.orders)")[0]
    assert rows["orders"][:3] == (3, *ledger)
    assert rows["orders"][3] == pytest.approx(ledger[1] / ledger[0], abs=1e-4)
    assert rows["orders"][4:8] == (len(orders), sum(c.passed for c in orders), 0,
                                   sum(not c.passed for c in orders))
    # the demo's planted unknown customers stay within `references`' max_violation_rate
    assert rows["orders"][7] == 0
    assert rows["orders"][8] == "fresh"
    assert rows["customers"][8] == "no policy"


def test_scorecard_is_built_from_the_datasets_that_have_data(settings, land, one_pass, query):
    land("customers/c.csv", CUSTOMERS.encode("latin-1"))
    assert one_pass().ok
    rows = {r[0]: r[1:] for r in query(
        "select dataset, files, rows_in, rows_quarantined, checks_run, freshness "
        "from curated.quality_scorecard")}
    assert rows["customers"][:3] == (1, 2, 1)  # Bo has no last name
    assert rows["customers"][3] > 0
    assert rows["orders"] == (0, 0, 0, 0, "no data")

    # served like the marts: a reader gets the scorecard through views.sql, never the warehouse
    import duckdb
    land("customers/d.csv", CUSTOMERS.replace("1;Ann", "3;Ann").encode("latin-1"))
    assert one_pass().ok
    reader = duckdb.connect()
    reader.execute((settings.serving_dir / "views.sql").read_text())
    sql = "select dataset, files, rows_in, freshness from curated.quality_scorecard order by all"
    assert reader.execute(sql).fetchall() == query(sql)
    assert reader.execute("select files from curated.quality_scorecard "
                          "where dataset = 'customers'").fetchall() == [(2,)]
    served = sorted(p.name for p in (settings.serving_dir / "curated").glob("quality_scorecard*"))
    assert served == ["quality_scorecard.parquet", "quality_scorecard.v1.parquet",
                      "quality_scorecard.v2.parquet"]
