"""Per-file metrics, their history in the warehouse, and the ``anomalies`` check.

Each evaluation computes the file's metrics from what was stored — ``rows_in`` (raw rows),
``quarantine_rate``, and per contract column ``<column>.null_rate``,
``<column>.distinct_count`` and, for numeric columns, ``<column>.mean`` — and records them
in ``quality.metric_history``, replacing that file's earlier rows in one transaction (a
re-check records nothing twice). Every metric is recorded; the contract's
``anomaly.metrics`` only chooses which are compared.

A file's history is the same dataset's metrics of the ``window`` files ingested most
recently *before* it (by raw ``_ingested_at``, ties broken by partition key) that are still
in raw, so re-running the check later (the CI gate) gives the same verdict. An earlier file
whose metrics were never recorded (its check did not run) is measured on the way, provided
its ledger balances (its cleaned rows are stored). An empty file has no ``_ingested_at``;
it is compared with the most recent files.
"""

import math
from collections.abc import Sequence
from datetime import UTC, datetime

import dagster as dg
import duckdb
import pandas as pd

from dataops_platform.collect.raw_asset import PARTITION_COLUMN
from dataops_platform.contracts.model import (
    ANOMALY_COLUMN_METRICS,
    NUMERIC_TYPES,
    Column,
    Contract,
    Severity,
)
from dataops_platform.quality.anomaly import MAD_TO_SIGMA, Verdict, detect, rate_noise
from dataops_platform.storage.backends import retry_conflicts
from dataops_platform.storage.sql import fetch_one, literal, quote_ident, table, table_exists
from dataops_platform.transform.cleaned_asset import quarantine_table

ANOMALIES = "anomalies"
HISTORY_SCHEMA, HISTORY_NAME = "quality", "metric_history"
HISTORY = table(HISTORY_SCHEMA, HISTORY_NAME)
HISTORY_COLUMNS = ("dataset", "partition", "metric", "value", "ingested_at", "recorded_at",
                   "ingest_run_id")


def ensure_history_table(conn: duckdb.DuckDBPyConnection) -> None:
    if table_exists(conn, HISTORY_SCHEMA, HISTORY_NAME):  # no DDL commit to conflict on
        return
    retry_conflicts(conn, lambda: _create_history_table(conn))


def _create_history_table(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(f"create schema if not exists {quote_ident(HISTORY_SCHEMA)}")
    conn.execute(f"""create table if not exists {HISTORY} (
        dataset varchar not null, "partition" varchar not null, metric varchar not null,
        value double, ingested_at timestamp, recorded_at timestamp not null,
        ingest_run_id varchar)""")


def _has_mean(contract: Contract, column: Column) -> bool:
    """Numeric columns, except primary-key columns: the mean of an id says nothing."""
    return column.type in NUMERIC_TYPES and column.name not in contract.primary_key


def metric_names(contract: Contract) -> list[str]:
    """Every metric recorded for a file of this dataset, in a stable order."""
    names = ["rows_in", "quarantine_rate"]
    for column in contract.columns:
        names += [f"{column.name}.null_rate", f"{column.name}.distinct_count"]
        if _has_mean(contract, column):
            names.append(f"{column.name}.mean")
    return names


def compared_metrics(contract: Contract) -> list[str]:
    """The metrics the check compares: all, or those the contract's ``anomaly.metrics`` names."""
    chosen = contract.anomaly.metrics
    if chosen is None:
        return metric_names(contract)
    return [name for name in metric_names(contract)
            if name in chosen or any(k in ANOMALY_COLUMN_METRICS and name.endswith(f".{k}")
                                     for k in chosen)]


def _where(partition_key: str) -> str:
    return f"{PARTITION_COLUMN} = {literal(partition_key)}"


def file_metrics(conn: duckdb.DuckDBPyConnection, contract: Contract,
                 partition_key: str) -> dict[str, float | None]:
    """The file's metrics from the stored tables (None where undefined, e.g. no rows)."""
    return _measure(conn, contract, partition_key)[0]


def _measure(conn: duckdb.DuckDBPyConnection, contract: Contract,
             partition_key: str) -> tuple[dict[str, float | None], dict[str, int]]:
    """The file's metrics, and the rows each rate was measured over (its sampling noise)."""
    where = _where(partition_key)
    rows_in = int(fetch_one(conn, f"select count(*) from {table('raw', contract.name)} "
                                  f"where {where}")[0]) if table_exists(conn, "raw", contract.name) else 0
    quarantined = int(fetch_one(conn, f"select count(*) from {table(*quarantine_table(contract))} "
                                      f"where {where}")[0]) \
        if table_exists(conn, *quarantine_table(contract)) else 0
    values: dict[str, float | None] = {
        "rows_in": float(rows_in), "quarantine_rate": quarantined / rows_in if rows_in else None}
    rows_of = {"quarantine_rate": rows_in}
    stored = {r[0] for r in conn.execute(
        "select column_name from duckdb_columns() where schema_name = 'cleaned' and table_name = ?",
        [contract.name]).fetchall()}
    columns = [c for c in contract.columns if c.name in stored]
    aggregates = ["count(*)"]
    for column in columns:
        name = quote_ident(column.name)
        aggregates += [f"count({name})", f"count(distinct {name})"]
        if _has_mean(contract, column):
            aggregates.append(f"avg(cast({name} as double))")
    row = fetch_one(conn, f"select {', '.join(aggregates)} from {table('cleaned', contract.name)} "
                          f"where {where}") if columns else (0,)
    cleaned, position = int(row[0]), 1
    for column in columns:
        present, distinct = row[position], row[position + 1]
        position += 2
        values[f"{column.name}.null_rate"] = (cleaned - present) / cleaned if cleaned else None
        rows_of[f"{column.name}.null_rate"] = cleaned
        values[f"{column.name}.distinct_count"] = float(distinct)
        if _has_mean(contract, column):
            mean = row[position]
            position += 1
            values[f"{column.name}.mean"] = float(mean) if mean is not None else None
    return values, rows_of


def _file_identity(conn: duckdb.DuckDBPyConnection, contract: Contract,
                   partition_key: str) -> tuple[datetime | None, str | None]:
    """When the file was ingested and by which run (from raw's lineage columns)."""
    if not table_exists(conn, "raw", contract.name):
        return None, None
    row = fetch_one(conn, f"select max(_ingested_at), any_value(_run_id) from "
                          f"{table('raw', contract.name)} where {_where(partition_key)}")
    return (row[0], row[1]) if row else (None, None)


def record_metrics(conn: duckdb.DuckDBPyConnection, contract: Contract, partition_key: str,
                   values: dict[str, float | None]) -> None:
    """Replace the file's rows in the history with ``values`` (one transaction)."""
    ensure_history_table(conn)
    ingested_at, run_id = _file_identity(conn, contract, partition_key)
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [(contract.name, partition_key, metric, value, ingested_at, now, run_id)
            for metric, value in values.items()]


    def replace() -> None:
        conn.execute(f'delete from {HISTORY} where dataset = ? and "partition" = ?',
                     [contract.name, partition_key])
        if rows:
            conn.executemany(f"insert into {HISTORY} ({', '.join(quote_ident(c) for c in HISTORY_COLUMNS)}) "
                             f"values ({', '.join('?' * len(HISTORY_COLUMNS))})", rows)

    # every file run writes this shared table: on DuckLake writers take turns and a lost
    # commit is re-run (retry_conflicts)
    retry_conflicts(conn, replace, lock=[f"{HISTORY_SCHEMA}.{HISTORY_NAME}"])


def earlier_files(conn: duckdb.DuckDBPyConnection, contract: Contract, partition_key: str,
                  window: int) -> list[str]:
    """The ``window`` files still in raw ingested most recently before this one (newest first)."""
    if not table_exists(conn, "raw", contract.name):
        return []
    ingested_at, _ = _file_identity(conn, contract, partition_key)
    before = "true" if ingested_at is None else (
        f"(ingested_at < {literal(ingested_at.isoformat())}::timestamp or "
        f"(ingested_at = {literal(ingested_at.isoformat())}::timestamp and p < {literal(partition_key)}))")
    return [r[0] for r in conn.execute(
        f"select p from (select {PARTITION_COLUMN} as p, max(_ingested_at) as ingested_at "
        f"from {table('raw', contract.name)} group by all) where p <> {literal(partition_key)} "
        f"and {before} order by ingested_at desc, p desc limit {int(window)}").fetchall()]


def _balanced(conn: duckdb.DuckDBPyConnection, contract: Contract, partition_key: str) -> bool:
    # imported here: checks.py imports this module for its FILE_CHECKS entry
    from dataops_platform.quality.checks import ledger

    counts = ledger(conn, contract, partition_key)
    return counts["raw"] == counts["cleaned"] + counts["quarantined"] + counts["duplicates"]


def history(conn: duckdb.DuckDBPyConnection, contract: Contract,
            files: Sequence[str]) -> dict[str, list[float | None]]:
    """Each metric's recorded values over ``files``; unrecorded files are measured first."""
    if not files:
        return {}
    ensure_history_table(conn)
    keys = ", ".join(literal(f) for f in files)
    recorded = {r[0] for r in conn.execute(
        f'select distinct "partition" from {HISTORY} where dataset = ? and "partition" in ({keys})',
        [contract.name]).fetchall()}
    for key in files:
        if key not in recorded and _balanced(conn, contract, key):
            record_metrics(conn, contract, key, file_metrics(conn, contract, key))
    values: dict[str, list[float | None]] = {}
    for metric, value in conn.execute(
            f'select metric, value from {HISTORY} where dataset = ? and "partition" in ({keys}) '
            f'order by "partition"', [contract.name]).fetchall():
        values.setdefault(metric, []).append(value)
    return values


def _table(flagged: list[tuple[str, float | None, Verdict]]) -> str:
    def fmt(x: float | None) -> str:
        return "" if x is None else f"{x:.6g}"

    return pd.DataFrame([{
        "metric": metric, "value": fmt(value), "median": fmt(v.median),
        "robust deviations": f"{v.score:.1f}", "expected": f"{fmt(v.lower)} .. {fmt(v.upper)}",
        "history": v.history_size} for metric, value, v in flagged]).to_markdown(index=False)


def check_anomalies(conn: duckdb.DuckDBPyConnection, contract: Contract,
                    partition_key: str) -> dg.AssetCheckResult:
    """Record the file's metrics and flag those far outside the earlier files' values."""
    config = contract.anomaly
    values, rows_of = _measure(conn, contract, partition_key)
    record_metrics(conn, contract, partition_key, values)
    files = earlier_files(conn, contract, partition_key, config.window)
    past = history(conn, contract, files)
    verdicts = [(metric, values.get(metric), detect(
        past.get(metric, []), values.get(metric), config.threshold, config.min_history, metric,
        min_scale=rate_noise(past.get(metric, []), rows_of[metric]) if metric in rows_of else 0.0))
        for metric in compared_metrics(contract)]
    compared = [(m, value, v) for m, value, v in verdicts if not math.isnan(v.median)]
    flagged = sorted(((m, value, v) for m, value, v in verdicts if v.anomalous),
                     key=lambda item: -item[2].score)
    metadata: dict = {
        "metrics_compared": len(compared), "anomalous_metrics": len(flagged),
        "history_files": len(files), "window": config.window, "threshold": config.threshold,
        "min_history": config.min_history,
        "max_score": round(max((v.score for _, _, v in compared), default=0.0), 2)}
    if flagged:
        metadata["anomalies"] = dg.MetadataValue.md(_table(flagged))
        description = "; ".join(v.reason for _, _, v in flagged)
    elif not compared:
        description = (f"nothing compared: {len(files)} earlier file(s) in the window, at least "
                       f"{config.min_history} needed")
    else:
        description = (f"{len(compared)} metric(s) within {config.threshold} robust deviations "
                       f"of the last {len(files)} file(s)")
    return dg.AssetCheckResult(
        passed=not flagged, description=description, metadata=metadata,
        severity=dg.AssetCheckSeverity.ERROR if config.severity is Severity.error
        else dg.AssetCheckSeverity.WARN)


def describe(contract: Contract) -> str:
    config = contract.anomaly
    chosen = "" if config.metrics is None else f" (compared: {', '.join(config.metrics)})"
    return (f"The file's metrics — rows in, quarantine rate, and per column null rate, distinct "
            f"count and numeric mean{chosen} — lie within {config.threshold} robust deviations of "
            f"their median over the last {config.window} files ingested before it: robust z = "
            f"|value - median| / ({MAD_TO_SIGMA} x MAD), the spread widened for small histories "
            f"and never below a rate's sampling noise; compared once {config.min_history} earlier "
            f"files exist. Metrics are kept in {HISTORY_SCHEMA}.{HISTORY_NAME}.")
