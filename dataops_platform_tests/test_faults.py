"""A run killed halfway loses nothing: re-running completes the work and the ledger balances."""

import hashlib
import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from dataops_platform.samples.generator import generate
from dataops_platform_tests.wap_helpers import MARTS, known_customer_orders


def _dataops(settings, *args, env_extra=None, **kwargs):
    env = {**os.environ, "DATAOPS_HOME": str(settings.home),
           "DATAOPS_PROJECT": str(settings.project_dir), **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-m", "dataops_platform.cli.main", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def _ledger(settings):
    conn = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return conn.execute("""
            select r._partition, r.n, coalesce(c.n, 0) + coalesce(q.n, 0) + coalesce(d.n, 0)
            from (select _partition, count(*) n from raw.orders group by 1) r
            left join (select _partition, count(*) n from cleaned.orders group by 1) c using (_partition)
            left join (select _partition, count(*) n from quarantine.orders group by 1) q using (_partition)
            left join (select _partition, count(*) n from quarantine.orders__duplicates group by 1) d
                   using (_partition) order by 1""").fetchall()
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.parametrize("kill_after_s", [3.0, 6.0])
def test_sigkill_mid_run_then_rerun_accounts_for_every_row(settings, kill_after_s):
    truth = generate(settings.landing_dir, rows=60_000, seed=5, days=3).expected
    victim = _dataops(settings, "run")
    time.sleep(kill_after_s)
    assert victim.poll() is None, "the run finished before it could be killed: use more rows"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)

    rerun = _dataops(settings, "run")
    output, _ = rerun.communicate(timeout=240)
    assert rerun.returncode == 0, output
    assert "every row accounted for" in output

    ledger = _ledger(settings)
    assert len(ledger) == truth["orders"]["files"]
    assert all(rows_in == accounted for _, rows_in, accounted in ledger), ledger
    assert sum(rows_in for _, rows_in, _ in ledger) == truth["orders"]["rows"]


def _published(settings):
    """Every published table's rows, the objects readers can see, and the serving files."""
    conn = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        tables = {name: conn.execute(f"select * from curated.{name} order by all").fetchall()
                  for name in MARTS}
        visible = sorted(conn.execute("select table_schema, table_name from information_schema.tables "
                                      "where table_schema in ('curated', 'audit')").fetchall())
        versions = dict(conn.execute("select table_name, version from publish.versions "
                                     "where status = 'published'").fetchall())
    finally:
        conn.close()
    files = {  # the scorecard is rebuilt (and served) every pass, not published through WAP
        p.relative_to(settings.serving_dir).as_posix(): hashlib.sha256(
            "".join(line for line in p.read_text(errors="replace").splitlines(keepends=True)
                    if "quality_scorecard" not in line).encode()
            if p.name == "views.sql" else p.read_bytes()).hexdigest()
        for p in settings.serving_dir.rglob("*") if p.is_file() and not p.name.startswith(".")
        and not p.name.startswith("quality_scorecard")}
    return tables, visible, versions, files


def _served_rows(settings, name):
    return duckdb.sql(f"select * from '{settings.serving_dir}/curated/{name}.parquet' "
                      "order by all").fetchall()


@pytest.mark.slow
def test_sigkill_while_publishing_leaves_published_tables_whole_and_rerun_completes(
        settings, land, land_samples, one_pass, tmp_path):
    land_samples()
    assert one_pass().ok
    for batch, point in enumerate(("candidate", "swap", "serving"), start=1):
        before = _published(settings)
        land(f"orders/orders_batch{batch}.ndjson", known_customer_orders(batch, 50))
        marker = tmp_path / f"paused-{point}"
        victim = _dataops(settings, "run", env_extra={"DATAOPS_FAULT_POINT": point,
                                                      "DATAOPS_FAULT_MARKER": str(marker)})
        deadline = time.monotonic() + 240
        while not marker.exists():
            assert victim.poll() is None, victim.communicate()[0]
            assert time.monotonic() < deadline, f"never reached the fault point {point}"
            time.sleep(0.1)
        victim.send_signal(signal.SIGKILL)  # inside the transaction / before the rename
        victim.wait(timeout=60)
        after = _published(settings)
        if point == "serving":  # killed after the swap committed, before the file was replaced:
            assert after[3] == before[3]  # readers still see the previous version, whole
            assert after[1] == before[1]
            leftovers = [p.name for p in settings.serving_dir.rglob(".*.tmp-*")]
            assert len(leftovers) == 1  # the half-done export is a hidden temp file
        else:  # killed inside the candidate or the swap transaction: nothing changed
            assert after == before, point

    rerun = _dataops(settings, "run")
    output, _ = rerun.communicate(timeout=240)
    assert rerun.returncode == 0, output
    assert "every row accounted for" in output
    ledger = _ledger(settings)
    assert all(rows_in == accounted for _, rows_in, accounted in ledger), ledger
    tables, visible, _, _ = _published(settings)
    conn = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:  # the re-run published every delivery
        assert len(tables["enriched_orders"]) == conn.execute(
            "select count(distinct order_id) from cleaned.orders").fetchall()[0][0]
    finally:
        conn.close()
    for name in MARTS:  # the serving copy is the published version, no temp file left
        assert _served_rows(settings, name) == tables[name], name
    assert not list(settings.serving_dir.rglob(".*.tmp-*"))
    assert sorted(visible) == sorted([("audit", m) for m in MARTS] + [("curated", m) for m in MARTS]
                                     + [("audit", "customer_golden"), ("curated", "customer_golden"),
                                        ("curated", "quality_scorecard")])
