"""Readers query published data while pipelines run: never blocked, never a partial state."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dataops_platform_tests.serving_reader import QUERIES
from dataops_platform_tests.wap_helpers import known_customer_orders

READER = Path(__file__).with_name("serving_reader.py")


def _published_state(query) -> dict[str, tuple]:
    """What each published table holds now, as the reader measures it."""
    states = {}
    for name, sql in QUERIES.items():
        count, total = query(sql)[0]
        states[name] = (count, round(float(total or 0), 2))
    return states


def test_a_reader_queries_served_tables_in_a_loop_while_runs_publish(
        settings, land, land_samples, one_pass, query, tmp_path):
    land_samples()
    assert one_pass().ok
    published = {name: {state} for name, state in _published_state(query).items()}
    stop, out = tmp_path / "stop", tmp_path / "seen.json"
    reader = subprocess.Popen([sys.executable, str(READER), str(settings.serving_dir), str(stop),
                               str(out)])
    try:
        time.sleep(1.0)
        for batch in (1, 2, 3):  # each pass publishes a new version of every mart over orders
            land(f"orders/orders_batch{batch}.ndjson", known_customer_orders(batch, 40 * batch))
            result = one_pass()
            assert result.ok, result.failures
            for name, state in _published_state(query).items():
                published[name].add(state)
        # the first pass publishes the 4 marts and the golden customers; the next three only
        # the 4 marts built from orders (the customers did not change: no new golden version)
        assert query("select count(*) from publish.history where action = 'publish'")[0][0] == 17
    finally:
        stop.touch()
        reader.wait(timeout=60)
    report = json.loads(out.read_text())
    print(f"reader: {report['queries']} queries, states seen per table: "
          f"{ {name: len(states) for name, states in report['seen'].items()} }")
    assert report["errors"] == [], report["errors"][:5]
    assert report["queries"] > 30
    for name, states in report["seen"].items():
        assert {tuple(s) for s in states} <= published[name], (name, states, published[name])
        if len(published[name]) > 1:  # it did read while versions were being published
            assert len(states) >= 2, name


def test_a_reader_holding_views_sql_keeps_its_files_while_the_version_is_retained(tmp_path):
    import dagster as dg
    import duckdb

    from dataops_platform.storage.warehouse import Warehouse
    from dataops_platform.transform.wap import ServingArea, published_table, unique_key

    db, serving = tmp_path / "wh.duckdb", tmp_path / "serving"
    conn = duckdb.connect(str(db))
    conn.execute("create schema src; create table src.t as select 1 as n")
    conn.close()
    table = published_table("numbers", deps=[], description="numbers", sql="select n from src.t",
                            checks=[unique_key("n")])
    resources = {"warehouse": Warehouse(database=str(db)),
                 "serving_area": ServingArea(root=str(serving), keep_versions=3)}

    def publish_next(instance, n: int) -> None:
        conn = duckdb.connect(str(db))
        conn.execute(f"insert into src.t values ({n})")
        conn.close()
        assert dg.materialize([*table.assets, *table.checks], resources=resources,
                              instance=instance).success

    def read(views: str) -> int:
        reader = duckdb.connect()  # an in-memory reader, as a notebook would be
        try:
            reader.execute(views)
            return reader.execute("select count(*) from curated.numbers").fetchall()[0][0]
        finally:
            reader.close()

    def files() -> list[str]:
        return sorted(p.name for p in (serving / "curated").glob("numbers.v*.parquet"))

    with dg.instance_for_test() as instance:
        assert dg.materialize([*table.assets, *table.checks], resources=resources,
                              instance=instance).success
        held = (serving / "views.sql").read_text()  # a reader loads views.sql at version 1
        publish_next(instance, 2)
        publish_next(instance, 3)  # versions 1, 2, 3 retained (keep_versions=3)
        assert read(held) == 1  # the reader still finds version 1's file
        assert read((serving / "views.sql").read_text()) == 3
        assert files() == ["numbers.v1.parquet", "numbers.v2.parquet", "numbers.v3.parquet"]
        conn = duckdb.connect(str(db))
        try:
            assert conn.execute("select version, status from publish.versions order by 1").fetchall() \
                == [(1, "kept"), (2, "previous"), (3, "published")]
        finally:
            conn.close()
        publish_next(instance, 4)  # version 1 leaves the warehouse and the serving folder together
        assert files() == ["numbers.v2.parquet", "numbers.v3.parquet", "numbers.v4.parquet"]
        conn = duckdb.connect(str(db))
        try:
            assert conn.execute("select version, status from publish.versions order by 1").fetchall() \
                == [(1, "retired"), (2, "kept"), (3, "previous"), (4, "published")]
            assert conn.execute("select count(*) from duckdb_tables() where schema_name = 'publish' "
                                "and table_name like 'curated__numbers__v%'").fetchall() == [(3,)]
        finally:
            conn.close()
        with pytest.raises(duckdb.IOException):  # the reader must reload views.sql now
            read(held)
