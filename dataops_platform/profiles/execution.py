"""Where a run's steps execute: the profile's executor, and launching a job on it.

Local: ``in_process_executor`` (one process per run; a fresh process per step paid ~5 s of
imports). Production: ``dagster-celery``'s executor — the run's process only orchestrates,
each step is a Celery task that a worker (``dataops worker``) picks up, rebuilding the job from
the generic code location ``dataops_platform.definitions`` (DATAOPS_PROJECT, DATAOPS_HOME,
DATAOPS_PROFILE in the worker's environment) and opening the instance from its reference.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from dataops_platform.profiles import BACKEND_ENV, BROKER_ENV, CELERY_CONFIG, celery_urls
from dataops_platform.settings import Settings, home_override, profile_override

# dagster-celery's orchestration loop sleeps this long between polls of its tasks (1 s by
# default): each step of a chain waited up to a second after its predecessor finished. A
# tenth of a second keeps small files quick; a poll is one Redis GET per running step.
CELERY_POLL_S = 0.1
CODE_LOCATION_MODULE = "dataops_platform.definitions"
CODE_LOCATION_ATTRIBUTE = "defs"
PARTITION_TAG = "dagster/partition"
# a run over several partitions (what a single-run backfill launches): Dagster's own tags
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def range_tags(first: str, last: str) -> dict[str, str]:
    """The tags making a run cover the partitions ``first`` .. ``last`` (in Dagster's order)."""
    return {RANGE_START_TAG: first, RANGE_END_TAG: last}


def keys_of_run(tags: Mapping[str, str], order: Sequence[str]) -> list[str]:
    """The partitions a run covers: its key, or the keys of its range in ``order`` (a queued
    run has recorded nothing yet, so its tags are what says which files it will take)."""
    if PARTITION_TAG in tags:
        return [tags[PARTITION_TAG]]
    first, last = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if first not in order or last not in order:
        return []
    return list(order[order.index(first):order.index(last) + 1])


def partitions_of_run(tags: Mapping[str, str]) -> str | None:
    """The file(s) a run covers as people read it: a key, or ``first .. last``."""
    if PARTITION_TAG in tags:
        return tags[PARTITION_TAG]
    if RANGE_START_TAG in tags:
        return f"{tags[RANGE_START_TAG]} .. {tags.get(RANGE_END_TAG, '?')}"
    return None


def executor_for(settings: Settings) -> dg.ExecutorDefinition:
    if not settings.production:
        return dg.in_process_executor
    from dagster_celery import celery_executor, core_execution_loop

    core_execution_loop.TICK_SECONDS = CELERY_POLL_S  # type: ignore[assignment]
    broker, backend = celery_urls()
    # an URL set in the environment stays a reference (it may carry a password)
    return celery_executor.configured({
        "broker": {"env": BROKER_ENV} if os.environ.get(BROKER_ENV) else broker,
        "backend": {"env": BACKEND_ENV} if os.environ.get(BACKEND_ENV) else backend,
        "config_source": CELERY_CONFIG,
    }, name="celery")


def reconstructable_job(settings: Settings, job_name: str) -> Any:  # ReconstructableJob
    from dataops_platform.dagster_internals import ReconstructableRepository

    repository = ReconstructableRepository.for_module(
        CODE_LOCATION_MODULE, CODE_LOCATION_ATTRIBUTE, working_directory=str(settings.project_dir))
    return repository.get_reconstructable_job(job_name)


def execute(settings: Settings, defs: dg.Definitions, job_name: str,
            instance: dg.DagsterInstance, *, tags: Mapping[str, str],
            run_config: Mapping[str, Any], partition_key: str | None = None,
            partition_range: tuple[str, str] | None = None,
            asset_selection: Sequence[dg.AssetKey] | None = None) -> Any:
    """Run ``job_name`` to its end on the profile's executor; returns Dagster's result (the
    same interface in both cases: run id, success, events, check evaluations). A run covers
    one partition (``partition_key``) or a range of them (``partition_range``)."""
    if partition_range is not None:
        tags = {**tags, **range_tags(*partition_range)}
    if not settings.production:
        return defs.resolve_job_def(job_name).execute_in_process(
            instance=instance, partition_key=partition_key, raise_on_error=False,
            run_config=dict(run_config), tags=dict(tags), asset_selection=asset_selection)
    run_tags = {**tags, **({PARTITION_TAG: partition_key} if partition_key else {})}
    with home_override(settings.home), profile_override(settings.profile):
        result = dg.execute_job(reconstructable_job(settings, job_name), instance,
                                run_config=dict(run_config), tags=run_tags,
                                asset_selection=list(asset_selection) if asset_selection else None)
    return result
