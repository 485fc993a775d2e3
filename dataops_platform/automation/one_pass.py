"""One headless pass over the landing zone: what ``dataops run`` and ``dataops demo`` do.

It uses the very definitions the UI loads, and the same deciders as the daemon: the landing
sensor's decision function against the instance's partitions for files, and the declared
automation conditions (``dg.evaluate_automation_conditions``) for the curated assets. Runs
are made on the persistent Dagster instance in the home folder, so they show up in the UI's
history; only the executing differs (in this process, one run after the other).
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from dataops_platform.automation.alerts import human_message
from dataops_platform.automation.sensors import (
    apply_partition_requests,
    evaluate_landing,
    registered_partitions,
    settle_ns,
)
from dataops_platform.collect.decisions import Action, Decision, batches
from dataops_platform.collect.extract import extract_all
from dataops_platform.collect.landing import partitions_def_name, scan
from dataops_platform.collect.landing_dataset import LandingDataset
from dataops_platform.dagster_internals import AssetGraph
from dataops_platform.factory import CURATED_JOB, Platform
from dataops_platform.processing import FILE_FAILURES
from dataops_platform.profiles import instance_template, render_instance
from dataops_platform.profiles.execution import execute, partitions_of_run
from dataops_platform.quality.check_history import evaluation_of, latest_records
from dataops_platform.quality.scorecard import ANY_UPSTREAM_TAG
from dataops_platform.settings import Settings
from dataops_platform.storage.warehouse import POOL
from dataops_platform.transform.wap import PUBLISHES_TAG, published_key

INSTANCE_TEMPLATE = instance_template("local")  # production: profiles/production.yaml
OBSERVE_GAP_S = 1.0  # two looks this far apart tell a finished file from one being written
# The summary speaks: a step failure is a FAILED line in it, its stack trace stays in the
# run's event log (the UI, `dagster`), shown on the console only with `dataops --debug`.
DEBUG_ENV = "DATAOPS_DEBUG"
QUIET = {"loggers": {"console": {"config": {
    "log_level": "DEBUG" if os.environ.get(DEBUG_ENV) else "CRITICAL"}}}}
CURATED_PREFIXES = ("curated", "audit", "entities")  # marts, candidates, scorecard, entities
TRIGGER_TAG, PID_TAG, HOST_TAG = "dataops/trigger", "dataops/pid", "dataops/host"


def prepare_instance(settings: Settings) -> dg.DagsterInstance:
    """The home's persistent Dagster instance, with the profile's instance config."""
    render_instance(settings)
    # from the home's folder, not $DAGSTER_HOME: a command never rewrites the environment
    instance = dg.DagsterInstance.from_config(str(settings.dagster_home))
    # Create the duckdb pool now, from the configured default limit: left to the first
    # runs, several processes would race to create it (and could allocate extra slots).
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits and POOL not in storage.get_concurrency_keys():
        storage.initialize_concurrency_limit_to_default(POOL)
    if settings.warehouse_backend != "duckdb" and storage.supports_global_concurrency_limits:
        storage.set_concurrency_slots(POOL, settings.warehouse_pool_limit)  # DuckLake: many writers
    return instance


@dataclass
class CheckOutcome:
    asset: str
    check: str
    partition: str | None
    passed: bool
    severity: str
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RunTiming:
    """How long one run of the pass took, and where the time went."""

    job: str
    partition: str | None
    seconds: float
    steps: tuple[tuple[str, float], ...]  # (step, seconds), slowest first
    # per file of a file run: its load, clean and apply time ("seconds" of its
    # materializations; its checks are in the run's log), slowest first
    files: tuple[tuple[str, float], ...] = ()


@dataclass
class PassResult:
    """What one pass did: decisions per dataset, failed runs, check outcomes."""

    decisions: dict[str, list] = field(default_factory=dict)
    processed: dict[str, list[str]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    checks: list[CheckOutcome] = field(default_factory=list)
    reaped: list[str] = field(default_factory=list)  # runs of a dead process, failed and freed
    held: dict[str, list[str]] = field(default_factory=dict)  # mart -> failed blocking checks upstream
    run_ids: list[str] = field(default_factory=list)  # every run the pass launched (its report)
    extracted: list = field(default_factory=list)  # database/API extractions stored by the pass
    timings: list[RunTiming] = field(default_factory=list)  # one per run, in launch order

    @property
    def failed_error_checks(self) -> list[CheckOutcome]:
        return [c for c in self.checks if not c.passed and c.severity == "ERROR"]

    @property
    def ok(self) -> bool:
        return not self.failures and not self.failed_error_checks


def register_landed(instance: dg.DagsterInstance, datasets: Sequence[LandingDataset],
                    landing_root: Path) -> dict[str, list[Decision]]:
    """Register new/changed files as partitions: the sensor's decision, against the same
    record of registered files (the instance's partitions)."""
    wait_s = settle_wait_s(datasets, landing_root)
    if wait_s > 0:  # the settle setting applies here too: a fresh file gets its settle time
        time.sleep(wait_s)
    cursor = None
    if settle_ns() <= 0:  # no settle time: two looks a moment apart tell a finished file
        registered = registered_partitions(instance, datasets)
        _, _, cursor, _ = evaluate_landing(datasets, landing_root, None, registered=registered,
                                           now_ns=0)
        time.sleep(OBSERVE_GAP_S)
    # no hashing budget here: a headless pass takes everything that has landed
    _, requests, _, decisions = evaluate_landing(
        datasets, landing_root, cursor, registered=registered_partitions(instance, datasets),
        max_hashes=sys.maxsize)
    apply_partition_requests(instance, requests)
    return decisions


def settle_wait_s(datasets: Sequence[LandingDataset], landing_root: Path,
                  now_ns: int | None = None) -> float:
    """Seconds until the youngest landed file is as old as the settle time (0 if none is
    younger): then a writer that paused is not taken for a finished file."""
    settle = settle_ns()
    now = time.time_ns() if now_ns is None else now_ns
    youngest = max((f.mtime_ns for d in datasets for f in scan(landing_root, d.contract)),
                   default=None)
    if youngest is None or settle <= 0:
        return 0.0
    return max(0.0, min(settle, settle - (now - youngest)) / 1e9)


def cli_tags() -> dict[str, str]:
    return {TRIGGER_TAG: "cli", PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: existence check only
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail CLI runs whose process died (killed, machine crash) and free their pool slots.

    Otherwise a run killed halfway would hold the duckdb pool's only slot forever and
    every later run would wait for it.
    """
    reaped = []
    active = instance.get_runs(filters=dg.RunsFilter(
        statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING],
        tags={TRIGGER_TAG: "cli", HOST_TAG: socket.gethostname()}))
    for run in active:
        pid = int(run.tags.get(PID_TAG, "0") or 0)
        if pid and not _alive(pid):
            instance.report_run_failed(run, f"the process running it (pid {pid}) died; "
                                            "the work is redone by this pass")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            reaped.append(run.run_id)
    return reaped


def _pending(instance: dg.DagsterInstance, dataset: LandingDataset) -> list[str]:
    """Partitions whose cleaned table has not been materialized yet (new or failed)."""
    done = instance.get_materialized_partitions(dataset.done_key)
    return [k for k in instance.get_dynamic_partitions(partitions_def_name(dataset.contract))
            if k not in done]


SECONDS_TAG = "dataops/seconds"  # a run's wall time, on the run (the UI shows it as a tag)


def record_timing(instance: dg.DagsterInstance,
                  result: dg.ExecuteInProcessResult | dg.JobExecutionResult,
                  seconds: float) -> RunTiming:
    """The run's wall time and its steps' durations, kept on the run as a tag too."""
    steps = sorted(((s.step_key, (s.end_time or 0.0) - (s.start_time or 0.0))
                    for s in instance.get_run_step_stats(result.run_id)
                    if s.start_time is not None and s.end_time is not None),
                   key=lambda item: -item[1])
    instance.add_run_tags(result.run_id, {SECONDS_TAG: f"{seconds:.2f}"})
    files: dict[str, float] = {}
    for entry in instance.all_logs(result.run_id,
                                   of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        materialization = entry.asset_materialization
        value = materialization.metadata.get("seconds") if materialization else None
        if materialization is not None and materialization.partition and \
                isinstance(value, dg.FloatMetadataValue) and value.value is not None:
            files[materialization.partition] = \
                files.get(materialization.partition, 0.0) + value.value
    return RunTiming(result.dagster_run.job_name, partitions_of_run(result.dagster_run.tags),
                     seconds, tuple(steps),
                     tuple(sorted(files.items(), key=lambda item: -item[1])))


def _execute(settings: Settings, defs: dg.Definitions, job_name: str,
             instance: dg.DagsterInstance, outcome: PassResult, **kwargs: Any) -> None:
    """One run of the pass, its result and timing collected: its steps in this process
    (local profile) or on the Celery workers (production)."""
    started = time.perf_counter()
    result = execute(settings, defs, job_name, instance, run_config=QUIET, tags=cli_tags(),
                     **kwargs)
    outcome.timings.append(record_timing(instance, result, time.perf_counter() - started))
    collect_result(instance, result, outcome)


def collect_result(instance: dg.DagsterInstance,
                   result: dg.ExecuteInProcessResult | dg.JobExecutionResult,
                   into: PassResult) -> None:
    into.run_ids.append(result.run_id)
    # from the run's stored events: the per-file results a file step logs before it fails
    # (one file failing) are stored, but not in the in-process result's event list
    for entry in instance.all_logs(result.run_id,
                                   of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data  # type: ignore[union-attr]
        assert isinstance(evaluation, dg.AssetCheckEvaluation)
        into.checks.append(CheckOutcome(
            asset=evaluation.asset_key.to_user_string(), check=evaluation.check_name,
            partition=evaluation.partition, passed=evaluation.passed,
            severity=evaluation.severity.value,
            metadata={k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}))
    if not result.success:
        partition = partitions_of_run(result.dagster_run.tags)
        where = f" [{partition}]" if partition else ""  # the file, by its partition key
        for event in result.all_events:
            if event.event_type_value == "STEP_FAILURE" and event.step_key:
                per_file = file_failures(event.event_specific_data)
                if per_file:  # a file step names each file that failed, and why
                    into.failures.extend(per_file)
                    continue
                error = event.event_specific_data.error  # type: ignore[union-attr]
                into.failures.append(f"{event.step_key}{where}: {human_message(error)}")


def file_failures(failure: Any) -> list[str]:
    """``asset [file]: why`` for each file a file step failed (``processing``)."""
    data = getattr(failure, "user_failure_data", None)
    entry = (data.metadata or {}).get(FILE_FAILURES) if data is not None else None
    items = getattr(entry, "value", None) or []
    return [f"{i['asset']} [{i['partition']}]: {i['message']}" for i in items
            if isinstance(i, dict)]


def run_pass(settings: Settings, platform: Platform, instance: dg.DagsterInstance) -> PassResult:
    """Register landed files, process pending partitions, rebuild curated marts."""
    defs, datasets = platform.definitions, platform.datasets
    outcome = PassResult()
    outcome.reaped = reap_dead_runs(instance)
    start_curated_automation(defs, instance, settings)
    outcome.extracted, failed = extract_all(  # database/API sources land their new rows first
        [d.contract for d in datasets], settings.landing_dir,
        settings.landing_dir.parent / "extract_state", settings.lake_dir)
    outcome.failures.extend(failed)
    every: list[LandingDataset] = [*datasets, *platform.lake_datasets]  # lake-only: kept and catalogued
    outcome.decisions = register_landed(instance, every, settings.landing_dir)
    for dataset in every:
        job = defs.resolve_job_def(dataset.process_job.name)
        pending = _pending(instance, dataset)
        # content delivered again after other content replaced it (A -> B -> A) has a key
        # that was materialized before: it is pending again, or the tables would keep B
        again = [d.partition_key for d in outcome.decisions.get(dataset.contract.name, [])
                 if d.action is Action.ingest and d.partition_key and d.partition_key not in pending]
        pending = pending + again
        outcome.processed[dataset.contract.name] = pending
        # the files that landed together run together, each still its own partition
        order = registered_partitions(instance, [dataset])[dataset.contract.name]
        for group in batches([k for k in pending if k not in again], order,
                             max_files=dataset.files_per_run) + [[k] for k in again]:
            if len(group) == 1:
                _execute(settings, defs, job.name, instance, outcome, partition_key=group[0])
            else:
                _execute(settings, defs, job.name, instance, outcome,
                         partition_range=(group[0], group[-1]))
    _ready_curated(defs, instance, outcome.held)  # names what a failed check holds back
    # what a dead pass was building is built again: its partial work (a candidate built, its
    # publish killed) would otherwise count as handled for the automation conditions
    redo = _curated_targets(defs, instance, outcome.reaped)
    for _ in range(MAX_AUTOMATION_ROUNDS):  # as the daemon's ticks would, until all is done
        with curated_automation(defs, instance, settings) as requested:
            selection = sorted(set(requested) | redo)
            redo = set()
            if not selection:
                break
            _execute(settings, defs, CURATED_JOB.name, instance, outcome,
                     asset_selection=selection)
    return outcome


def _curated_targets(defs: dg.Definitions, instance: dg.DagsterInstance,
                     run_ids: Sequence[str]) -> set[dg.AssetKey]:
    """The curated assets the given (reaped) runs were to build."""
    curated = CURATED_SELECTION.resolve(defs.resolve_asset_graph())
    targets: set[dg.AssetKey] = set()
    for run_id in run_ids:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.asset_selection:
            targets |= set(run.asset_selection) & curated
    return targets


CURATED_SELECTION = dg.AssetSelection.key_prefixes(*([p] for p in CURATED_PREFIXES))
MAX_AUTOMATION_ROUNDS = 10  # rounds of evaluate-then-run; more than the curated graph is deep
AUTOMATION_CURSOR = "cli-automation-cursor"  # in the instance's folder, beside dagster.yaml


@contextmanager
def curated_automation(defs: dg.Definitions, instance: dg.DagsterInstance,
                       settings: Settings) -> Iterator[list[dg.AssetKey]]:
    """What the declared automation conditions request of the curated assets now.

    The same conditions the daemon's automation sensor evaluates (new data upstream, a
    changed declaration, nothing failed and blocking upstream), evaluated with the pass's
    own cursor. The cursor is kept only once the caller's runs are done: a pass killed
    before its runs leaves the previous cursor, so the next pass asks again (what a killed
    run had half built is redone through the reaper, see ``run_pass``).
    """
    result = _evaluate_curated(defs, instance, settings)
    graph = defs.resolve_asset_graph()
    yield [key for key in sorted(CURATED_SELECTION.resolve(graph))
           if result.get_num_requested(key) > 0]
    _keep_cursor(settings, result.cursor)


def start_curated_automation(defs: dg.Definitions, instance: dg.DagsterInstance,
                             settings: Settings) -> None:
    """The first evaluation of a home's conditions only records the state (Dagster's
    ``since_last_handled`` starts there); made before the pass's first run, the pass's own
    new data then counts as an update."""
    if not (settings.dagster_home / AUTOMATION_CURSOR).exists():
        _keep_cursor(settings, _evaluate_curated(defs, instance, settings).cursor)


def _evaluate_curated(defs: dg.Definitions, instance: dg.DagsterInstance,
                      settings: Settings) -> Any:
    path = settings.dagster_home / AUTOMATION_CURSOR
    cursor = None
    if path.exists():
        try:
            cursor = dg.deserialize_value(path.read_text(encoding="utf-8"))
        except Exception:  # written by another Dagster version, or damaged: start afresh
            cursor = None
    return dg.evaluate_automation_conditions(defs=defs, instance=instance,
                                             asset_selection=CURATED_SELECTION,
                                             cursor=cursor)  # type: ignore[arg-type]


def _keep_cursor(settings: Settings, cursor: Any) -> None:
    path = settings.dagster_home / AUTOMATION_CURSOR
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(dg.serialize_value(cursor), encoding="utf-8")
    temporary.replace(path)


def _failed_blocking_checks(graph: AssetGraph, instance: dg.DagsterInstance,
                            key: dg.AssetKey) -> list[str]:
    """Files of ``key`` whose latest evaluation of a blocking check failed."""
    checks = [k for k in graph.get_check_keys_for_assets({key}) if graph.get(k).blocking]
    if not checks:
        return []
    partitioned = graph.get(key).is_partitioned
    partitions = sorted(instance.get_materialized_partitions(key)) if partitioned else [None]
    failed = []
    for partition in partitions:
        for check_key, record in latest_records(instance, checks, partition).items():
            evaluation = evaluation_of(record)
            if evaluation is not None and not evaluation.passed:
                failed.append(f"{key.to_user_string()} {check_key.name}"
                              + (f" [{partition}]" if partition else ""))
    return failed


def _ready_curated(defs: dg.Definitions, instance: dg.DagsterInstance,
                   held: dict[str, list[str]]) -> list[dg.AssetKey]:
    """Curated marts whose every upstream table has data (as the automation requires) and
    no upstream file has a failed blocking check (those are put in ``held``). A mart's
    candidate (audit/<mart>) is selected with its publish step (curated/<mart>)."""
    graph = defs.resolve_asset_graph()
    failures: dict[dg.AssetKey, list[str]] = {}

    def has_data(key: dg.AssetKey) -> bool:
        if graph.get(key).is_partitioned:
            return bool(instance.get_materialized_partitions(key))
        return instance.get_latest_materialization_event(key) is not None

    def will_have_data(key: dg.AssetKey) -> bool:
        """Has data, or is built earlier in this very run (a mart over the entities)."""
        return has_data(key) or (key.path[0] in CURATED_PREFIXES and ready(key))

    def ready(key: dg.AssetKey) -> bool:
        node = graph.get(key)
        if node.tags.get(ANY_UPSTREAM_TAG) == "any":  # the scorecard reports failures: never held
            return any(has_data(p) for p in node.parent_keys)
        if not all(will_have_data(p) for p in node.parent_keys):
            return False
        blocking = [f for p in sorted(node.parent_keys)
                    for f in failures.setdefault(p, _failed_blocking_checks(graph, instance, p))]
        if blocking:
            publishes = node.tags.get(PUBLISHES_TAG)
            held[(published_key(publishes) if publishes else key).to_user_string()] = blocking
        return not blocking

    def is_publish_step(key: dg.AssetKey) -> bool:
        return any(graph.get(p).tags.get(PUBLISHES_TAG) for p in graph.get(key).parent_keys)

    selected = [key for key in sorted(graph.materializable_asset_keys)
                if key.path[0] in CURATED_PREFIXES and not is_publish_step(key) and ready(key)]
    return selected + [published_key(graph.get(k).tags[PUBLISHES_TAG])
                       for k in selected if graph.get(k).tags.get(PUBLISHES_TAG)]


def summarize_decisions(decisions: dict[str, list]) -> dict[str, dict[str, int]]:
    return {name: {a.value: sum(d.action is a for d in items) for a in Action}
            for name, items in decisions.items()}
