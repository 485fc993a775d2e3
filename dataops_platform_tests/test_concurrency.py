"""Several runs at once never fail on DuckDB's single-writer lock.

Runs are launched at once from separate processes (as the daemon launches them) with the
multiprocess executor (every step in its own process), on an instance configured by the
project's dagster.yaml.
Every run must succeed and every row be accounted for. The duckdb pool (limit 1) serializes
the warehouse steps almost always; on the SQLite-backed local instance Dagster's slot claims
were seen to let two steps overlap about once in ten runs, and the connection's lock retry
is what keeps such an overlap from failing a run. The overlaps are reported, and there must
be at most one (without the pool the steps of all three runs overlap).
"""

import itertools
import json
import subprocess
import sys

import dagster as dg
import pytest

from dataops_platform.automation.one_pass import prepare_instance, register_landed
from dataops_platform.factory import build_platform
from dataops_platform_tests.project_files import EXAMPLE

PROJECT_DIR = EXAMPLE.parent.parent  # the checkout: the target module is imported from it

RUNS = 3


def _order(i: int, day: int) -> str:
    return json.dumps({"order_id": f"ORD-{day:03d}{i:04d}", "customer_id": i, "sku": "ABC-0001",
                       "qty": 1, "amount": "5.00", "currency": "EUR",
                       "ordered_at": f"2026-11-{day:02d}T10:00:00", "status": "placed"})


@pytest.mark.slow
def test_concurrent_runs_are_serialized_by_the_duckdb_pool(settings, land, query):
    for day in range(1, RUNS + 1):
        land(f"orders/orders_{day}.ndjson", "\n".join(_order(i, day) for i in range(50)) + "\n")
    instance = prepare_instance(settings)
    assert instance.event_log_storage.supports_global_concurrency_limits
    assert instance.event_log_storage.get_concurrency_info("duckdb").slot_count == 1
    datasets = build_platform(settings).datasets
    register_landed(instance, datasets, settings.landing_dir)
    (orders,) = [d for d in datasets if d.contract.name == "orders"]
    # the warehouse step: a file's raw, cleaned, checks and current, in the duckdb pool
    pooled = {orders.process.node_def.name} if orders.process.node_def.pool == "duckdb" else set()
    assert pooled == {"orders_files"}
    steps_per_run = len(pooled)
    keys = instance.get_dynamic_partitions("orders_files")
    assert len(keys) == RUNS

    launchers = [subprocess.Popen(
        [sys.executable, "-m", "dataops_platform_tests.concurrency_target", key],
        cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for key in keys]
    run_ids = []
    for launcher in launchers:
        out, err = launcher.communicate(timeout=600)
        assert launcher.returncode == 0, err[-3000:]
        run_ids.append(out.strip().splitlines()[-1])
    runs = [instance.get_run_by_id(run_id) for run_id in run_ids]
    assert all(run.status is dg.DagsterRunStatus.SUCCESS for run in runs)

    # the warehouse steps never overlapped in time
    spans = []
    for run_id in run_ids:
        started = {}
        for event in instance.all_logs(run_id):
            step = event.step_key
            if event.dagster_event is None or step is None or step not in pooled:
                continue
            if event.dagster_event.event_type_value == "STEP_START":
                started[step] = event.timestamp
            elif event.dagster_event.event_type_value == "STEP_SUCCESS":
                spans.append((started[step], event.timestamp, f"{run_id[:8]}:{step}"))
    assert len(spans) == RUNS * steps_per_run
    spans.sort()
    overlaps = [f"{first} and {second}" for (_, end, first), (start, _, second)
                in itertools.pairwise(spans) if start < end]
    print(f"warehouse steps that overlapped: {overlaps or 'none'}")
    assert len(overlaps) <= 1, f"the duckdb pool did not serialize the writers: {overlaps}"

    assert query("select count(*) from cleaned.orders") == [(RUNS * 50,)]
