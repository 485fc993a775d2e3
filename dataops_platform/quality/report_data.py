"""What a quality report says, read from the Dagster instance's event log only.

The warehouse is never opened: DuckDB allows one writing process, and a report must not
block (or wait for) a pipeline. Everything a report shows — row counts, violations per
rule, profiles, column schemas, check results — was recorded as materialization metadata
or as asset check evaluations when the work happened.

Two scopes: the runs of one pass (or one run), and the latest state (per asset partition
its latest materialization, per check and partition its latest evaluation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from dataops_platform.automation.alerts import human_message

SCHEMA_KEY = "dagster/column_schema"
PAGE = 500  # records per event-log query
REPORTED = {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION}


def plain(value: object) -> object:
    """A metadata value as plain Python (numbers, text, dicts, a TableSchema)."""
    return getattr(value, "value", value)


@dataclass(frozen=True)
class CheckRow:
    """One check result, whether recorded by a run or re-evaluated by `dataops check`."""

    asset: str
    check: str
    partition: str | None
    passed: bool
    severity: str  # ERROR / WARN
    metadata: dict[str, object] = field(default_factory=dict)
    run_id: str | None = None  # None: evaluated by `dataops check`, not recorded

    @classmethod
    def of(cls, result: Any, run_id: str | None = None) -> CheckRow:
        """From an AssetCheckEvaluation or a CheckOutcome (same attribute names but two)."""
        asset = getattr(result, "asset", None) or result.asset_key.to_user_string()
        check = getattr(result, "check", None) or result.check_name
        severity = getattr(result.severity, "value", result.severity)
        return cls(asset, check, result.partition, bool(result.passed), str(severity),
                   {k: plain(v) for k, v in (result.metadata or {}).items()}, run_id)


@dataclass(frozen=True)
class SchemaChange:
    previous_partition: str | None
    added: list[tuple[str, str]]
    removed: list[tuple[str, str]]
    retyped: list[tuple[str, str, str]]  # name, old type, new type


@dataclass(frozen=True)
class Materialization:
    asset: str
    partition: str | None
    run_id: str
    storage_id: int
    timestamp: float
    metadata: dict[str, object]  # plain values, without the column schema
    columns: list[tuple[str, str]] | None  # (name, type) from dagster/column_schema
    schema_change: SchemaChange | None = None

    @property
    def dataset(self) -> str:
        return self.asset.split("/")[-1]

    @property
    def is_cleaned(self) -> bool:
        """A contract's cleaned table: it carries the row ledger of one file."""
        return "rows_in" in self.metadata and "rows_quarantined" in self.metadata


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    job: str
    status: str
    failures: list[str]


@dataclass
class ReportData:
    title: str
    scope: str  # one sentence on what the report covers
    materializations: list[Materialization]
    checks: list[CheckRow]
    runs: list[RunInfo] = field(default_factory=list)
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def cleaned(self) -> list[Materialization]:
        return [m for m in self.materializations if m.is_cleaned]

    @property
    def failed_runs(self) -> list[RunInfo]:
        return [r for r in self.runs if r.status == "FAILURE"]

    def failed(self, severity: str) -> list[CheckRow]:
        return [c for c in self.checks if not c.passed and c.severity == severity]

    @property
    def status(self) -> str:
        """FAILED (error check or run failed), WARN (warn check failed), PASSED or NO DATA."""
        if self.failed("ERROR") or self.failed_runs:
            return "FAILED"
        if self.failed("WARN"):
            return "WARN"
        return "PASSED" if self.materializations or self.checks else "NO DATA"


@dataclass(frozen=True)
class ReportTargets:
    """The assets (with their dynamic partitions' name, if any) and checks a latest-state
    report covers; only current partitions count (a replaced file's old one does not)."""

    assets: dict[dg.AssetKey, str | None]
    checks: list[dg.AssetCheckKey]

    @classmethod
    def of(cls, definitions: dg.Definitions | dg.RepositoryDefinition) -> ReportTargets:
        """Every materializable asset and every check of a code location's definitions."""
        graph = definitions.resolve_asset_graph() if isinstance(definitions, dg.Definitions) \
            else definitions.asset_graph
        found: dict[dg.AssetKey, str | None] = {}
        for key in graph.materializable_asset_keys:
            partitions = graph.get(key).partitions_def
            found[key] = partitions.name if isinstance(partitions, dg.DynamicPartitionsDefinition) \
                else None
        return cls(found, sorted(graph.asset_check_keys, key=lambda k: k.to_user_string()))


def _columns(schema: object) -> list[tuple[str, str]] | None:
    columns = getattr(schema, "columns", None)
    return None if columns is None else [(c.name, c.type) for c in columns]


def _materialization(record: dg.EventLogRecord) -> Materialization | None:
    event = record.asset_materialization
    if event is None:
        return None
    metadata = {k: plain(v) for k, v in event.metadata.items()}
    return Materialization(event.asset_key.to_user_string(), event.partition, record.run_id,
                           record.storage_id, record.timestamp, metadata,
                           _columns(metadata.pop(SCHEMA_KEY, None)))


def schema_change(before: list[tuple[str, str]], after: list[tuple[str, str]],
                  previous_partition: str | None) -> SchemaChange | None:
    old, new = dict(before), dict(after)
    change = SchemaChange(previous_partition,
                          [(n, t) for n, t in after if n not in old],
                          [(n, t) for n, t in before if n not in new],
                          [(n, old[n], t) for n, t in after if n in old and old[n] != t])
    return change if change.added or change.removed or change.retyped else None


def _with_schema_change(instance: dg.DagsterInstance, m: Materialization) -> Materialization:
    """Compare with the asset's materialization just before this one (any partition)."""
    if m.columns is None:
        return m
    previous = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey.from_user_string(m.asset),
                              before_storage_id=m.storage_id), limit=1).records
    before = _materialization(previous[0]) if previous else None
    if before is None or before.columns is None:
        return m
    change = schema_change(before.columns, m.columns, before.partition)
    return m if change is None else replace(m, schema_change=change)


def _evaluation(event: dg.EventLogEntry | None) -> CheckRow | None:
    if event is None or event.dagster_event is None:
        return None
    data = event.dagster_event.event_specific_data
    return CheckRow.of(data, event.run_id) if isinstance(data, dg.AssetCheckEvaluation) else None


def _run_info(instance: dg.DagsterInstance, run_id: str) -> RunInfo:
    run = instance.get_run_by_id(run_id)
    if run is None:
        return RunInfo(run_id, "?", "UNKNOWN", [])
    failures = []
    if run.status is dg.DagsterRunStatus.FAILURE:
        for step in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
            error = step.dagster_event.step_failure_data.error if step.dagster_event else None
            failures.append(f"{step.step_key}: {human_message(error)}"[:2000])
    return RunInfo(run_id, run.job_name, run.status.value, failures)


def run_report_data(instance: dg.DagsterInstance, run_ids: Sequence[str],
                    title: str = "Quality report") -> ReportData:
    """The materializations and check evaluations the given runs recorded."""
    materializations, checks = [], []
    for run_id in run_ids:
        records = instance.get_records_for_run(run_id, of_type=REPORTED, limit=None).records
        for record in records:
            m = _materialization(record)
            if m is not None:
                materializations.append(_with_schema_change(instance, m))
            row = _evaluation(record.event_log_entry)
            if row is not None:
                checks.append(row)
    scope = f"run {run_ids[0]}" if len(run_ids) == 1 else f"the {len(run_ids)} runs of one pass"
    return ReportData(title, f"Everything recorded by {scope}.", materializations, checks,
                      [_run_info(instance, r) for r in run_ids])


def _current(instance: dg.DagsterInstance, partitions_name: str | None) -> list[str] | None:
    return None if partitions_name is None else list(instance.get_dynamic_partitions(partitions_name))


def _latest_materializations(instance: dg.DagsterInstance, key: dg.AssetKey,
                             partitions: list[str] | None) -> list[Materialization]:
    if partitions is not None and not partitions:
        return []
    found: dict[str | None, Materialization] = {}
    cursor = None
    while True:
        result = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=partitions),
            limit=1 if partitions is None else PAGE, cursor=cursor)
        for record in result.records:
            m = _materialization(record)
            if m is not None:
                found.setdefault(m.partition, m)
        if partitions is None or not result.has_more or len(found) == len(partitions):
            break
        cursor = result.cursor
    return list(found.values())


def _latest_evaluations(instance: dg.DagsterInstance, key: dg.AssetCheckKey,
                        partitions: list[str] | None) -> list[CheckRow]:
    """The newest completed evaluation per partition (only current partitions)."""
    wanted = None if partitions is None else set(partitions)
    found: dict[str | None, CheckRow] = {}
    cursor = None
    while True:
        records = instance.event_log_storage.get_asset_check_execution_history(
            key, limit=PAGE, cursor=cursor)
        for record in records:
            row = _evaluation(record.event)
            if row is not None and (wanted is None or record.partition in wanted):
                found.setdefault(record.partition, row)
        done = len(found) == len(wanted) if wanted is not None else None in found
        if len(records) < PAGE or done:
            break
        cursor = records[-1].id
    return list(found.values())


def latest_report_data(instance: dg.DagsterInstance, targets: ReportTargets,
                       checks: Sequence[CheckRow] | None = None,
                       title: str = "Quality report: latest state") -> ReportData:
    """Per asset partition its latest materialization and, unless ``checks`` are given (the
    gate's fresh results), per check and partition its latest recorded evaluation."""
    current = {key: _current(instance, name) for key, name in targets.assets.items()}
    materializations = [_with_schema_change(instance, m)
                        for key, partitions in current.items()
                        for m in _latest_materializations(instance, key, partitions)]
    if checks is None:
        checks = [row for key in targets.checks
                  for row in _latest_evaluations(instance, key, current.get(key.asset_key))]
    materializations.sort(key=lambda m: (m.asset, m.storage_id))
    return ReportData(title, "The latest state: per file its latest materialization and, per "
                             "check and file, its latest result.", materializations, list(checks))
