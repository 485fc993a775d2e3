"""Write-audit-publish: a candidate is audited before an atomic swap; rollback is instant."""

import json

import dagster as dg
import duckdb
import pytest
from click.testing import CliRunner

from dataops_platform.automation.one_pass import prepare_instance
from dataops_platform.cli.main import cli
from dataops_platform.storage import publish
from dataops_platform.storage.warehouse import Warehouse
from dataops_platform.transform.wap import AuditCheck, ServingArea, published_table, unique_key


def _no_negative(conn, relation):
    negative = conn.execute(f"select count(*) from {relation} where n < 0").fetchall()[0][0]
    return negative == 0, {"negative": negative}


def _rows(db, sql):
    conn = duckdb.connect(str(db))
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _served(path):
    return duckdb.sql(f"select count(*), sum(n) from read_parquet('{path}')").fetchall()[0]


def test_audit_pass_publishes_audit_fail_leaves_the_table_untouched_and_rollback_swaps(tmp_path):
    db = tmp_path / "wh.duckdb"
    _rows(db, "create schema src; create table src.t as select range as n from range(3)")
    table = published_table(
        "numbers", deps=[], description="numbers", sql="select n from src.t",
        checks=[unique_key("n"), AuditCheck("no_negative", "n >= 0", _no_negative)])
    resources = {"warehouse": Warehouse(database=str(db)),
                 "serving_area": ServingArea(root=str(tmp_path / "serving"))}
    served = tmp_path / "serving" / "curated" / "numbers.parquet"

    def materialize(instance):
        return dg.materialize([*table.assets, *table.checks], resources=resources,
                              instance=instance, raise_on_error=False)

    with dg.instance_for_test() as instance:
        # audit passes: published, version 1, served
        first = materialize(instance)
        assert first.success
        assert _rows(db, "select count(*), sum(n) from curated.numbers") == [(3, 3)]
        assert _served(served) == (3, 3)
        candidate = instance.get_latest_materialization_event(dg.AssetKey(["audit", "numbers"]))
        assert candidate.asset_materialization.metadata["version"].value == 1

        # audit fails: the published table and the serving copy stay at version 1
        _rows(db, "insert into src.t values (-5)")
        second = materialize(instance)
        assert not second.success
        evaluations = {e.check_name: e for e in second.get_asset_check_evaluations()}
        assert evaluations["unique_key"].passed and not evaluations["no_negative"].passed
        failed = evaluations["no_negative"]
        assert failed.metadata["version"].value == 2  # the check names the version it audited
        assert failed.metadata["negative"].value == 1
        target = failed.target_materialization_data  # ... and Dagster links it to that candidate
        candidate = instance.fetch_materializations(dg.AssetKey(["audit", "numbers"]), limit=1).records[0]
        assert target.storage_id == candidate.storage_id
        assert candidate.asset_materialization.metadata["version"].value == 2
        assert not [e for e in second.get_asset_materialization_events()
                    if e.asset_key == dg.AssetKey(["curated", "numbers"])]  # publish skipped
        assert _rows(db, "select count(*), sum(n) from curated.numbers") == [(3, 3)]
        assert _rows(db, "select count(*), sum(n) from audit.numbers") == [(4, -2)]  # inspectable
        assert _served(served) == (3, 3)
        assert _rows(db, "select check_name, passed from publish.audits where version = 2 "
                         "order by 1") == [("no_negative", False), ("unique_key", True)]

        # even asked directly, the publish step refuses an unaudited/failed candidate
        alone = dg.materialize([*table.assets], selection=[table.published.key], resources=resources,
                               instance=instance, raise_on_error=False)
        assert not alone.success
        assert _rows(db, "select count(*) from curated.numbers") == [(3,)]

        # fixed: version 3 is published, version 1 kept as previous, failed 2 dropped
        _rows(db, "update src.t set n = 10 where n = -5")
        assert materialize(instance).success
        assert _rows(db, "select count(*), sum(n) from curated.numbers") == [(4, 13)]
        assert _rows(db, "select version, status from publish.versions order by 1") == [
            (1, "previous"), (2, "retired"), (3, "published")]
        conn = duckdb.connect(str(db))
        try:
            back = publish.rollback(conn, "curated", "numbers")
            assert (back.version.version, back.replaced.version) == (1, 3)
            assert conn.execute("select count(*), sum(n) from curated.numbers").fetchall() == [(3, 3)]
            again = publish.rollback(conn, "curated", "numbers")  # a second rollback undoes it
            assert (again.version.version, again.replaced.version) == (3, 1)
            assert conn.execute("select count(*), sum(n) from curated.numbers").fetchall() == [(4, 13)]
            assert conn.execute("select action, version, replaced_version from publish.history "
                                "order by happened_at").fetchall() == [
                ("publish", 1, None), ("publish", 3, 1), ("rollback", 1, 3), ("rollback", 3, 1)]
            # no leftover tables: two kept versions and the candidate view
            assert sorted(r[0] for r in conn.execute(
                "select table_name from duckdb_tables() where schema_name = 'publish' "
                "and table_name like 'curated__%'").fetchall()) == [
                "curated__numbers__v1", "curated__numbers__v3"]
        finally:
            conn.close()


def _unknown_customer_orders(count: int) -> str:
    return "".join(json.dumps({
        "order_id": f"ORD-9{i:06d}", "customer_id": 990000 + i, "sku": "ELE-3802", "qty": 1,
        "amount": "10.00", "currency": "EUR", "ordered_at": "2026-11-04T10:00:00",
        "status": "placed"}) + "\n" for i in range(count))


def test_curated_marts_are_published_through_wap_and_rolled_back_from_the_cli(
        settings, land, land_samples, one_pass, query):
    land_samples()
    first = one_pass()
    assert first.ok
    checks = sorted((c.asset, c.check) for c in first.checks if c.asset.startswith("audit/"))
    assert checks == [("audit/customer_golden", "one_row_per_entity"),
                      ("audit/customer_golden", "unique_key"),
                      ("audit/customer_lifetime_value", "unique_key"),
                      ("audit/customer_tier_history", "one_current_version"),
                      ("audit/customer_tier_history", "unique_customer_id_valid_from"),
                      ("audit/daily_revenue", "revenue_not_negative"),
                      ("audit/daily_revenue", "unique_key"),
                      ("audit/enriched_orders", "known_customers"),
                      ("audit/enriched_orders", "unique_key")]
    orders_v1 = query("select count(*) from curated.enriched_orders")[0][0]
    revenue_v1 = query("select count(*), sum(revenue) from curated.daily_revenue")[0]
    assert query("select table_name, version from publish.versions where status = 'published' "
                 "order by 1") == [("curated.customer_golden", 1), ("curated.customer_lifetime_value", 1),
                                   ("curated.customer_tier_history", 1),
                                   ("curated.daily_revenue", 1), ("curated.enriched_orders", 1)]
    runner = CliRunner()
    refused = runner.invoke(cli, ["rollback", "curated.daily_revenue"])
    assert refused.exit_code == 1
    assert "no previous version" in refused.output

    # a delivery of orders from unknown customers: enriched_orders fails its audit
    land("orders/orders_2026-11-04.ndjson", _unknown_customer_orders(400))
    second = one_pass()
    failed = [(c.asset, c.check) for c in second.checks if not c.passed and c.asset.startswith("audit/")]
    assert failed == [("audit/enriched_orders", "known_customers")]
    assert not second.ok  # an audit check is an error check
    from dataops_platform.cli.summary import render_summary
    from dataops_platform.factory import build_platform
    summary = render_summary(settings, build_platform(settings).datasets, second)
    assert "HELD  enriched_orders not published: its candidate audit/enriched_orders failed " \
           "known_customers" in summary
    assert query("select count(*) from curated.enriched_orders")[0][0] == orders_v1  # untouched
    assert query("select count(*) from audit.enriched_orders")[0][0] == orders_v1 + 400
    assert query("select status from publish.versions where table_name = 'curated.enriched_orders' "
                 "and version = 2") == [("failed",)]
    listed = CliRunner().invoke(cli, ["versions", "curated.enriched_orders"])
    assert listed.exit_code == 0, listed.output
    assert "v2    failed" in listed.output and "audit FAILED: known_customers" in listed.output
    assert "v1    published" in listed.output
    # `dataops check` audits what users query (published v1), not the failed candidate v2
    gate = CliRunner().invoke(cli, ["check"])
    assert gate.exit_code == 0, gate.output
    assert "curated.enriched_orders v1" in gate.output and "gate: passed" in gate.output
    assert "curated/enriched_orders" in gate.output and "audit/enriched_orders" not in gate.output
    conn = duckdb.connect(str(settings.warehouse_path))
    try:  # a published version that no longer passes fails the gate, naming its version
        conn.execute(f"insert into {publish.versions(conn, 'curated', 'enriched_orders')[0].stored_as} "
                     "select * from curated.enriched_orders limit 1")
    finally:
        conn.close()
    gate = CliRunner().invoke(cli, ["check"])
    assert gate.exit_code == 1
    assert "ERROR curated/enriched_orders unique_key: key=order_id, repeated_keys=1" in gate.output
    assert "version=1" in gate.output
    conn = duckdb.connect(str(settings.warehouse_path))
    try:
        conn.execute(f"delete from {publish.versions(conn, 'curated', 'enriched_orders')[0].stored_as} "
                     "where rowid = (select max(rowid) from "
                     f"{publish.versions(conn, 'curated', 'enriched_orders')[0].stored_as})")
    finally:
        conn.close()
    assert query("select count(*) from curated.enriched_orders")[0][0] == orders_v1
    revenue_v2 = query("select count(*), sum(revenue) from curated.daily_revenue")[0]
    assert revenue_v2 != revenue_v1  # its audit passed: published

    # rollback is instant and the serving copy follows; a second rollback restores v2
    served = settings.serving_dir / "curated" / "daily_revenue.parquet"
    back = runner.invoke(cli, ["rollback", "curated.daily_revenue"])
    assert back.exit_code == 0, back.output
    assert "version 2 -> version 1" in back.output
    assert query("select count(*), sum(revenue) from curated.daily_revenue")[0] == revenue_v1
    assert duckdb.sql(f"select count(*), sum(revenue) from '{served}'").fetchall()[0] == revenue_v1
    instance = prepare_instance(settings)
    latest = instance.get_latest_materialization_event(dg.AssetKey(["curated", "daily_revenue"]))
    assert latest.asset_materialization.metadata["action"].value == "rollback"
    instance.dispose()
    forward = runner.invoke(cli, ["rollback", "daily_revenue"])
    assert forward.exit_code == 0 and "version 1 -> version 2" in forward.output
    assert query("select count(*), sum(revenue) from curated.daily_revenue")[0] == revenue_v2
    assert duckdb.sql(f"select count(*), sum(revenue) from '{served}'").fetchall()[0] == revenue_v2
    unknown = runner.invoke(cli, ["rollback", "curated.nope"])
    assert unknown.exit_code == 1 and "not a published table" in unknown.output

    # the serving views: any DuckDB can query the published data without the warehouse
    sql = runner.invoke(cli, ["serve-sql"])
    assert sql.exit_code == 0
    reader = duckdb.connect()
    reader.execute(sql.output)
    assert reader.execute("select count(*) from curated.enriched_orders").fetchall()[0][0] == orders_v1


def test_a_table_from_before_wap_becomes_the_previous_version_and_rollback_needs_one(tmp_path):
    conn = duckdb.connect(str(tmp_path / "wh.duckdb"))
    try:
        conn.execute("create schema curated; create table curated.t as select 1 as n")
        v = publish.write_candidate(conn, "curated", "t", "select 2 as n")
        assert v.version == 1
        publish.record_audit(conn, v, "ok", True)
        swap = publish.publish_candidate(conn, "curated", "t", ["ok"])
        assert (swap.version.version, swap.replaced.version) == (1, 0)  # the old table is v0
        assert conn.execute("select n from curated.t").fetchall() == [(2,)]
        assert publish.rollback(conn, "curated", "t").version.version == 0
        assert conn.execute("select n from curated.t").fetchall() == [(1,)]

        conn.execute("create table curated.fresh as select 1 as n")  # never published: refused
        with pytest.raises(publish.PublishError, match="never been published"):
            publish.rollback(conn, "curated", "fresh")
        # a candidate that was not audited is refused, naming the check
        publish.write_candidate(conn, "curated", "u", "select 1 as n")
        with pytest.raises(publish.PublishError, match=r"ok \(not run\).*audit\.u"):
            publish.publish_candidate(conn, "curated", "u", ["ok"])
        assert conn.execute("select count(*) from information_schema.tables where table_schema = "
                            "'curated' and table_name = 'u'").fetchall() == [(0,)]
    finally:
        conn.close()
