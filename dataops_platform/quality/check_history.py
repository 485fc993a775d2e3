"""The latest recorded evaluation of checks, per file: what trace, the scorecard and the
headless pass's hold-back rule read from the Dagster instance."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from dataops_platform.dagster_internals import AssetCheckExecutionRecord, PartitionKeyFilter


def latest_records(instance: dg.DagsterInstance, check_keys: Sequence[dg.AssetCheckKey],
                   partition: str | None) -> dict[dg.AssetCheckKey, AssetCheckExecutionRecord]:
    """check key -> its latest execution record for ``partition`` (None: unpartitioned)."""
    if not check_keys:
        return {}
    return dict(instance.event_log_storage.get_latest_asset_check_execution_by_key(
        check_keys, partition_filter=PartitionKeyFilter(key=partition) if partition else None))


def evaluation_of(record: AssetCheckExecutionRecord) -> dg.AssetCheckEvaluation | None:
    """The record's evaluation (None while only planned or when it never evaluated)."""
    return record.event.asset_check_evaluation if record.event else None
