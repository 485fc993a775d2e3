"""The warehouse on DuckLake (catalog in the local PostgreSQL, Parquet under a data path):
the pipeline end to end, concurrent writers, a killed writer and a reader during publishes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest

from dataops_platform.automation.one_pass import prepare_instance, register_landed
from dataops_platform.factory import build_platform
from dataops_platform.samples.generator import generate
from dataops_platform.settings import Settings
from dataops_platform.storage.backends import open_warehouse
from dataops_platform_tests.ducklake_fixtures import lake_env
from dataops_platform_tests.project_files import EXAMPLE
from dataops_platform_tests.wap_helpers import known_customer_orders

PROJECT_DIR = EXAMPLE.parent.parent  # the checkout: the target module is imported from it

pytestmark = pytest.mark.production


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Iterator[Settings]:
    """The test's home, its warehouse on a fresh DuckLake."""
    for env in lake_env(tmp_path):
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        yield Settings.resolve(settings.project_dir).ensure()


@pytest.fixture
def lake_query(lake: Settings) -> Callable[[str], list[tuple]]:
    def _query(sql: str) -> list[tuple]:
        conn = open_warehouse(lake.warehouse, read_only=True)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()
    return _query


def _ledger(query: Callable[[str], list[tuple]], dataset: str) -> dict[str, tuple[int, ...]]:
    rows = query(f"""
        select r._partition, r.n, coalesce(c.n, 0), coalesce(q.n, 0), coalesce(d.n, 0)
        from (select _partition, count(*) n from raw.{dataset} group by 1) r
        left join (select _partition, count(*) n from cleaned.{dataset} group by 1) c using (_partition)
        left join (select _partition, count(*) n from quarantine.{dataset} group by 1) q using (_partition)
        left join (select _partition, count(*) n from quarantine.{dataset}__duplicates group by 1) d
               using (_partition)""")
    return {k: (n, c, q, d) for k, n, c, q, d in rows}


def test_pipeline_end_to_end_on_ducklake_balances_every_ledger(lake, one_pass, lake_query):
    truth = generate(lake.landing_dir, rows=300, seed=11, days=2).expected
    result = one_pass()
    assert result.ok, result.failures + [c.check for c in result.failed_error_checks]
    assert lake_query("select count(*) from duckdb_databases() where type = 'ducklake'")[0][0] == 1
    for dataset in ("customers", "orders", "products"):
        ledger = _ledger(lake_query, dataset)
        assert ledger, dataset
        for key, (rows_in, cleaned, quarantined, dups) in ledger.items():
            assert rows_in == cleaned + quarantined + dups, (dataset, key)
    orders = _ledger(lake_query, "orders")
    assert sum(v[0] for v in orders.values()) == truth["orders"]["rows"]
    assert lake_query("select count(*) from curated.enriched_orders")[0][0] > 0
    # the data is Parquet under the data path, not in the DuckDB file
    assert list((Path(lake.ducklake_data_path) if lake.ducklake_data_path else lake.home / "lake_data")
                .rglob("*.parquet"))
    assert not lake.warehouse_path.exists()


def _order(i: int, day: int) -> str:
    return json.dumps({"order_id": f"ORD-{day:03d}{i:04d}", "customer_id": i, "sku": "ABC-0001",
                       "qty": 1, "amount": "5.00", "currency": "EUR",
                       "ordered_at": f"2026-11-{day:02d}T10:00:00", "status": "placed"})


FILES, ROWS, RUNS = 6, 40, 8


def test_eight_concurrent_runs_on_overlapping_data_all_succeed_with_no_row_lost_or_doubled(
        lake, land, lake_query, tmp_path):
    for day in range(1, FILES + 1):
        land(f"orders/orders_{day}.ndjson", "\n".join(_order(i, day) for i in range(ROWS)) + "\n")
    instance = prepare_instance(lake)
    assert instance.event_log_storage.get_concurrency_info("duckdb").slot_count == 8
    datasets = build_platform(lake).datasets
    register_landed(instance, datasets, lake.landing_dir)
    keys = sorted(instance.get_dynamic_partitions("orders_files"))
    assert len(keys) == FILES
    # eight runs: every file once, and the first two files twice, at the same time
    work = [*keys, *keys[:RUNS - FILES]]
    go = tmp_path / "go"
    env = {**os.environ, "DATAOPS_TEST_JOB": "process_orders"}
    launchers = []
    for n, key in enumerate(work):  # output to files: a full pipe would block the child
        out, err = tmp_path / f"out-{n}", tmp_path / f"err-{n}"
        with out.open("w") as o, err.open("w") as e:
            launchers.append((tmp_path / f"ready-{n}", out, err, subprocess.Popen(
                [sys.executable, "-W", "ignore", "-m", "dataops_platform_tests.ducklake_target",
                 key, str(tmp_path / f"ready-{n}"), str(go)], cwd=PROJECT_DIR, env=env,
                stdout=o, stderr=e)))
    for ready, _, err, proc in launchers:  # handshake: all built before any writes
        while not ready.exists():
            assert proc.poll() is None, err.read_text()[-3000:]
            time.sleep(0.02)
    go.touch()
    run_ids = []
    for _, out, err, proc in launchers:
        assert proc.wait(timeout=300) == 0, err.read_text()[-4000:]
        assert "database is locked" not in err.read_text(), err.read_text()[-2000:]
        run_ids.append(out.read_text().strip().splitlines()[-1])
    assert all(instance.get_run_by_id(r).status is dg.DagsterRunStatus.SUCCESS for r in run_ids)
    instance.dispose()

    ledger = _ledger(lake_query, "orders")
    assert sorted(ledger) == keys
    assert all(v[0] == v[1] + v[2] + v[3] for v in ledger.values()), ledger
    assert sum(v[0] for v in ledger.values()) == FILES * ROWS  # nothing lost, nothing doubled
    assert lake_query("select count(*), count(distinct order_id) from cleaned.orders") \
        == [(FILES * ROWS, FILES * ROWS)]
    assert lake_query("select count(*) from (select _partition, _row_number from raw.orders "
                      "group by all having count(*) > 1)") == [(0,)]


def _dataops(lake: Settings, *args: str, env_extra: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-W", "ignore", "-m", "dataops_platform.cli.main", *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _published(query: Callable[[str], list[tuple]]) -> tuple:
    return (query("select * from curated.enriched_orders order by all"),
            query("select table_name, version, status from publish.versions "
                  "where status in ('published', 'previous') order by all"))


def test_sigkill_mid_publish_leaves_published_tables_unchanged_and_a_reader_never_sees_half(
        lake, land, land_samples, one_pass, lake_query, tmp_path):
    land_samples()
    assert one_pass().ok
    before = _published(lake_query)
    ready, stop, seen = tmp_path / "reader-ready", tmp_path / "reader-stop", tmp_path / "seen.json"
    reader = subprocess.Popen([sys.executable, "-W", "ignore", "-m",
                               "dataops_platform_tests.ducklake_reader", str(lake.project_dir),
                               str(ready), str(stop), str(seen)], cwd=PROJECT_DIR)
    try:
        while not ready.exists():  # handshake: the reader has attached
            assert reader.poll() is None
            time.sleep(0.02)
        land("orders/orders_batch1.ndjson", known_customer_orders(1, 50))
        marker = tmp_path / "paused-swap"
        victim = _dataops(lake, "run", env_extra={"DATAOPS_FAULT_POINT": "swap",
                                                  "DATAOPS_FAULT_MARKER": str(marker)})
        while not marker.exists():  # handshake: paused inside the publish transaction
            assert victim.poll() is None, victim.communicate()[0][-3000:]
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=60)
        assert _published(lake_query) == before  # the killed swap changed nothing visible

        rerun = _dataops(lake, "run")
        output, _ = rerun.communicate(timeout=300)
        assert rerun.returncode == 0, output[-3000:]
        assert "every row accounted for" in output
    finally:
        stop.touch()
        reader.wait(timeout=60)
    for key, (rows_in, cleaned, quarantined, dups) in _ledger(lake_query, "orders").items():
        assert rows_in == cleaned + quarantined + dups, key
    after = _published(lake_query)
    assert len(after[0]) == len(before[0]) + 50  # the re-run published the new delivery
    report = json.loads(seen.read_text())
    assert report["queries"] > 0 and not report["errors"], report["errors"]
    assert not report["half"], report["half"]  # never a half-published state
    assert len(report["seen"]) == 2, report["seen"]  # the old version, then the new one


def test_warehouse_settings_come_from_the_environment_and_errors_never_show_the_catalog(tmp_path):
    from dataops_platform.storage.backends import WarehouseConfigError, scrub

    env = {"DATAOPS_WAREHOUSE": "ducklake", "DATAOPS_DUCKLAKE_DATA_PATH": str(tmp_path / "d"),
           "DATAOPS_WAREHOUSE_POOL_LIMIT": "3"}
    chosen = Settings.resolve(tmp_path, environ=env)
    assert (chosen.warehouse.backend, chosen.warehouse.data_path, chosen.warehouse_pool_limit) \
        == ("ducklake", str(tmp_path / "d"), 3)
    assert "password" not in repr(chosen.warehouse)  # the catalog stays in its env var
    file = Settings.resolve(tmp_path, environ={"DATAOPS_WAREHOUSE_POOL_LIMIT": "3"})
    assert (file.warehouse.backend, file.warehouse_pool_limit) == ("duckdb", 1)  # one writer
    with pytest.raises(WarehouseConfigError, match="duckdb, ducklake"):
        Settings.resolve(tmp_path, environ={"DATAOPS_WAREHOUSE": "sqlite"})
    secret = "host=db user=u password=hunter2 dbname=lake"
    assert "hunter2" not in scrub(f"could not connect: {secret}", secret)
    assert "hunter2" not in scrub("password=hunter2 failed", None)
