"""Landed files of a dataset through raw → cleaned → their checks → current, in one step.

Why one step: every Dagster step has its events, its connection and (on the daemon path) a
run has its process; per file that cost seconds against a few milliseconds of real work for a
small file. Here one run takes one file or a batch of files (a partition range: the landing
sensor asks for the files that landed together in one run), and each file is still its own
partition: its own raw, cleaned and current materialization with its own metadata, its own
check results, its own transactions, applied in partition order. A file that fails
(unreadable, rejected, a blocking check) fails alone — the others of the batch are
materialized — and the step ends with a failure naming each such file, so Dagster records
exactly that file's partitions as failed.
"""

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import dagster as dg
import duckdb

from dataops_platform.collect.raw_asset import PARTITION_COLUMN, load_raw, raw_spec
from dataops_platform.collect.resources import LandingZone
from dataops_platform.contracts.model import Contract
from dataops_platform.dagster_internals import AssetCheckEvaluationTargetMaterializationData
from dataops_platform.quality.check_history import evaluation_of, latest_records
from dataops_platform.quality.checks import (
    SCHEMA_CHANGE,
    FileCheck,
    file_check_specs,
    schema_change,
    schema_change_spec,
)
from dataops_platform.quality.rule_checks import evaluate_rules, rule_check_specs
from dataops_platform.storage.io_manager import TableRef, publish_staged
from dataops_platform.storage.partition_keys import partition_filter, require_partition_key
from dataops_platform.storage.warehouse import POOL, Warehouse
from dataops_platform.transform.cleaned_asset import clean_partition, cleaned_spec
from dataops_platform.transform.current_asset import apply_partition, current_spec

FILE_FAILURES = "file_failures"  # the step failure's metadata: one entry per failed file


@dataclass(frozen=True)
class FileFailure:
    """One file of the run that did not get through, and why (shown per file by the CLI)."""

    asset: str  # e.g. "raw/orders": the table the file did not reach
    partition: str
    message: str

    def line(self) -> str:
        return f"{self.asset} [{self.partition}]: {self.message}"


@dataclass
class _Keys:
    raw: dg.AssetKey
    cleaned: dg.AssetKey
    current: dg.AssetKey | None
    file_checks: list[tuple[FileCheck, dg.AssetCheckSpec]] = field(default_factory=list)
    rule_checks: list[dg.AssetCheckSpec] = field(default_factory=list)


def step_name(contract: Contract) -> str:
    """The step's name in the run view: one per dataset, whatever the number of files."""
    return f"{contract.name}_files"


def build_process_asset(contract: Contract,
                        partitions_def: dg.DynamicPartitionsDefinition) -> dg.AssetsDefinition:
    """raw, cleaned (and current) of one contract as one subsettable multi-asset whose check
    specs are the file checks, the column rule checks and the schema-change checks."""
    specs = [raw_spec(contract, partitions_def), cleaned_spec(contract, partitions_def)]
    if contract.write:
        specs.append(current_spec(contract, partitions_def))
    keys = _Keys(specs[0].key, specs[1].key, specs[2].key if contract.write else None)
    keys.file_checks = file_check_specs(contract, keys.cleaned, partitions_def)
    keys.rule_checks = rule_check_specs(contract, keys.cleaned, partitions_def)
    check_specs = [*(spec for _, spec in keys.file_checks), *keys.rule_checks,
                   schema_change_spec(keys.raw, partitions_def),
                   schema_change_spec(keys.cleaned, partitions_def)]

    @dg.multi_asset(name=step_name(contract), specs=specs, check_specs=check_specs,
                    can_subset=True, pool=POOL,
                    backfill_policy=dg.BackfillPolicy.single_run(),
                    description=f"Load, clean, check (and apply) each landed '{contract.name}' "
                                "file of the run, one partition each.")
    def process(context: dg.AssetExecutionContext, warehouse: Warehouse,
                landing: LandingZone) -> Iterator[dg.AssetCheckResult]:
        files = [require_partition_key(k) for k in context.partition_keys]
        run = _FileRun(context, contract, keys, landing)
        with warehouse.get_connection() as conn:
            for key in files:
                run.one_file(conn, key)
        if run.failures:
            failed = {f.partition for f in run.failures}
            raise dg.Failure(
                description="\n".join(f.line() for f in run.failures)
                + (f"\n({len(files) - len(failed)} other file(s) of this run were processed.)"
                   if len(files) > len(failed) else ""),
                metadata={FILE_FAILURES: dg.MetadataValue.json(
                    [f.__dict__ for f in run.failures])},
                allow_retries=False)
        yield from ()  # every result was logged per file (a partition each)

    return process


class _FileRun:
    """The per-file work of one step: what was selected, what each file reached."""

    def __init__(self, context: dg.AssetExecutionContext, contract: Contract, keys: _Keys,
                 landing: LandingZone) -> None:
        self.context, self.contract, self.keys, self.landing = context, contract, keys, landing
        self.assets = set(context.selected_asset_keys)
        self.checks = {k.name for k in context.selected_asset_check_keys
                       if k.asset_key == keys.cleaned}
        self.schema_checks = {k.asset_key for k in context.selected_asset_check_keys
                              if k.name == SCHEMA_CHANGE}
        self.failures: list[FileFailure] = []
        self._targets: dict[tuple[dg.AssetKey, str],
                            AssetCheckEvaluationTargetMaterializationData | None] = {}
        self.previous_schema = {key: _latest_schema(context.instance, key)
                                for key in self.schema_checks}

    def one_file(self, conn: duckdb.DuckDBPyConnection, key: str) -> None:
        contract, keys = self.contract, self.keys
        where, params = partition_filter(PARTITION_COLUMN, [key])
        seconds: dict[str, float] = {}
        try:
            if keys.raw in self.assets:
                started = time.perf_counter()
                staged, metadata = load_raw(conn, contract, key, self.landing,
                                            self.context.run.run_id)
                rows = publish_staged(conn, "raw", contract.name, staged, where, params)
                seconds["raw"] = time.perf_counter() - started
                self._materialized(keys.raw, key, metadata, rows, seconds["raw"])
                self.context.log.info(f"{metadata['source_file'].value}: {rows} rows in "
                                      f"raw.{contract.name}")
        except (dg.Failure, duckdb.Error) as exc:
            self._failed(keys.raw, key, exc)
            return
        try:
            if keys.cleaned in self.assets:
                started = time.perf_counter()
                tables, metadata = clean_partition(
                    conn, contract, TableRef.of_partitions("raw", contract.name,
                                                           PARTITION_COLUMN, [key]), key)
                rows = publish_staged(conn, "cleaned", contract.name, tables, where, params)
                seconds["cleaned"] = time.perf_counter() - started
                self._materialized(keys.cleaned, key, metadata, rows, seconds["cleaned"])
                self.context.log.info(
                    f"{key}: {metadata['rows_in']} in, {metadata['rows_cleaned']} cleaned, "
                    f"{metadata['rows_quarantined']} quarantined, "
                    f"{metadata['rows_duplicates']} duplicates")
        except (dg.Failure, duckdb.Error) as exc:
            self._failed(keys.cleaned, key, exc)
            return
        started = time.perf_counter()
        blocking = self._checks(conn, key)
        seconds["checks"] = time.perf_counter() - started
        if keys.current is None or keys.current not in self.assets:
            if blocking:
                self._held(key, blocking, applied_to=None)
            return
        if keys.cleaned not in self.assets or not self.checks:  # checks not run here
            blocking = _failed_blocking(self.context.instance, keys, key)
        if blocking:
            self._held(key, blocking, applied_to=keys.current)
            return
        try:
            started = time.perf_counter()
            metadata = apply_partition(conn, contract, key)
            self.context.log_event(dg.AssetMaterialization(
                asset_key=keys.current, partition=key,
                metadata={**metadata, "seconds": round(time.perf_counter() - started, 3)}))
        except (dg.Failure, duckdb.Error) as exc:
            self._failed(keys.current, key, exc)

    def _materialized(self, asset: dg.AssetKey, key: str, metadata: dict, rows: int,
                      seconds: float) -> None:
        metadata = {**metadata, "dagster/partition_row_count": rows,
                    "seconds": round(seconds, 3)}
        self.context.log_event(dg.AssetMaterialization(asset_key=asset, partition=key,
                                                       metadata=metadata))
        self._targets.pop((asset, key), None)  # a new materialization to evaluate
        if asset in self.schema_checks:
            schema = _schema_of(metadata.get("dagster/column_schema"))
            passed, description = schema_change(self.previous_schema.get(asset), schema)
            self._evaluation(asset, SCHEMA_CHANGE, key, passed, dg.AssetCheckSeverity.WARN,
                             description, {}, blocking=False)
            self.previous_schema[asset] = schema

    def _checks(self, conn: duckdb.DuckDBPyConnection, key: str) -> list[str]:
        """Evaluate the selected checks of the file; the names of failed blocking ones."""
        failed = []
        for check, spec in self.keys.file_checks:
            if check.name not in self.checks:
                continue
            result = check.evaluate(conn, self.contract, key)
            self._evaluation(self.keys.cleaned, check.name, key, result.passed,
                             result.severity, result.description, dict(result.metadata or {}),
                             blocking=spec.blocking)
            if spec.blocking and not result.passed:
                failed.append(check.name)
        if any(spec.name in self.checks for spec in self.keys.rule_checks):
            for name, result in evaluate_rules(conn, self.contract, key).items():
                if name in self.checks:
                    self._evaluation(self.keys.cleaned, name, key, result.passed,
                                     result.severity, result.description,
                                     dict(result.metadata or {}), blocking=False)
        return failed

    def _evaluation(self, asset: dg.AssetKey, name: str, key: str, passed: bool,
                    severity: dg.AssetCheckSeverity, description: str | None, metadata: dict,
                    *, blocking: bool) -> None:
        self.context.log_event(dg.AssetCheckEvaluation(
            asset_key=asset, check_name=name, passed=passed, severity=severity,
            description=description, metadata=metadata, partition=key, blocking=blocking,
            target_materialization_data=self._target(asset, key)))

    def _target(self, asset: dg.AssetKey,
                key: str) -> AssetCheckEvaluationTargetMaterializationData | None:
        """The file's materialization a check evaluated (what a yielded check result names):
        Dagster's check conditions, e.g. a blocking failure holding the marts back, count
        only an evaluation of the asset's current materialization."""
        if (asset, key) not in self._targets:
            records = self.context.instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[key]), limit=1).records
            self._targets[(asset, key)] = AssetCheckEvaluationTargetMaterializationData(
                run_id=records[0].run_id, storage_id=records[0].storage_id,
                timestamp=records[0].timestamp) if records else None
        return self._targets[(asset, key)]

    def _held(self, key: str, blocking: Sequence[str], applied_to: dg.AssetKey | None) -> None:
        cleaned = self.keys.cleaned.to_user_string()
        if applied_to is not None:
            message = (f"blocking check(s) {', '.join(blocking)} of {cleaned} failed: not "
                       f"applied to {applied_to.to_user_string()}; fix the file or the contract, "
                       "then replay it")
        else:
            message = f"blocking check(s) {', '.join(blocking)} failed"
        self.failures.append(FileFailure(
            (applied_to or self.keys.cleaned).to_user_string(), key, message))

    def _failed(self, asset: dg.AssetKey, key: str, exc: Exception) -> None:
        message = exc.description if isinstance(exc, dg.Failure) else str(exc)
        self.context.log.error(f"{asset.to_user_string()} [{key}]: {message}")
        self.failures.append(FileFailure(asset.to_user_string(), key, message or type(exc).__name__))


def _latest_schema(instance: dg.DagsterInstance, asset: dg.AssetKey) -> dg.TableSchema | None:
    """The column schema of the asset's latest materialization (any file), if any."""
    records = instance.fetch_materializations(asset, limit=1).records
    materialization = records[0].asset_materialization if records else None
    return _schema_of(materialization.metadata.get("dagster/column_schema")
                      if materialization else None)


def _schema_of(value: object) -> dg.TableSchema | None:
    """A column schema as built (``dg.TableSchema``) or as stored (its metadata value)."""
    if isinstance(value, dg.TableSchemaMetadataValue):
        return value.schema
    return value if isinstance(value, dg.TableSchema) else None


def _failed_blocking(instance: dg.DagsterInstance, keys: _Keys, key: str) -> list[str]:
    """The file's blocking checks whose latest stored evaluation failed (when current is
    applied without its checks in the same step, e.g. requested by the automation)."""
    blocking = [dg.AssetCheckKey(keys.cleaned, spec.name) for _, spec in keys.file_checks
                if spec.blocking]
    return sorted(check.name for check, record in latest_records(instance, blocking, key).items()
                  if (evaluation := evaluation_of(record)) is not None and not evaluation.passed)
