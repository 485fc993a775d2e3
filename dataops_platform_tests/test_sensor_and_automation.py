"""The landing sensor against a real folder, and declarative automation on a real instance."""

import json
import os
import shutil
import time

import dagster as dg

from dataops_platform.automation.sensors import (
    AUTOMATION_SENSOR,
    LANDING_SENSOR,
    apply_partition_requests,
)
from dataops_platform.collect.resources import LandingZone
from dataops_platform.factory import build_definitions
from dataops_platform_tests.project_files import contracts_dir

HEADER = "Kundennummer;Vorname;Nachname;E-Mail;Ort;Land;Anmeldedatum;Segment\n"
ROW = "1;Ann;Lee;ann@x.de;Köln;DE;2024-01-02;consumer\n"


def _tick(defs, instance, settings, cursor):
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs,
        resources={"landing": LandingZone(root=str(settings.landing_dir))})
    result = defs.resolve_sensor_def(LANDING_SENSOR)(context)  # the tick's SensorResult
    assert isinstance(result, dg.SensorResult)
    apply_partition_requests(instance, result.dynamic_partitions_requests or [])  # as the daemon
    return result


def test_sensor_waits_for_a_file_being_written_then_registers_it_once(settings, monkeypatch):
    monkeypatch.setenv("DATAOPS_SETTLE_SECONDS", "300")  # fresh files must prove they are done
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def(LANDING_SENSOR)
    assert sensor.default_status is dg.DefaultSensorStatus.RUNNING
    other = json.dumps({"v": 2, "datasets": {"retired": {"files": {"gone.csv": [1, 2, "abc"]}}}})
    path = settings.landing_dir / "customers" / "c.csv"
    path.parent.mkdir(parents=True)
    with dg.instance_for_test() as instance:
        path.write_text(HEADER, encoding="latin-1")  # the upload has started
        first = _tick(defs, instance, settings, other)
        assert not first.run_requests and first.skip_reason

        with path.open("a", encoding="latin-1") as handle:  # ... and is still growing
            handle.write(ROW)
        second = _tick(defs, instance, settings, first.cursor)
        assert not second.run_requests

        third = _tick(defs, instance, settings, second.cursor)  # stat unchanged: done
        (request,) = third.run_requests
        assert request.job_name == "process_customers"  # raw, cleaned and checks: one run
        assert request.partition_key.startswith("c.csv@")
        (added,) = third.dynamic_partitions_requests
        assert list(added.partition_keys) == [request.partition_key]
        # the cursor holds only what is landed now: a dataset that is gone leaves it
        assert "retired" not in json.loads(third.cursor)["datasets"]

        # nothing new: no partition request; the registered file has no run yet (this test
        # launches none), so it is asked for again under the same run key, which the daemon
        # never starts twice
        fourth = _tick(defs, instance, settings, third.cursor)
        assert not fourth.dynamic_partitions_requests
        assert [r.run_key for r in fourth.run_requests] == [request.run_key]

        # the same bytes delivered again under another name are not ingested twice
        copy = path.with_name("c-resend.csv")
        shutil.copy2(path, copy)
        old = time.time() - 3600
        os.utime(copy, (old, old))
        fifth = _tick(defs, instance, settings, fourth.cursor)
        assert [r.run_key for r in fifth.run_requests] == [request.run_key]

        # new content under the old name: a new partition that replaces the old one
        path.write_text(HEADER + ROW + ROW.replace("1;Ann", "2;Bob"), encoding="latin-1")
        os.utime(path, (old, old))
        sixth = _tick(defs, instance, settings, fifth.cursor)
        (changed,) = sixth.run_requests
        assert changed.partition_key != request.partition_key
        add, delete = sixth.dynamic_partitions_requests
        assert list(add.partition_keys) == [changed.partition_key]
        assert list(delete.partition_keys) == [request.partition_key]


def test_sensor_never_opens_the_warehouse(settings, land):
    land("customers/c.csv", (HEADER + ROW).encode("latin-1"))
    defs = build_definitions(settings)
    with dg.instance_for_test() as instance:
        result = _tick(defs, instance, settings, None)
    assert result.run_requests
    assert not settings.warehouse_path.exists()


def test_automation_carries_a_landed_file_from_raw_to_curated(settings, land):
    for name in ("customers", "orders", "products"):
        land(f"{name}/.keep", b"")  # folders exist; data arrives below
    land("customers/c.csv", (HEADER + ROW).encode("latin-1"))
    land("orders/o.ndjson", json.dumps({
        "order_id": "ORD-0000001", "customer_id": 1, "sku": "ABC-0001", "qty": 1,
        "amount": "9.99", "currency": "EUR", "ordered_at": "2026-11-01T10:00:00",
        "status": "placed"}) + "\n")
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"sku": ["ABC-0001"], "product_name": ["Pen"], "category": ["books"],
                             "price": [1.5], "active": [True], "launched_on": ["2026-01-01"]}),
                   settings.landing_dir / "products" / "p.parquet")
    defs = build_definitions(settings)
    assert isinstance(defs.resolve_sensor_def(AUTOMATION_SENSOR), dg.AutomationConditionSensorDefinition)
    with dg.instance_for_test() as instance:
        tick = _tick(defs, instance, settings, None)

        # nothing materialized yet: automation asks for nothing
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert result.total_requested == 0

        # the sensor's runs load, clean and check each file in one run: automation does not
        # ask for cleaned again, and the curated marts follow
        for request in tick.run_requests:
            assert request.job_name == f"process_{request.tags['dataops/dataset']}"
            job = defs.resolve_job_def(request.job_name)
            assert job.execute_in_process(instance=instance, partition_key=request.partition_key).success
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
        for name in ("customers", "orders", "products"):
            assert result.get_num_requested(dg.AssetKey(["cleaned", name])) == 0, name
        for mart in ("enriched_orders", "daily_revenue", "customer_lifetime_value", "customer_tier_history"):
            assert result.get_num_requested(dg.AssetKey(["audit", mart])) == 1, mart  # candidate
            assert result.get_num_requested(dg.AssetKey(["curated", mart])) == 1, mart  # publish


def _order(i: int) -> str:
    return json.dumps({"order_id": f"ORD-{i:07d}", "customer_id": 1, "sku": "ABC-0001", "qty": 1,
                       "amount": "9.99", "currency": "EUR", "ordered_at": "2026-11-01T10:00:00",
                       "status": "placed"}) + "\n"


def test_a_blocking_failure_holds_the_marts_back_in_the_pass_and_in_automation(
        settings, land, one_pass):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dataops_platform.automation.one_pass import prepare_instance

    orders = contracts_dir(settings) / "orders.yaml"  # too few rows is now an error: blocking
    orders.write_text(orders.read_text().replace(
        "volume: {min_rows: 100, max_rows: 5000000}", "volume: {min_rows: 2, severity: error}"))
    land("customers/c.csv", (HEADER + ROW).encode("latin-1"))
    land("orders/good.ndjson", _order(1) + _order(2))
    (settings.landing_dir / "products").mkdir(parents=True)
    pq.write_table(pa.table({"sku": ["ABC-0001"], "product_name": ["Pen"], "category": ["books"],
                             "price": [1.5], "active": [True], "launched_on": ["2026-01-01"]}),
                   settings.landing_dir / "products" / "p.parquet")
    first = one_pass()
    assert first.ok and not first.held
    land("orders/short.ndjson", _order(3))  # one row: the volume check fails (error, blocking)
    second = one_pass()
    assert [(c.check, c.severity) for c in second.failed_error_checks] == [("volume", "ERROR")]
    assert sorted(second.held) == ["curated/customer_lifetime_value",
                                   "curated/customer_tier_history", "curated/daily_revenue",
                                   "curated/enriched_orders"]
    assert all("cleaned/orders volume [short.ndjson@" in f[0] for f in second.held.values())
    instance = prepare_instance(settings)
    marts = [r.asset_materialization.asset_key.to_user_string()
             for mart in ("daily_revenue", "quality_scorecard")
             for r in instance.fetch_materializations(dg.AssetKey(["curated", mart]), limit=5).records]
    assert marts.count("curated/daily_revenue") == 1  # only from the first pass
    assert marts.count("curated/quality_scorecard") == 2  # it reports the failure: never held

    # declarative automation holds the marts too, while the scorecard may run
    defs = build_definitions(settings)
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    for mart in ("enriched_orders", "daily_revenue", "customer_lifetime_value", "customer_tier_history"):
        assert result.get_num_requested(dg.AssetKey(["curated", mart])) == 0, mart

    # the same mart (its candidate and publish step) in the same run as the failing file:
    # Dagster skips them
    job = dg.define_asset_job("orders_and_marts", selection=dg.AssetSelection.assets(
        dg.AssetKey(["cleaned", "orders"]), dg.AssetKey(["audit", "daily_revenue"]),
        dg.AssetKey(["curated", "daily_revenue"])))
    defs_with_job = dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
    (short,) = [k for k in instance.get_dynamic_partitions("orders_files") if k.startswith("short")]
    run = defs_with_job.resolve_job_def("orders_and_marts").execute_in_process(
        instance=instance, partition_key=short, raise_on_error=False)
    written = {e.asset_materialization.asset_key.to_user_string()
               for e in instance.all_logs(run.run_id,
                                          of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
               if e.asset_materialization}
    assert written == {"cleaned/orders"}  # cleaned/orders was written, the mart not
    started = {e.step_key for e in run.all_events if e.event_type_value == "STEP_START"}
    failed = {e.step_key for e in run.all_events if e.event_type_value == "STEP_FAILURE"}
    assert "orders_files" in started and failed == {"orders_files"}  # its blocking check
    assert not [s for s in started if "daily_revenue" in s]  # never started
    instance.dispose()


def test_sensor_and_cli_take_the_same_decision_on_every_case(settings, land):
    """One decision table, two paths: the landing sensor (as the daemon applies its result)
    and `dataops run`'s registration, each on its own instance, after every step."""
    from dataops_platform.automation.one_pass import register_landed
    from dataops_platform.collect.decisions import Action
    from dataops_platform.factory import build_platform

    platform = build_platform(settings)
    defs, datasets = platform.definitions, platform.datasets
    content_a = (HEADER + ROW).encode("latin-1")
    content_b = (HEADER + ROW + ROW.replace("1;Ann", "2;Bob")).encode("latin-1")
    name = "customers_files"

    def both(sensor_instance, cli_instance, cursor):
        before = set(sensor_instance.get_dynamic_partitions(name))
        tick = _tick(defs, sensor_instance, settings, cursor)
        sensor_added = set(sensor_instance.get_dynamic_partitions(name)) - before
        decisions = register_landed(cli_instance, datasets, settings.landing_dir)["customers"]
        cli_added = {d.partition_key for d in decisions if d.action is Action.ingest}
        assert sensor_added == cli_added
        assert set(sensor_instance.get_dynamic_partitions(name)) \
            == set(cli_instance.get_dynamic_partitions(name))
        return tick.cursor, cli_added, {d.relative_path: d.action for d in decisions}

    with dg.instance_for_test() as sensor_instance, dg.instance_for_test() as cli_instance:
        cursor, added, actions = both(sensor_instance, cli_instance, None)  # nothing landed
        assert not added and not actions

        land("customers/a.csv", content_a)  # new
        cursor, added, actions = both(sensor_instance, cli_instance, cursor)
        assert [k.split("@")[0] for k in added] == ["a.csv"]
        key_a = added.pop()

        cursor, added, actions = both(sensor_instance, cli_instance, cursor)  # nothing new
        assert not added and actions == {"customers/a.csv": Action.unchanged}

        land("customers/b.csv", content_a)  # the same bytes under another name
        cursor, added, actions = both(sensor_instance, cli_instance, cursor)
        assert not added and actions["customers/b.csv"] is Action.duplicate

        # a.csv changes; b.csv's content is now registered nowhere: it is loaded (nothing lost)
        land("customers/a.csv", content_b)
        cursor, added, actions = both(sensor_instance, cli_instance, cursor)
        assert sorted(k.split("@")[0] for k in added) == ["a.csv", "b.csv"]
        assert key_a not in sensor_instance.get_dynamic_partitions(name)

        # A -> B -> A: a.csv's first content is b.csv's now: a duplicate of it
        land("customers/a.csv", content_a)
        cursor, added, actions = both(sensor_instance, cli_instance, cursor)
        assert not added and actions["customers/a.csv"] is Action.duplicate

        # retention prunes b.csv's partition; the files are still landed: loaded again
        for instance in (sensor_instance, cli_instance):
            (key_b,) = [k for k in instance.get_dynamic_partitions(name) if k.startswith("b.csv")]
            instance.delete_dynamic_partition(name, key_b)
        cursor, added, actions = both(sensor_instance, cli_instance, cursor)
        assert [k.split("@")[0] for k in added] == ["a.csv"]  # a first; b is its duplicate
        assert actions["customers/b.csv"] is Action.duplicate

        # touched, same bytes: nothing to do
        old = time.time() - 7200
        os.utime(settings.landing_dir / "customers" / "a.csv", (old, old))
        cursor, added, actions = both(sensor_instance, cli_instance, cursor)
        assert not added and actions["customers/a.csv"] is Action.unchanged
