"""Files that land together are processed in one run, each still its own partition: its own
materializations, ledger and checks, and a bad file fails alone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from click.testing import CliRunner

from dataops_platform.automation.one_pass import prepare_instance
from dataops_platform.automation.sensors import evaluate_landing, registered_partitions
from dataops_platform.cli.main import cli
from dataops_platform.collect.decisions import batches
from dataops_platform.factory import DatasetAssets, build_platform
from dataops_platform.profiles.execution import RANGE_END_TAG, RANGE_START_TAG
from dataops_platform.quality.check_history import evaluation_of
from dataops_platform.quality.checks import ledger
from dataops_platform_tests.hostile_helpers import THINGS, only_contracts
from dataops_platform_tests.project_files import contracts_dir

HEADER = "id,label,price\n"
# merge into current.things; fewer than 2 rows in a file is an error (a blocking check)
BATCHED = {**THINGS, "write": {"mode": "merge"},
           "volume": {"min_rows": 2, "severity": "error"}}


def _rows(n: int, start: int = 1) -> str:
    return HEADER + "".join(f"{i},item {i},{i}.50\n" for i in range(start, start + n))


def test_runs_group_consecutive_partitions_within_their_limits():
    order = ["a", "b", "c", "d", "e", "f"]
    assert batches(["a", "b", "c"], order) == [["a", "b", "c"]]
    assert batches(["c", "a", "b", "e", "f"], order) == [["a", "b", "c"], ["e", "f"]]  # gap: d
    assert batches(["a", "b", "c", "d", "e"], order, max_files=2) == [["a", "b"], ["c", "d"], ["e"]]
    sizes = {"a": 60, "b": 50, "c": 10}
    assert batches(["a", "b", "c"], order, sizes=sizes, max_bytes=100) == [["a"], ["b", "c"]]
    assert batches(["x", "a", "y"], order) == [["a"], ["x"], ["y"]]  # unknown keys run alone
    assert batches([], order) == []


@contextmanager
def _landed(settings, land, files: int) -> Iterator[tuple[DatasetAssets, dg.DagsterInstance]]:
    """``files`` things files landed, the project loaded, its instance open."""
    only_contracts(contracts_dir(settings), BATCHED)
    for i in range(files):
        land(f"things/f{i}.csv", _rows(3, start=10 * i))
    (things,) = build_platform(settings).datasets
    instance = prepare_instance(settings)
    try:
        yield things, instance
    finally:
        instance.dispose()


def _look(settings, things: DatasetAssets, instance: dg.DagsterInstance) -> tuple[list, list[str]]:
    """One landing decision, as the sensor takes it: (run requests, partitions to add)."""
    runs, partitions, _, _ = evaluate_landing(
        [things], settings.landing_dir, None,
        registered=registered_partitions(instance, [things]), now_ns=10**19)
    return runs, [k for r in partitions for k in r.partition_keys]


def test_the_sensor_asks_for_one_run_per_batch_of_files_that_landed_together(settings, land):
    with _landed(settings, land, 5) as (things, instance):
        runs, added = _look(settings, things, instance)
        assert len(added) == 5
        (run,) = runs  # one run for the five files, over the range of their partitions
        assert run.partition_key is None and run.job_name == "process_things"
        assert (run.tags[RANGE_START_TAG], run.tags[RANGE_END_TAG]) == (added[0], added[-1])
        assert run.tags["dataops/files"] == "5"

        # a single new file is a run of its own, named by its partition
        instance.add_dynamic_partitions("things_files", added)
        land("things/late.csv", _rows(3, start=99))
        (late,), _ = _look(settings, things, instance)
        assert late.partition_key is not None and late.partition_key.startswith("late.csv@")
        assert RANGE_START_TAG not in late.tags


def test_a_batch_keeps_per_file_ledgers_and_checks_and_isolates_the_bad_files(
        settings, land, query):
    only_contracts(contracts_dir(settings), BATCHED)
    land("things/a.csv", _rows(3, start=1))
    land("things/b.csv", "id,label,price\n1,ragged\n2,x,1,extra,fields\n\"unterminated\n")
    land("things/c.csv", _rows(1, start=50))  # loads, but fails the blocking volume check
    land("things/d.csv", _rows(4, start=100))
    out = CliRunner().invoke(cli, ["run"])
    assert out.exit_code == 1, out.output

    instance = prepare_instance(settings)
    try:
        keys = {k.split("@")[0]: k for k in instance.get_dynamic_partitions("things_files")}
        runs = instance.get_runs(filters=dg.RunsFilter(job_name="process_things"))
        assert len(runs) == 1  # four files, one run
        assert runs[0].tags[RANGE_START_TAG] == keys["a.csv"]
        assert runs[0].tags[RANGE_END_TAG] == keys["d.csv"]

        def materialized(layer: str) -> set[str]:
            return {k.split("@")[0] for k in
                    instance.get_materialized_partitions(dg.AssetKey([layer, "things"]))}

        assert materialized("raw") == {"a.csv", "c.csv", "d.csv"}  # b.csv failed alone
        assert materialized("cleaned") == {"a.csv", "c.csv", "d.csv"}
        assert materialized("current") == {"a.csv", "d.csv"}  # c.csv held by its check
        status = instance.get_status_by_partition(
            dg.AssetKey(["raw", "things"]), list(keys.values()),
            dg.DynamicPartitionsDefinition(name="things_files"))
        assert status is not None
        assert status[keys["b.csv"]] == dg.AssetPartitionStatus.FAILED

        # each file's own materialization and row count
        record = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(["cleaned", "things"]),
                                  asset_partitions=[keys["d.csv"]]), limit=1).records[0]
        metadata = record.asset_materialization.metadata
        assert metadata["rows_in"].value == 4 and metadata["dagster/partition_row_count"].value == 4

        # each file's own checks, by partition
        evaluations = {}
        for key in keys.values():
            for check in ("row_conservation", "volume"):
                check_key = dg.AssetCheckKey(dg.AssetKey(["cleaned", "things"]), check)
                found = instance.event_log_storage.get_latest_asset_check_execution_by_key(
                    [check_key], partition_filter=_partition(key))
                evaluation = evaluation_of(found[check_key]) if check_key in found else None
                if evaluation is not None:  # b.csv's checks were planned, never evaluated
                    evaluations[(key.split("@")[0], check)] = evaluation.passed
        assert evaluations == {("a.csv", "row_conservation"): True, ("a.csv", "volume"): True,
                               ("c.csv", "row_conservation"): True, ("c.csv", "volume"): False,
                               ("d.csv", "row_conservation"): True, ("d.csv", "volume"): True}
    finally:
        instance.dispose()

    assert query("select count(*) from current.things") == [(7,)]  # a and d, not c
    from dataops_platform.storage.backends import open_warehouse
    conn = open_warehouse(settings.warehouse)
    try:
        for name, rows in (("a.csv", 3), ("c.csv", 1), ("d.csv", 4)):
            counts = ledger(conn, build_platform(settings).datasets[0].contract, keys[name])
            assert counts["raw"] == rows == counts["cleaned"] + counts["quarantined"] \
                + counts["duplicates"], (name, counts)
        assert ledger(conn, build_platform(settings).datasets[0].contract, keys["b.csv"])["raw"] == 0
    finally:
        conn.close()

    failed = [x for x in out.output.splitlines() if x.startswith("FAILED")]
    assert any(x.startswith(f"FAILED raw/things [{keys['b.csv']}]") and "b.csv" in x
               for x in failed), out.output
    assert any(x.startswith(f"FAILED current/things [{keys['c.csv']}]") and "volume" in x
               for x in failed), out.output
    assert len(failed) == 2, out.output


def _partition(key: str):
    from dataops_platform.dagster_internals import PartitionKeyFilter
    return PartitionKeyFilter(key=key)


def test_files_of_a_queued_batch_are_not_requested_again_alone(settings, land):
    """A batch run waiting to start has recorded nothing yet: its range tags are what
    keep the sensor from asking for its files once more, one run each."""
    from dataops_platform.automation.sensors import unfinished_partitions

    with _landed(settings, land, 4) as (things, instance):
        _, keys = _look(settings, things, instance)
        instance.add_dynamic_partitions("things_files", keys)
        assert unfinished_partitions(instance, things) == keys  # nothing runs them yet
        instance.add_run(dg.DagsterRun(job_name="process_things",  # launched, not started yet
                                       status=dg.DagsterRunStatus.NOT_STARTED,
                                       tags={RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[2]}))
        assert unfinished_partitions(instance, things) == [keys[3]]
