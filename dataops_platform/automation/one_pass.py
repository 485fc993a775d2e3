"""One headless pass over the landing zone: what ``dataops run`` and ``dataops demo`` do.

It uses the very definitions the UI loads: the landing decision function the sensor uses,
the dataset jobs and the curated job, on the persistent Dagster instance in the home
folder, so runs made here show up in the UI's history.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph  # Definitions' own type

from dataops_platform.automation.alerts import human_message
from dataops_platform.automation.sensors import evaluate_landing, settle_ns
from dataops_platform.collect.decisions import Action, DatasetCursor, Decision, decode_cursor
from dataops_platform.collect.extract import extract_all
from dataops_platform.collect.landing import (
    landing_base,
    partitions_def_name,
    scan,
    slug,
    split_partition_key,
)
from dataops_platform.collect.landing_dataset import LandingDataset
from dataops_platform.factory import CURATED_JOB, Platform
from dataops_platform.quality.check_history import evaluation_of, latest_records
from dataops_platform.quality.scorecard import ANY_UPSTREAM_TAG
from dataops_platform.settings import PACKAGE_DIR, Settings
from dataops_platform.storage.warehouse import POOL
from dataops_platform.transform.wap import PUBLISHES_TAG, published_key

CODE_VERSION_TAG = "dagster/code_version"  # set by Dagster on every materialization
INSTANCE_TEMPLATE = PACKAGE_DIR / "automation" / "dagster.yaml"
OBSERVE_GAP_S = 1.0  # two looks this far apart tell a finished file from one being written
# The summary speaks: a step failure is a FAILED line in it, its stack trace stays in the
# run's event log (the UI, `dagster`), shown on the console only with `dataops --debug`.
DEBUG_ENV = "DATAOPS_DEBUG"
QUIET = {"loggers": {"console": {"config": {
    "log_level": "DEBUG" if os.environ.get(DEBUG_ENV) else "CRITICAL"}}}}
CURATED_PREFIXES = ("curated", "audit", "entities")  # marts, candidates, scorecard, entities
TRIGGER_TAG, PID_TAG, HOST_TAG = "dataops/trigger", "dataops/pid", "dataops/host"


def prepare_instance(settings: Settings) -> dg.DagsterInstance:
    """The home's persistent Dagster instance, with the platform's instance config."""
    settings.ensure()
    config = settings.dagster_home / "dagster.yaml"
    if not config.exists():
        shutil.copyfile(INSTANCE_TEMPLATE, config)
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

    @property
    def failed_error_checks(self) -> list[CheckOutcome]:
        return [c for c in self.checks if not c.passed and c.severity == "ERROR"]

    @property
    def ok(self) -> bool:
        return not self.failures and not self.failed_error_checks


def register_landed(instance: dg.DagsterInstance, datasets: Sequence[LandingDataset],
                    landing_root: Path) -> dict[str, list]:
    """Register new/changed files as partitions, exactly as the sensor would."""
    known = {d.contract.name: DatasetCursor.from_partition_keys(
        instance.get_dynamic_partitions(partitions_def_name(d.contract))) for d in datasets}
    wait_s = settle_wait_s(datasets, landing_root)
    if wait_s > 0:  # the settle setting applies here too: a fresh file gets its settle time
        time.sleep(wait_s)
    # First look records sizes and mtimes; the second, a moment later, decides.
    _, _, first, _ = evaluate_landing(datasets, landing_root, None, previous=known,
                                      now_ns=0)
    time.sleep(OBSERVE_GAP_S)
    # no hashing budget here: a headless pass takes everything that has landed
    _, requests, _, decisions = evaluate_landing(datasets, landing_root, None,
                                                 previous=decode_cursor(first),
                                                 max_hashes=sys.maxsize)
    for dataset in datasets:  # a file's own registered content is not a re-delivery
        base = landing_base(dataset.contract.landing_glob)
        decisions[dataset.contract.name] = [
            Decision(d.relative_path, Action.unchanged)
            if d.action is Action.duplicate and d.duplicate_of is not None
            and split_partition_key(d.duplicate_of)[0]
            == slug(posixpath.relpath(d.relative_path, base or ".")) else d
            for d in decisions[dataset.contract.name]]
    for request in requests:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name,
                                            list(request.partition_keys))
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)
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
    done = instance.get_materialized_partitions(dataset.cleaned.key)
    return [k for k in instance.get_dynamic_partitions(partitions_def_name(dataset.contract))
            if k not in done]


def collect_result(result: dg.ExecuteInProcessResult, into: PassResult) -> None:
    into.run_ids.append(result.run_id)
    for evaluation in result.get_asset_check_evaluations():
        into.checks.append(CheckOutcome(
            asset=evaluation.asset_key.to_user_string(), check=evaluation.check_name,
            partition=evaluation.partition, passed=evaluation.passed,
            severity=evaluation.severity.value,
            metadata={k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}))
    if not result.success:
        partition = result.dagster_run.tags.get("dagster/partition")
        where = f" [{partition}]" if partition else ""  # the file, by its partition key
        for event in result.all_events:
            if event.event_type_value == "STEP_FAILURE" and event.step_key:
                error = event.event_specific_data.error  # type: ignore[union-attr]
                into.failures.append(f"{event.step_key}{where}: {human_message(error)}")


def run_pass(settings: Settings, platform: Platform, instance: dg.DagsterInstance) -> PassResult:
    """Register landed files, process pending partitions, rebuild curated marts."""
    defs, datasets = platform.definitions, platform.datasets
    outcome = PassResult()
    outcome.reaped = reap_dead_runs(instance)
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
        for key in pending:
            result = job.execute_in_process(instance=instance, partition_key=key,
                                            raise_on_error=False, run_config=QUIET,
                                            tags=cli_tags())
            collect_result(result, outcome)
    stale = _curated_behind(defs, instance)
    ready = [k for k in _ready_curated(defs, instance, outcome.held) if k in stale] if stale else []
    if ready:
        result = defs.resolve_job_def(CURATED_JOB.name).execute_in_process(
            instance=instance, raise_on_error=False, run_config=QUIET, asset_selection=ready,
            tags=cli_tags())
        collect_result(result, outcome)
    return outcome


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


def _latest_id(instance: dg.DagsterInstance, key: dg.AssetKey) -> int | None:
    records = instance.fetch_materializations(key, limit=1).records
    return records[0].storage_id if records else None


def _code_changed(graph: AssetGraph, instance: dg.DagsterInstance, key: dg.AssetKey) -> bool:
    """The asset's declaration changed since it was last built (its code version differs)."""
    wanted = graph.get(key).code_version
    if wanted is None:
        return False
    event = instance.get_latest_materialization_event(key)
    materialization = event.asset_materialization if event is not None else None
    built = (materialization.tags or {}).get(CODE_VERSION_TAG) if materialization else None
    return built is not None and built != wanted


def _curated_behind(defs: dg.Definitions, instance: dg.DagsterInstance) -> set[dg.AssetKey]:
    """Curated assets older than what they are built from (new data upstream, or a run killed
    while building or publishing them) or than their declaration, with everything curated
    downstream of them — unless a failed audit holds a publish step back. Only these are
    rebuilt: a mart whose inputs did not change keeps its published version."""
    graph = defs.resolve_asset_graph()
    behind: set[dg.AssetKey] = set()
    latest: dict[dg.AssetKey, int | None] = {}  # one event-log query per asset, not per edge

    def latest_id(key: dg.AssetKey) -> int | None:
        if key not in latest:
            latest[key] = _latest_id(instance, key)
        return latest[key]

    for key in graph.materializable_asset_keys:
        if key.path[0] not in CURATED_PREFIXES:
            continue
        if _code_changed(graph, instance, key):
            behind.add(key)
            continue
        own = latest_id(key)
        parents = [p for p in graph.get(key).parent_keys if latest_id(p) is not None]
        newer = any(own is None or (latest_id(p) or 0) > own for p in parents)
        if newer and not any(_failed_blocking_checks(graph, instance, p) for p in parents
                             if graph.get(p).tags.get(PUBLISHES_TAG)):
            behind.add(key)
    frontier = list(behind)  # what is built from a stale asset is rebuilt in the same run
    while frontier:
        for child in graph.get(frontier.pop()).child_keys:
            if child.path[0] in CURATED_PREFIXES and child not in behind:
                behind.add(child)
                frontier.append(child)
    return behind


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
