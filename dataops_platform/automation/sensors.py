"""Sensors: landed files start runs; declarative automation carries them to curated.

The landing sensor only stats and hashes files: it never opens the DuckDB warehouse,
because DuckDB allows one writing process and a sensor holding the file would fail runs.
"""


import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from dataops_platform.collect.decisions import (
    Action,
    DatasetCursor,
    decide,
    decode_cursor,
    encode_cursor,
)
from dataops_platform.collect.landing import file_hash, scan
from dataops_platform.collect.resources import LandingZone

if TYPE_CHECKING:
    from dataops_platform.collect.landing_dataset import LandingDataset

LANDING_SENSOR = "landing_sensor"
AUTOMATION_SENSOR = "dataops_automation"
SETTLE_SECONDS_ENV = "DATAOPS_SETTLE_SECONDS"
MAX_HASHES_PER_TICK = 200  # bounds a tick's work; the rest is picked up next tick


def settle_ns() -> int:
    """How old a file's mtime must be to count as complete on first sight (default 10 s)."""
    return int(float(os.environ.get(SETTLE_SECONDS_ENV, "10")) * 1e9)


def evaluate_landing(datasets: "Sequence[LandingDataset]", root: Path,
                     cursor: str | None, *, now_ns: int | None = None,
                     previous: dict[str, DatasetCursor] | None = None,
                     max_hashes: int = MAX_HASHES_PER_TICK,
                     ) -> tuple[list[dg.RunRequest], list, str, dict[str, list]]:
    """One pass of the landing decision over every dataset (shared by sensor and CLI).

    Returns the run requests, the dynamic-partition requests, the merged cursor and the
    decisions per dataset. ``previous`` (already decoded) takes precedence over ``cursor``.
    """
    cursors = dict(previous) if previous is not None else decode_cursor(cursor)
    budget = max_hashes
    run_requests: list[dg.RunRequest] = []
    partition_requests: list = []
    decisions_by_dataset: dict[str, list] = {}
    now = now_ns if now_ns is not None else time.time_ns()
    for dataset in datasets:
        name = dataset.contract.name
        decisions, cursors[name] = decide(
            cursors.get(name, DatasetCursor()), scan(root, dataset.contract),
            hash_of=lambda rel: file_hash(root / rel),
            now_ns=now, settle_ns=settle_ns(), max_hashes=budget)
        decisions_by_dataset[name] = decisions
        budget -= sum(d.action in (Action.ingest, Action.duplicate) for d in decisions)
        new = [d for d in decisions if d.action is Action.ingest]
        if not new:
            continue
        partition_requests.append(dataset.partitions.build_add_request(
            [d.partition_key for d in new if d.partition_key]))
        replaced = [d.replaces for d in new if d.replaces]
        if replaced:
            partition_requests.append(dataset.partitions.build_delete_request(replaced))
        run_requests.extend(
            dg.RunRequest(
                run_key=f"{name}:{d.partition_key}",
                partition_key=d.partition_key,
                job_name=dataset.ingest_job.name,
                tags={"dataops/dataset": name, "dataops/source_file": d.relative_path},
            )
            for d in new
        )
    return run_requests, partition_requests, encode_cursor(cursors), decisions_by_dataset


def build_landing_sensor(datasets: "Sequence[LandingDataset]",
                         name: str = LANDING_SENSOR) -> dg.SensorDefinition:
    @dg.sensor(
        name=name,
        minimum_interval_seconds=15,
        default_status=dg.DefaultSensorStatus.RUNNING,
        jobs=[d.ingest_job for d in datasets],
        description="Registers each new or changed landed file (by content hash) as a "
                    "partition of raw/<dataset> and requests its run. Files still being "
                    "written wait; identical re-deliveries are skipped.",
    )
    def landing_sensor(context: dg.SensorEvaluationContext,
                       landing: LandingZone) -> dg.SensorResult | dg.SkipReason:
        runs, partitions, cursor, decisions = evaluate_landing(
            datasets, landing.path, context.cursor)
        for name, items in decisions.items():
            for d in items:
                if d.action is Action.duplicate:
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
            description="Declarative automation: cleaned and curated follow raw.",
        )
    ]
    if datasets:
        sensors.append(build_landing_sensor(datasets))
    return sensors
