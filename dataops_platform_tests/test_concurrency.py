"""Several runs at once never fail on DuckDB's single-writer lock.

Runs are launched concurrently with the multiprocess executor (every step in its own
process, as under `dagster dev`), on an instance configured by the project's dagster.yaml.
The duckdb pool (limit 1) must serialize the warehouse steps: they all succeed, and no two
of them ever run at the same time.
"""

import itertools
import json
import threading

import dagster as dg
import pytest

from dataops_platform.automation.one_pass import prepare_instance, register_landed
from dataops_platform.contracts import load_contracts
from dataops_platform.factory import build_dataset
from dataops_platform_tests.concurrency_target import process_orders

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
    datasets = [build_dataset(c) for c in load_contracts(settings.contracts_dir)]
    register_landed(instance, datasets, settings.landing_dir)
    keys = instance.get_dynamic_partitions("orders_files")
    assert len(keys) == RUNS

    results: dict[str, dg.ExecutionResult] = {}
    errors: list[BaseException] = []

    def launch(key: str) -> None:
        try:
            with dg.DagsterInstance.get() as own_instance:  # one instance per launcher, like processes
                results[key] = dg.execute_job(dg.reconstructable(process_orders), own_instance,
                                              tags={"dagster/partition": key}, raise_on_error=False)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=launch, args=(k,)) for k in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not errors, errors
    assert all(r.success for r in results.values()), {
        k: [e.message for e in r.all_events if e.is_failure] for k, r in results.items()}

    # the warehouse steps never overlapped in time
    spans = []
    for result in results.values():
        started = {}
        for event in instance.all_logs(result.run_id):
            step = event.step_key
            if event.dagster_event is None or step is None:
                continue
            if event.dagster_event.event_type_value == "STEP_START":
                started[step] = event.timestamp
            elif event.dagster_event.event_type_value == "STEP_SUCCESS":
                spans.append((started[step], event.timestamp, f"{result.run_id[:8]}:{step}"))
    assert len(spans) == RUNS * 5  # raw, cleaned and three checks per run
    spans.sort()
    for (_, end, first), (start, _, second) in itertools.pairwise(spans):
        assert start >= end, f"{first} and {second} held the warehouse at the same time"

    assert query("select count(*) from cleaned.orders") == [(RUNS * 50,)]
