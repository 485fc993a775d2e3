"""Incremental marts: a mart's select applied to its published version by a write mode,
still through write-audit-publish (audited candidate, atomic swap, rollback)."""

import dagster as dg
import duckdb
import pytest

from dataops_platform.contracts.model import Write
from dataops_platform.storage import publish
from dataops_platform.storage.warehouse import Warehouse
from dataops_platform.transform.wap import AuditCheck, ServingArea, published_table, unique_key


def _sql(db, sql):
    conn = duckdb.connect(str(db))
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _mart(tmp_path, write: Write, sql: str, checks=()):
    db = tmp_path / "wh.duckdb"
    table = published_table("m", deps=[], description="an incremental mart", sql=sql,
                            checks=list(checks), write=write)
    resources = {"warehouse": Warehouse(database=str(db)),
                 "serving_area": ServingArea(root=str(tmp_path / "serving"))}

    def run(instance):
        return dg.materialize([*table.assets, *table.checks], resources=resources,
                              instance=instance, raise_on_error=False)

    return db, run


def _published(db, columns="*"):
    return _sql(db, f"select {columns} from curated.m")


def test_merge_mart_keeps_the_newest_row_per_key_across_runs_and_reruns_change_nothing(tmp_path):
    db, run = _mart(tmp_path, Write(mode="merge", key=["id"], order_by="updated_at"),
                    "select id, city, updated_at from src.changes")
    _sql(db, """create schema src; create table src.changes as select * from (values
                (2, 'Bonn', date '2026-01-02'), (1, 'Köln', date '2026-01-01')) t(id, city, updated_at)""")
    with dg.instance_for_test() as instance:
        assert run(instance).success
        assert _published(db) == [(1, "Köln", _d("2026-01-01")), (2, "Bonn", _d("2026-01-02"))]
        # the next batch: 1 moved, 3 is new, 2 is not in it (kept), an older 2 is ignored
        _sql(db, """delete from src.changes; insert into src.changes values
                    (1, 'Ulm', date '2026-02-01'), (3, 'Kiel', date '2026-02-01'),
                    (2, 'Alt', date '2025-12-01')""")
        assert run(instance).success
        merged = [(1, "Ulm", _d("2026-02-01")), (2, "Bonn", _d("2026-01-02")),
                  (3, "Kiel", _d("2026-02-01"))]
        assert _published(db) == merged  # sorted by the key
        assert run(instance).success  # the same inputs again: the same table, a new version
        assert _published(db) == merged
        assert _sql(db, "select version, status from publish.versions order by 1") == [
            (1, "kept"), (2, "previous"), (3, "published")]
        candidate = instance.get_latest_materialization_event(dg.AssetKey(["audit", "m"]))
        metadata = candidate.asset_materialization.metadata
        assert metadata["write_mode"].value == "merge" and metadata["built_on_version"].value == 2


def _d(text):
    from datetime import date
    return date.fromisoformat(text)


def test_history_mart_records_each_change_with_validity_and_reruns_add_nothing(tmp_path):
    db, run = _mart(tmp_path, Write(mode="history", key=["id"], order_by="as_of"),
                    "select id, tier, as_of from src.tiers")
    _sql(db, """create schema src; create table src.tiers as select * from (values
                (1, 'bronze', timestamp '2026-01-01'), (2, 'gold', timestamp '2026-01-01'))
                t(id, tier, as_of)""")
    columns = ("id, tier, valid_from::date::varchar, valid_to::date::varchar, is_current "
               "from curated.m order by id, valid_from")
    with dg.instance_for_test() as instance:
        assert run(instance).success
        _sql(db, "update src.tiers set as_of = timestamp '2026-02-01', "
                 "tier = case id when 1 then 'silver' else tier end")  # 1 changes, 2 does not
        assert run(instance).success
        _sql(db, "update src.tiers set as_of = timestamp '2026-03-01', "
                 "tier = case id when 1 then 'gold' else tier end")
        assert run(instance).success
        timeline = [(1, "bronze", "2026-01-01", "2026-02-01", False),
                    (1, "silver", "2026-02-01", "2026-03-01", False),
                    (1, "gold", "2026-03-01", None, True),
                    (2, "gold", "2026-01-01", None, True)]  # unchanged: still its first version
        assert _sql(db, f"select {columns}") == timeline
        assert run(instance).success  # re-run with the same inputs
        assert _sql(db, f"select {columns}") == timeline
        assert [r[0] for r in _sql(db, "select id from curated.m")] == [1, 1, 1, 2]  # sorted


def test_partition_mart_replaces_the_batchs_partitions_and_keeps_the_others(tmp_path):
    db, run = _mart(tmp_path, Write(mode="partition", partition_by=["day"], sort_by=["day", "shop"]),
                    "select day, shop, sum(amount) as revenue from src.sales group by all")
    _sql(db, """create schema src; create table src.sales as select * from (values
                (1, 'a', 10), (1, 'b', 5), (2, 'a', 7)) t(day, shop, amount)""")
    with dg.instance_for_test() as instance:
        assert run(instance).success
        # day 1's source rows are pruned, day 2 gets a correction, day 3 arrives
        _sql(db, "delete from src.sales where day = 1; insert into src.sales values (2, 'a', 1), "
                 "(3, 'b', 4)")
        assert run(instance).success
        expected = [(1, "a", 10), (1, "b", 5), (2, "a", 8), (3, "b", 4)]
        assert _published(db) == expected
        assert run(instance).success
        assert _published(db) == expected


def test_append_mart_adds_new_rows_once(tmp_path):
    db, run = _mart(tmp_path, Write(mode="append", sort_by=["n"]), "select n from src.t")
    _sql(db, "create schema src; create table src.t as select range as n from range(3)")
    with dg.instance_for_test() as instance:
        assert run(instance).success
        _sql(db, "delete from src.t where n = 0; insert into src.t values (7)")
        assert run(instance).success
        assert run(instance).success
        assert _published(db) == [(0,), (1,), (2,), (7,)]


def _no_negative(conn, relation):
    negative = conn.execute(f"select count(*) from {relation} where n < 0").fetchall()[0][0]
    return negative == 0, {"negative": negative}


def test_a_failed_audit_leaves_the_published_version_and_the_next_candidate_builds_on_it(tmp_path):
    db, run = _mart(tmp_path, Write(mode="merge", key=["id"], order_by="n"),
                    "select id, n from src.t",
                    [unique_key("id"), AuditCheck("no_negative", "n >= 0", _no_negative)])
    _sql(db, "create schema src; create table src.t as select * from (values (1, 1), (2, 2)) t(id, n)")
    with dg.instance_for_test() as instance:
        assert run(instance).success
        _sql(db, "delete from src.t; insert into src.t values (3, -1)")
        assert not run(instance).success
        assert _published(db) == [(1, 1), (2, 2)]  # untouched
        assert _sql(db, "select * from audit.m") == [(1, 1), (2, 2), (3, -1)]  # inspectable
        served = tmp_path / "serving" / "curated" / "m.parquet"
        assert duckdb.sql(f"select * from '{served}' order by all").fetchall() == [(1, 1), (2, 2)]
        _sql(db, "delete from src.t; insert into src.t values (3, 3), (1, 5)")
        assert run(instance).success  # built on version 1, not on the failed version 2
        assert _published(db) == [(1, 5), (2, 2), (3, 3)]
        conn = duckdb.connect(str(db))
        try:
            back = publish.rollback(conn, "curated", "m")
            assert (back.version.version, back.replaced.version) == (1, 3)
            assert conn.execute("select * from curated.m").fetchall() == [(1, 1), (2, 2)]
        finally:
            conn.close()


def test_write_modes_of_a_mart_are_validated(tmp_path):
    with pytest.raises(ValueError, match="needs key"):
        published_table("m", deps=[], description="", sql="select 1", write=Write(mode="merge"))
    _, run = _mart(tmp_path, Write(mode="merge", key=["nope"]), "select 1 as id")
    with dg.instance_for_test() as instance:
        result = run(instance)
        assert not result.success
        failure = next(e for e in result.all_events if e.is_step_failure)
        assert "names column(s) _ingested_at, nope that the mart's select does not return" in \
            str(failure.step_failure_data.error)


def test_the_demo_keeps_each_customers_value_tier_history(settings, land, land_samples, one_pass,
                                                         query):
    import json

    from dataops_platform.automation.one_pass import prepare_instance
    from dataops_platform.factory import build_definitions

    land_samples()
    assert one_pass().ok
    first = query("select customer_id, value_tier, valid_from from curated.customer_tier_history "
                  "order by all")
    assert len(first) == query("select count(*) from curated.customer_lifetime_value")[0][0]
    assert {r[1] for r in first} == {"bronze", "silver", "gold"}
    bronze = next(r[0] for r in first if r[1] == "bronze")
    land("orders/orders_big.ndjson", json.dumps({
        "order_id": "ORD-8000001", "customer_id": bronze, "sku": "ELE-3802", "qty": 1,
        "amount": "5000.00", "currency": "EUR", "ordered_at": "2026-11-05T10:00:00",
        "status": "placed"}) + "\n")
    assert one_pass().ok
    history = "select customer_id, value_tier, valid_from, valid_to, is_current " \
              "from curated.customer_tier_history order by customer_id, valid_from"
    second = query(history)
    assert len(second) == len(first) + 1  # one customer changed tier: one new version
    old, new = [r for r in second if r[0] == bronze]
    assert (old[1], old[4], new[1], new[4]) == ("bronze", False, "gold", True)
    assert old[3] == new[2] > old[2]  # closed when the new version starts: the new delivery
    assert [r[:3] for r in second if r[0] != bronze] == [r for r in first if r[0] != bronze]
    # re-running the mart with the same inputs publishes the same table
    instance = prepare_instance(settings)
    try:
        assert build_definitions(settings).resolve_job_def("curated").execute_in_process(
            instance=instance).success
    finally:
        instance.dispose()
    assert query("select max(version) from publish.versions "
                 "where table_name = 'curated.customer_tier_history'") == [(3,)]
    assert query(history) == second
