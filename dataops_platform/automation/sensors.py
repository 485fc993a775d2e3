"""Sensors: landed files start runs; declarative automation carries them to curated.

The landing sensor only stats and hashes files: it never opens the DuckDB warehouse,
because DuckDB allows one writing process and a sensor holding the file would fail runs.
"""


import hashlib
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from dataops_platform.collect.decisions import (
    Action,
    DatasetCursor,
    Decision,
    batches,
    decide,
    decode_cursor,
    encode_cursor,
)
from dataops_platform.collect.landing import file_hash, partitions_def_name, scan
from dataops_platform.collect.resources import LandingZone
from dataops_platform.profiles.execution import keys_of_run, range_tags

if TYPE_CHECKING:
    from dataops_platform.collect.landing_dataset import LandingDataset

LANDING_SENSOR = "landing_sensor"
AUTOMATION_SENSOR = "dataops_automation"
SETTLE_SECONDS_ENV = "DATAOPS_SETTLE_SECONDS"
IN_PROGRESS = (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
               dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED)
MAX_HASHES_PER_TICK = 200  # bounds a tick's work; the rest is picked up next tick


def settle_ns() -> int:
    """How old a file's mtime must be to count as complete on first sight (default 10 s)."""
    return int(float(os.environ.get(SETTLE_SECONDS_ENV, "10")) * 1e9)


def registered_partitions(instance: dg.DagsterInstance,
                          datasets: "Sequence[LandingDataset]") -> dict[str, list[str]]:
    """The landed files registered so far, per dataset: the instance's dynamic partitions,
    the one record the sensor and ``dataops run`` both decide against."""
    return {d.contract.name: list(instance.get_dynamic_partitions(partitions_def_name(d.contract)))
            for d in datasets}


def run_key(dataset: str, decision: Decision) -> str:
    """One key per delivery (content + size + mtime): the daemon never starts two runs for
    one delivery, yet content delivered again after it was replaced gets its run."""
    seen = decision.observed
    stamp = f":{seen.size}:{seen.mtime_ns}" if seen is not None else ""
    return f"{dataset}:{decision.partition_key}{stamp}"


def evaluate_landing(datasets: "Sequence[LandingDataset]", root: Path,
                     cursor: str | None, *, registered: Mapping[str, Sequence[str]],
                     now_ns: int | None = None,
                     max_hashes: int = MAX_HASHES_PER_TICK,
                     unfinished: Callable[["LandingDataset"], Iterable[str]] | None = None,
                     ) -> tuple[list[dg.RunRequest], list, str, dict[str, list[Decision]]]:
    """One pass of the landing decision over every dataset (shared by sensor and CLI).

    ``registered`` is what the instance holds (``registered_partitions``); ``cursor`` only
    carries last look's sizes, mtimes and hashes. Returns the run requests, the dynamic-
    partition requests, the new cursor and the decisions per dataset. ``unfinished`` names
    registered partitions that never got processed (say a pass was killed between
    registering and running them): a landed file whose content is one of them is requested
    again (its run key keeps the daemon from repeating a run that already exists).
    """
    observed = decode_cursor(cursor)
    cursors: dict[str, DatasetCursor] = {}
    budget = max_hashes
    run_requests: list[dg.RunRequest] = []
    partition_requests: list = []
    decisions_by_dataset: dict[str, list[Decision]] = {}
    now = now_ns if now_ns is not None else time.time_ns()
    for dataset in datasets:
        name = dataset.contract.name
        known = DatasetCursor.from_partition_keys(
            registered.get(name, ()), files=observed.get(name, DatasetCursor()).files)
        decisions, cursors[name] = decide(
            known, scan(root, dataset.contract),
            hash_of=lambda rel: file_hash(root / rel),
            now_ns=now, settle_ns=settle_ns(), max_hashes=budget)
        decisions_by_dataset[name] = decisions
        budget -= sum(d.newly_hashed for d in decisions)
        new = [d for d in decisions if d.action is Action.ingest]
        behind = set(unfinished(dataset)) if unfinished is not None else set()
        again = [replace(d, partition_key=d.registered_as) for d in decisions
                 if d.action is Action.unchanged and d.registered_as in behind]
        if new:
            partition_requests.append(dataset.partitions.build_add_request(
                [d.partition_key for d in new if d.partition_key]))
            replaced = [d.replaces for d in new if d.replaces]
            if replaced:
                partition_requests.append(dataset.partitions.build_delete_request(replaced))
        run_requests.extend(_requests(dataset, registered.get(name, ()), new, again))
    return run_requests, partition_requests, encode_cursor(cursors), decisions_by_dataset


def _requests(dataset: "LandingDataset", registered: Sequence[str], new: Sequence[Decision],
              again: Sequence[Decision]) -> list[dg.RunRequest]:
    """One run per batch of files that landed together (consecutive partitions once the
    new ones are added); a file requested again, or re-registered content, runs alone."""
    name = dataset.contract.name
    known = set(registered)
    order = [*registered, *(d.partition_key for d in new
                            if d.partition_key and d.partition_key not in known)]
    by_key = {d.partition_key: d for d in [*new, *again] if d.partition_key}
    sizes = {k: d.observed.size for k, d in by_key.items() if d.observed is not None}
    groups = batches([d.partition_key for d in new if d.partition_key], order, sizes=sizes,
                     max_files=dataset.files_per_run)
    groups += [[d.partition_key] for d in again if d.partition_key]
    requests = []
    for group in groups:
        first = by_key[group[0]]
        if len(group) == 1:
            requests.append(dg.RunRequest(
                run_key=run_key(name, first), partition_key=first.partition_key,
                job_name=dataset.process_job.name,
                tags={"dataops/dataset": name, "dataops/source_file": first.relative_path}))
        else:
            stamp = hashlib.sha256("\n".join(run_key(name, by_key[k]) for k in group)
                                   .encode()).hexdigest()[:12]
            requests.append(dg.RunRequest(
                run_key=f"{name}:{len(group)} files:{group[0]}..{group[-1]}:{stamp}",
                job_name=dataset.process_job.name,
                tags={"dataops/dataset": name, "dataops/files": str(len(group)),
                      **range_tags(group[0], group[-1])}))
    return requests


def apply_partition_requests(instance: dg.DagsterInstance, requests: Iterable[object]) -> None:
    """Add and delete dynamic partitions as the daemon does with a sensor's requests (the CLI
    registers files itself; tests replay a tick)."""
    for request in requests:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name,
                                            list(request.partition_keys))
        elif isinstance(request, dg.DeleteDynamicPartitionsRequest):
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)


def unfinished_partitions(instance: dg.DagsterInstance,
                          dataset: "LandingDataset") -> list[str]:
    """Registered partitions whose file was never processed (not materialized) and that no
    run is working on right now (queued or started, alone or in a batch)."""
    done = instance.get_materialized_partitions(dataset.done_key)
    order = list(instance.get_dynamic_partitions(partitions_def_name(dataset.contract)))
    keys = [k for k in order if k not in done]
    if not keys:
        return []
    busy: set[str] = set()
    for run in instance.get_runs(filters=dg.RunsFilter(job_name=dataset.process_job.name,
                                                         statuses=list(IN_PROGRESS))):
        busy.update(keys_of_run(run.tags, order))
    return [k for k in keys if k not in busy]


def build_landing_sensor(datasets: "Sequence[LandingDataset]",
                         name: str = LANDING_SENSOR) -> dg.SensorDefinition:
    @dg.sensor(
        name=name,
        minimum_interval_seconds=15,
        default_status=dg.DefaultSensorStatus.RUNNING,
        jobs=[d.process_job for d in datasets],
        description="Registers each new or changed landed file (by content hash) as a "
                    "partition of raw/<dataset> and requests the run that loads, cleans and "
                    "checks it. Files still being written wait; identical re-deliveries are "
                    "skipped.",
    )
    def landing_sensor(context: dg.SensorEvaluationContext,
                       landing: LandingZone) -> dg.SensorResult | dg.SkipReason:
        instance = context.instance
        runs, partitions, cursor, decisions = evaluate_landing(
            datasets, landing.path, context.cursor,
            registered=registered_partitions(instance, datasets),
            unfinished=lambda dataset: unfinished_partitions(instance, dataset))
        for name, items in decisions.items():
            for d in items:
                if d.action is Action.duplicate and d.newly_hashed:
                    context.log.info(f"{name}: {d.relative_path} has the same content as "
                                     f"{d.duplicate_of}; not ingested again")
                elif d.action is Action.wait:
                    context.log.info(f"{name}: {d.relative_path} is still being written")
        if not runs:
            return dg.SensorResult(skip_reason="no new or changed files", cursor=cursor)
        return dg.SensorResult(run_requests=runs, dynamic_partitions_requests=partitions,
                               cursor=cursor)

    return landing_sensor


def build_sensors(datasets: "Sequence[LandingDataset]") -> list[dg.SensorDefinition]:
    sensors: list[dg.SensorDefinition] = [
        dg.AutomationConditionSensorDefinition(
            AUTOMATION_SENSOR,
            target=dg.AssetSelection.all(),
            default_status=dg.DefaultSensorStatus.RUNNING,
            minimum_interval_seconds=15,
            description="Declarative automation: the curated marts follow the files' tables.",
        )
    ]
    if datasets:
        sensors.append(build_landing_sensor(datasets))
    return sensors
