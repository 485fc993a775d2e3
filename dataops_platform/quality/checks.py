"""Asset checks compiled from a contract, evaluated per landed file (partitioned checks).

They read what was *stored* (not what the asset meant to store), so a bug anywhere between
the cleaning SQL and the IO manager shows up as a failed check:

- ``row_conservation`` (blocking): raw = cleaned + quarantined + duplicates for the file.
- ``contract_schema``  (blocking): the cleaned rows pass the pandera schema compiled from
  the contract, validated in bounded chunks so a large file never sits in memory at once.
- ``quarantine_rate``  (warn): the share of quarantined rows stays under the threshold.
- ``columns_present``  (error by default, ``missing_columns: warn`` for warn): every contract
  column was delivered — a column no delivered header maps to would be silently all null.
- ``reconciliation``   (blocking, when the contract lists ``reconcile`` columns): the file's
  total of each such column, parsed from raw, equals cleaned + quarantined + duplicates.
"""


import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
import pandera.errors as pa_errors

from dataops_platform.collect.column_match import describe_missing, missing_columns
from dataops_platform.collect.raw_asset import PARTITION_COLUMN
from dataops_platform.collect.readers import DELIVERED_COLUMNS
from dataops_platform.contracts.model import (
    Column,
    ColumnType,
    Contract,
    MissingColumns,
    Rule,
    Severity,
)
from dataops_platform.quality.metrics import ANOMALIES, check_anomalies
from dataops_platform.quality.metrics import describe as describe_anomalies
from dataops_platform.quality.pandera_schema import compile_schema
from dataops_platform.storage.metadata import count
from dataops_platform.storage.sql import fetch_one, literal, quote_ident, table, table_exists
from dataops_platform.transform.cleaned_asset import duplicates_table, quarantine_table
from dataops_platform.transform.cleaning import typed_value

ROW_CONSERVATION = "row_conservation"
CONTRACT_SCHEMA = "contract_schema"
QUARANTINE_RATE = "quarantine_rate"
REFERENCES = "references"
VOLUME = "volume"
RECONCILIATION = "reconciliation"
COLUMNS_PRESENT = "columns_present"
MAX_QUARANTINE_RATE = 0.25
VALIDATION_BATCH_ROWS = 250_000
SAMPLE_ROWS = 10


def _places(contract: Contract) -> dict[str, tuple[str, str]]:
    """Every table a landed row can end up in (plus raw, where it came from)."""
    return {
        "raw": ("raw", contract.name),
        "cleaned": ("cleaned", contract.name),
        "quarantined": quarantine_table(contract),
        "duplicates": duplicates_table(contract),
    }


def ledger(conn: duckdb.DuckDBPyConnection, contract: Contract,
           partition_key: str | None = None) -> dict[str, int]:
    """Row counts in every place a row can end up: one file's, or the whole dataset's."""
    where = "true" if partition_key is None else f"{PARTITION_COLUMN} = {literal(partition_key)}"
    return {name: count(conn, table(*place), where) if table_exists(conn, *place) else 0
            for name, place in _places(contract).items()}


def ledger_totals(conn: duckdb.DuckDBPyConnection, contract: Contract) -> dict[str, int]:
    """The dataset-wide ledger plus the number of files (partitions) in raw."""
    totals = ledger(conn, contract)
    totals["files"] = int(fetch_one(
        conn, f"select count(distinct {PARTITION_COLUMN}) from {table('raw', contract.name)}")[0]
    ) if table_exists(conn, "raw", contract.name) else 0
    return totals


def validate_partition(conn: duckdb.DuckDBPyConnection, contract: Contract, partition_key: str,
                       batch_rows: int = VALIDATION_BATCH_ROWS) -> tuple[int, int, pd.DataFrame]:
    """Run the pandera schema over the stored partition in batches of ``batch_rows``.

    Row rules are checked batch by batch (bounded memory, no sort); primary-key uniqueness
    spans batches, so it is checked once over the whole partition in SQL. Returns (rows
    checked, error-level failure cases, sample of failures with file and row number).
    """
    schema = compile_schema(contract, with_unique=False)
    where = f"{PARTITION_COLUMN} = {literal(partition_key)}"
    relation = table("cleaned", contract.name)
    checked, failures, samples = 0, 0, []
    rel = conn.sql(f"select * from {relation} where {where}")
    # DuckDB 2 names it to_arrow_reader; 1.4 LTS (the DuckLake pin) fetch_arrow_reader
    reader = getattr(rel, "to_arrow_reader", None) or rel.fetch_arrow_reader
    for batch in reader(batch_rows):
        frame = batch.to_pandas()
        checked += len(frame)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=pa_errors.SchemaWarning)  # warn-level rules
            try:
                schema.validate(frame, lazy=True)
            except pa_errors.SchemaErrors as exc:
                cases = exc.failure_cases
                failures += len(cases)
                located = cases.join(frame[["_source_file", "_row_number"]], on="index",
                                     how="left") if "index" in cases else cases
                samples.append(located.head(SAMPLE_ROWS))
    if contract.primary_key:
        keys = ", ".join(quote_ident(k) for k in contract.primary_key)
        repeated = conn.execute(
            f"select _source_file, _row_number, {keys} from {relation} where {where} "
            f"qualify count(*) over (partition by {keys}) > 1 order by _row_number").fetchdf()
        if not repeated.empty:
            failures += len(repeated)
            samples.append(repeated.assign(check="primary_key_unique").head(SAMPLE_ROWS))
    sample = pd.concat(samples).head(SAMPLE_ROWS) if samples else pd.DataFrame()
    return checked, failures, sample


def check_row_conservation(conn: duckdb.DuckDBPyConnection, contract: Contract,
                           partition_key: str) -> dg.AssetCheckResult:
    counts = ledger(conn, contract, partition_key)
    accounted = counts["cleaned"] + counts["quarantined"] + counts["duplicates"]
    return dg.AssetCheckResult(
        passed=accounted == counts["raw"], severity=dg.AssetCheckSeverity.ERROR,
        metadata={**counts, "accounted": accounted, "lost": counts["raw"] - accounted})


def check_contract_schema(conn: duckdb.DuckDBPyConnection, contract: Contract,
                          partition_key: str) -> dg.AssetCheckResult:
    checked, failures, sample = validate_partition(conn, contract, partition_key)
    metadata: dict = {"rows_checked": checked, "failure_cases": failures}
    if not sample.empty:
        metadata["failure_sample"] = dg.MetadataValue.md(sample.astype(str).to_markdown(index=False))
    return dg.AssetCheckResult(passed=failures == 0, severity=dg.AssetCheckSeverity.ERROR,
                               metadata=metadata)


def check_quarantine_rate(conn: duckdb.DuckDBPyConnection, contract: Contract,
                          partition_key: str) -> dg.AssetCheckResult:
    counts = ledger(conn, contract, partition_key)
    rate = counts["quarantined"] / counts["raw"] if counts["raw"] else 0.0
    return dg.AssetCheckResult(
        passed=rate <= MAX_QUARANTINE_RATE, severity=dg.AssetCheckSeverity.WARN,
        metadata={"quarantine_rate": round(rate, 4), "threshold": MAX_QUARANTINE_RATE,
                  "quarantined": counts["quarantined"], "rows_in": counts["raw"]})


def _references(contract: Contract) -> list[Column]:
    return [c for c in contract.columns if c.references is not None]


def _references_are_errors(contract: Contract) -> bool:
    return any(c.severity_of(Rule.references) is Severity.error for c in _references(contract))


def check_references(conn: duckdb.DuckDBPyConnection, contract: Contract,
                     partition_key: str) -> dg.AssetCheckResult:
    """Rows of this file whose foreign-key value is missing from the referenced dataset."""
    relation = table("cleaned", contract.name)
    where = f"{PARTITION_COLUMN} = {literal(partition_key)}"
    rows = count(conn, relation, where) if table_exists(conn, "cleaned", contract.name) else 0
    metadata: dict = {"rows_checked": rows}
    samples, failing, over = [], 0, []
    for column in _references(contract):
        ref = column.references
        assert ref is not None
        target = table("cleaned", ref.dataset)
        known = (f"exists (select 1 from {target} t where t.{quote_ident(ref.column)} = "
                 f"c.{quote_ident(column.name)})") if table_exists(conn, "cleaned", ref.dataset) \
            else "false"
        orphans = (f"select _source_file, _row_number, cast({quote_ident(column.name)} as varchar) "
                   f"as value from {relation} c where {where} and "
                   f"{quote_ident(column.name)} is not null and not {known}")
        n = int(fetch_one(conn, f"select count(*) from ({orphans})")[0]) if rows else 0
        failing += n
        metadata[f"{column.name} -> {ref.dataset}.{ref.column}"] = n
        limit = contract.violation_limit(column, Rule.references)
        if rows and n / rows > limit:  # orphans are reported; only past the rate they fail
            over.append(f"{column.name}: {n / rows:.2%} > {limit:.2%}")
        if n:
            samples.append(conn.execute(f"{orphans} order by _row_number limit {SAMPLE_ROWS}")
                           .fetchdf().assign(column=column.name))
    metadata["failing_rows"] = failing
    metadata["failing_rate"] = round(failing / rows, 4) if rows else 0.0
    if samples:
        metadata["failure_sample"] = dg.MetadataValue.md(
            pd.concat(samples).head(SAMPLE_ROWS).astype(str).to_markdown(index=False))
    severity = (dg.AssetCheckSeverity.ERROR if _references_are_errors(contract)
                else dg.AssetCheckSeverity.WARN)
    if over:
        metadata["over_max_violation_rate"] = "; ".join(over)
    return dg.AssetCheckResult(passed=not over, severity=severity, metadata=metadata)


def check_volume(conn: duckdb.DuckDBPyConnection, contract: Contract,
                 partition_key: str) -> dg.AssetCheckResult:
    """The file delivered a plausible number of rows (counted in raw: as delivered)."""
    volume = contract.volume
    assert volume is not None
    rows = ledger(conn, contract, partition_key)["raw"]
    passed = rows >= volume.min_rows and (volume.max_rows is None or rows <= volume.max_rows)
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR if volume.severity is Severity.error
        else dg.AssetCheckSeverity.WARN,
        metadata={"rows_in": rows, "min_rows": volume.min_rows,
                  "max_rows": volume.max_rows if volume.max_rows is not None else "none"})


def json_text(record: str, key: str) -> str:
    """SQL for the text of ``key`` in a JSON record column (any key, quotes escaped)."""
    return f"({record} ->> {literal('$.' + chr(34) + key.replace(chr(34), chr(92) + chr(34)) + chr(34))})"


def _totals(conn: duckdb.DuckDBPyConnection, contract: Contract, column: Column,
            where: str) -> dict[str, object]:
    """The file's total of ``column`` in raw (parsed as cleaning parses it) and in each place."""
    source = column.source_name
    totals: dict[str, object] = {}
    raw_cols = {r[0] for r in conn.execute(
        "select column_name from information_schema.columns "
        "where table_schema = 'raw' and table_name = ?", [contract.name]).fetchall()}
    raw_value = (typed_value(contract, column, quote_ident(source)) if source in raw_cols
                 else "null")
    totals["raw"] = fetch_one(conn, f"select sum({raw_value}) from {table('raw', contract.name)} "
                                    f"where {where}")[0]
    totals["cleaned"] = fetch_one(
        conn, f"select sum({quote_ident(column.name)}) from {table('cleaned', contract.name)} "
              f"where {where}")[0] if table_exists(conn, "cleaned", contract.name) else None
    for name, place in (("quarantined", quarantine_table(contract)),
                        ("duplicates", duplicates_table(contract))):
        value = typed_value(contract, column, json_text("original_record", source))
        totals[name] = fetch_one(conn, f"select sum({value}) from {table(*place)} "
                                       f"where {where}")[0] if table_exists(conn, *place) else None
    return totals


def _differs(a: object, b: object, column: Column) -> bool:
    if column.type is ColumnType.float:
        return not math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)  # type: ignore[arg-type]
    return a != b


def check_reconciliation(conn: duckdb.DuckDBPyConnection, contract: Contract,
                         partition_key: str) -> dg.AssetCheckResult:
    """Totals of the ``reconcile`` columns are conserved for the file.

    Row conservation proves no row was lost; this proves no *value* was altered on the way
    (a wrong scale, a bad join, a truncating cast). Raw text is parsed exactly as the
    cleaning SQL parses it; quarantined and duplicate rows are parsed from their original
    record. Values that do not parse count nowhere (they are quarantined as ``type``).
    """
    where = f"{PARTITION_COLUMN} = {literal(partition_key)}"
    metadata: dict = {}
    failing: list[str] = []
    for name in contract.reconcile:
        column = contract.column(name)
        totals = _totals(conn, contract, column, where)
        zero: Any = 0.0 if column.type is ColumnType.float else 0
        raw_total = totals["raw"] if totals["raw"] is not None else zero
        accounted: Any = sum((v for k, v in totals.items()  # type: ignore[misc]
                              if k != "raw" and v is not None), zero)
        for place, value in totals.items():
            metadata[f"{name}/{place}"] = str(value if value is not None else zero)
        metadata[f"{name}/difference"] = str(raw_total - accounted)  # type: ignore[operator]
        if _differs(raw_total, accounted, column):
            failing.append(name)
            metadata[f"{name}/altered_rows"] = dg.MetadataValue.md(
                _altered_rows(conn, contract, column, where))
    metadata["failing_columns"] = ", ".join(failing) or "none"
    return dg.AssetCheckResult(passed=not failing, severity=dg.AssetCheckSeverity.ERROR,
                               metadata=metadata)


def _altered_rows(conn: duckdb.DuckDBPyConnection, contract: Contract, column: Column,
                  where: str) -> str:
    """Cleaned rows whose value differs from what the raw text parses to (file, row)."""
    raw_value = typed_value(contract, column, f"r.{quote_ident(column.source_name)}")
    sample = conn.execute(
        f"select c._source_file, c._row_number, cast({raw_value} as varchar) as raw_value, "
        f"cast(c.{quote_ident(column.name)} as varchar) as cleaned_value "
        f"from {table('cleaned', contract.name)} c join {table('raw', contract.name)} r "
        f"using ({PARTITION_COLUMN}, _row_number) where c.{where} "
        f"and c.{quote_ident(column.name)} is distinct from {raw_value} "
        f"order by c._row_number limit {SAMPLE_ROWS}").fetchdf()
    return sample.astype(str).to_markdown(index=False) if not sample.empty else \
        "no single cleaned row differs from raw: rows are missing or doubled"


def check_columns_present(conn: duckdb.DuckDBPyConnection, contract: Contract,
                          partition_key: str) -> dg.AssetCheckResult:
    """Column-level conservation: every contract column came from a delivered column."""
    severity = (dg.AssetCheckSeverity.WARN if contract.missing_columns is MissingColumns.warn
                else dg.AssetCheckSeverity.ERROR)
    row = fetch_one(conn, f"select {DELIVERED_COLUMNS}, _source_file from "
                          f"{table('raw', contract.name)} where {PARTITION_COLUMN} = ? limit 1",
                    [partition_key]) if table_exists(conn, "raw", contract.name) else ()
    if not row or row[0] is None:
        return dg.AssetCheckResult(passed=True, severity=severity,
                                   metadata={"missing_columns": "none (the file has no rows)"})
    stored = list(json.loads(row[0]))
    missing = missing_columns(contract, stored)
    return dg.AssetCheckResult(
        passed=not missing, severity=severity,
        description=(f"{row[1]}: column(s) missing, null in every cleaned row: "
                     f"{describe_missing(contract, stored)}") if missing else None,
        metadata={"missing_columns": ", ".join(c.name for c in missing) or "none",
                  "file": str(row[1]), "delivered_columns": ", ".join(stored)})


@dataclass(frozen=True)
class FileCheck:
    """A check of one landed file's stored rows: the same evaluator serves the Dagster
    asset check and `dataops check`."""

    name: str
    blocking: Callable[[Contract], bool]
    describe: Callable[[Contract], str]
    evaluate: Callable[[duckdb.DuckDBPyConnection, Contract, str], dg.AssetCheckResult]
    applies: Callable[[Contract], bool] = lambda contract: True


FILE_CHECKS = (
    FileCheck(ROW_CONSERVATION, lambda c: True,
              lambda c: "Every raw row of the file is cleaned, quarantined or a recorded "
                        "duplicate: raw = cleaned + quarantined + duplicates.",
              check_row_conservation),
    FileCheck(CONTRACT_SCHEMA, lambda c: True,
              lambda c: f"Cleaned rows satisfy the pandera schema compiled from the '{c.name}' "
                        "contract (types, nulls, ranges, allowed values, patterns, lengths) "
                        "and the primary key is unique in the file.",
              check_contract_schema),
    FileCheck(COLUMNS_PRESENT, lambda c: False,
              lambda c: "Every contract column is delivered (matched by name; whitespace and "
                        "case are forgiven): a missing column would be null in every row "
                        f"({'error' if c.missing_columns is MissingColumns.fail else 'warn'}).",
              check_columns_present),
    FileCheck(QUARANTINE_RATE, lambda c: False,
              lambda c: f"At most {MAX_QUARANTINE_RATE:.0%} of a file's rows are quarantined "
                        "(a higher share usually means a changed source).",
              check_quarantine_rate),
    FileCheck(REFERENCES, _references_are_errors,
              lambda c: "Foreign keys of the file exist in the referenced datasets: " + ", ".join(
                  f"{col.name} -> {col.references.dataset}.{col.references.column}"
                  for col in _references(c) if col.references) + ".",
              check_references, applies=lambda c: bool(_references(c))),
    FileCheck(VOLUME, lambda c: c.volume is not None and c.volume.severity is Severity.error,
              lambda c: f"The file delivers between {c.volume.min_rows} and "
                        f"{c.volume.max_rows or 'any number of'} rows." if c.volume else "",
              check_volume, applies=lambda c: c.volume is not None),
    FileCheck(RECONCILIATION, lambda c: True,
              lambda c: "The file's totals of " + ", ".join(c.reconcile) + " are conserved: "
                        "raw (parsed as cleaning parses it) = cleaned + quarantined + duplicates.",
              check_reconciliation, applies=lambda c: bool(c.reconcile)),
    FileCheck(ANOMALIES, lambda c: c.anomaly.severity is Severity.error, describe_anomalies,
              check_anomalies),
)


def file_check_keys(contract: Contract) -> list[dg.AssetCheckKey]:
    """The keys of the per-file checks ``FILE_CHECKS`` gives this contract's cleaned asset."""
    asset = dg.AssetKey(["cleaned", contract.name])
    return [dg.AssetCheckKey(asset, spec.name) for spec in FILE_CHECKS if spec.applies(contract)]


def file_check_specs(contract: Contract, cleaned_key: dg.AssetKey,
                     partitions_def: dg.PartitionsDefinition
                     ) -> list[tuple[FileCheck, dg.AssetCheckSpec]]:
    """The per-file checks ``FILE_CHECKS`` gives this contract, as check specs of the
    file's own step (``processing``): each keeps its own name, result and blocking flag in
    the UI, but a file pays one step, not one per check."""
    # Partitioned checks are "preview" in 1.13; they are exactly the per-file check we
    # need, so that one warning is silenced here (and only here).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*partitions_def on an AssetCheckSpec.*",
                                category=dg.PreviewWarning)
        return [(spec, dg.AssetCheckSpec(spec.name, asset=cleaned_key,
                                         blocking=spec.blocking(contract),
                                         partitions_def=partitions_def,
                                         description=spec.describe(contract)))
                for spec in FILE_CHECKS if spec.applies(contract)]


SCHEMA_CHANGE = "column_schema_change"


def schema_change_spec(asset_key: dg.AssetKey,
                       partitions_def: dg.PartitionsDefinition) -> dg.AssetCheckSpec:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*partitions_def on an AssetCheckSpec.*",
                                category=dg.PreviewWarning)
        return dg.AssetCheckSpec(
            SCHEMA_CHANGE, asset=asset_key, blocking=False, partitions_def=partitions_def,
            description="The file's columns (names and types) are those of the file before it: "
                        "a delivery with new, missing or retyped columns (raw) or a contract "
                        "change (cleaned) shows up as a warning.")


def schema_change(previous: dg.TableSchema | None,
                  latest: dg.TableSchema | None) -> tuple[bool, str]:
    """(passed, description) comparing two files' column schemas, worded like Dagster's
    own ``build_column_schema_change_checks`` (which compares the asset's last two
    materializations; here each file is compared with the one before it)."""
    if previous is None:
        return True, "No earlier file to compare with"
    if latest is None:
        return False, "This file's materialization has no column schema metadata"
    old = {c.name: c.type for c in previous.columns}
    new = {c.name: c.type for c in latest.columns}
    added = [name for name in new if name not in old]
    removed = [name for name in old if name not in new]
    retyped = [f"- {name}: {old[name]} -> {new[name]}" for name in new
               if name in old and old[name] != new[name]]
    if not (added or removed or retyped):
        return True, "No changes to column schema between the previous file and this one"
    description = "Column schema changed between the previous file and this one."
    if added:
        description += f"\n\nAdded columns: {', '.join(added)}"
    if removed:
        description += f"\n\nRemoved columns: {', '.join(removed)}"
    if retyped:
        description += "\n\nColumn type changes:\n" + "\n".join(retyped)
    return False, description
