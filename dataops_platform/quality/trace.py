"""`dataops trace`: where did this come from, where did it go.

Every stored row carries its lineage (``_partition``, ``_source_file``, ``_row_number``,
``_run_id``), so a file can be followed into every table, and a row back to the file and
line it was delivered in. Files are traced from the warehouse and the Dagster instance
(runs and check results); rows are matched by their *cleaned* value in every layer — raw
text and quarantined records are parsed exactly as the cleaning SQL parses them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from dataops_platform.collect.landing import file_hash, scan
from dataops_platform.collect.raw_asset import PARTITION_COLUMN
from dataops_platform.contracts.model import Contract
from dataops_platform.quality.check_history import evaluation_of, latest_records
from dataops_platform.quality.checks import file_check_keys, json_text, ledger
from dataops_platform.storage.sql import literal, quote_ident, table, table_exists
from dataops_platform.transform.cleaned_asset import duplicates_table, quarantine_table
from dataops_platform.transform.cleaning import typed_value

LINEAGE = ["_source_file", "_row_number", PARTITION_COLUMN, "_run_id"]
MAX_ROWS = 50


class TraceError(Exception):
    """Nothing matches what was asked; the message says what exists instead."""


@dataclass
class CheckRecord:
    check: str
    status: str  # SUCCEEDED / FAILED / ...
    passed: bool | None
    severity: str
    run_id: str


@dataclass
class FileTrace:
    dataset: str
    partition: str
    source_file: str
    content_hash: str
    ingested_at: str
    ledger: dict[str, int]
    errors: dict[str, int]      # "column:rule" -> rows quarantined for it
    warnings: dict[str, int]    # "column:rule" -> cleaned rows kept with the warning
    run_ids: dict[str, list[str]]
    checks: list[CheckRecord] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        c = self.ledger
        return c["raw"] == c["cleaned"] + c["quarantined"] + c["duplicates"]


def _file_rows(conn: duckdb.DuckDBPyConnection, contract: Contract, target: str) -> list[tuple]:
    if not table_exists(conn, "raw", contract.name):
        return []
    return conn.execute(
        f"select distinct {PARTITION_COLUMN}, _source_file, _content_hash, "
        f"cast(max(_ingested_at) over (partition by {PARTITION_COLUMN}) as varchar) "
        f"from {table('raw', contract.name)} "
        f"where {PARTITION_COLUMN} = ? or _source_file = ? or _source_file like ? "
        f"order by 1", [target, target, f"%/{target}"]).fetchall()


def _grouped(conn: duckdb.DuckDBPyConnection, sql: str, key: str) -> dict[str, int]:
    return {str(name): int(n) for name, n in conn.execute(sql, [key]).fetchall()}


def trace_file(conn: duckdb.DuckDBPyConnection, contracts: list[Contract],
               instance: dg.DagsterInstance | None, target: str) -> list[FileTrace]:
    """Every stored version of the file named ``target`` (name, landing path or partition key)."""
    traces = []
    for contract in contracts:
        for key, source, content_hash, ingested in _file_rows(conn, contract, target):
            q, cleaned = quarantine_table(contract), ("cleaned", contract.name)
            errors = _grouped(conn, f'select "column" || \':\' || rule, count(*) from {table(*q)} '
                                    f"where {PARTITION_COLUMN} = ? group by 1 order by 2 desc, 1",
                              key) if table_exists(conn, *q) else {}
            warnings = _grouped(conn, f"select w, count(*) from (select unnest(_warnings) as w "
                                      f"from {table(*cleaned)} where {PARTITION_COLUMN} = ?) "
                                      "group by 1 order by 2 desc, 1",
                                key) if table_exists(conn, *cleaned) else {}
            runs = {layer: [r[0] for r in conn.execute(
                f"select distinct _run_id from {table(layer, contract.name)} "
                f"where {PARTITION_COLUMN} = ? order by 1", [key]).fetchall()]
                for layer in ("raw", "cleaned") if table_exists(conn, layer, contract.name)}
            # cleaned rows carry the lineage of raw (its _run_id): the run that built the
            # file's cleaned rows is the one that recorded their materialization
            cleaned_run = _materialized_by(instance, dg.AssetKey(["cleaned", contract.name]), key)
            if cleaned_run is not None and "cleaned" in runs:
                runs["cleaned"] = [cleaned_run]
            traces.append(FileTrace(contract.name, key, source, content_hash, ingested,
                                    ledger(conn, contract, key), errors, warnings, runs,
                                    _checks(instance, contract, key)))
    return traces


def _materialized_by(instance: dg.DagsterInstance | None, asset: dg.AssetKey,
                     partition: str) -> str | None:
    """The run id of the latest materialization of ``asset``'s ``partition`` (None if none)."""
    if instance is None:
        return None
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[partition]), limit=1).records
    return records[0].run_id if records else None


def landing_relative(landing_dir: Path, target: str) -> str:
    """A landing path (absolute, or relative to the working folder) as the landing-relative
    path stored in ``_source_file``; a name or partition key is returned unchanged."""
    if "/" not in target and os.sep not in target:
        return target
    try:
        return Path(target).expanduser().absolute().relative_to(
            landing_dir.absolute()).as_posix()
    except ValueError:
        try:  # through symlinked folders (/tmp -> /private/tmp)
            return Path(target).expanduser().resolve().relative_to(
                landing_dir.resolve()).as_posix()
        except (ValueError, OSError):
            return target


def skipped_delivery(conn: duckdb.DuckDBPyConnection, contracts: list[Contract],
                     landing_dir: Path, target: str) -> str | None:
    """For a landed file that was never stored because its content is that of a stored file
    (an identical re-delivery): 'skipped: same content as <file> (partition <key>)'."""
    for contract in contracts:
        if not table_exists(conn, "raw", contract.name):
            continue
        for landed in scan(landing_dir, contract):
            rel = landed.relative_path
            if target not in (rel, landed.key_name) and not rel.endswith(f"/{target}"):
                continue
            try:
                digest = file_hash(landing_dir / rel)
            except OSError:
                continue
            same = conn.execute(
                f"select _source_file, {PARTITION_COLUMN} from {table('raw', contract.name)} "
                "where _content_hash = ? and _source_file <> ? order by 2 limit 1",
                [digest, rel]).fetchall()
            if same:
                return (f"{rel} (dataset {contract.name}) was skipped: same content as "
                        f"{same[0][0]} (partition {same[0][1]}), which is traced with "
                        f"`dataops trace {same[0][1]}`")
    return None


def _checks(instance: dg.DagsterInstance | None, contract: Contract, key: str) -> list[CheckRecord]:
    """The latest recorded evaluation of each of the file's checks (from the instance)."""
    if instance is None:
        return []
    check_keys = file_check_keys(contract)
    latest = latest_records(instance, check_keys, key)
    records = []
    for check_key in check_keys:
        record = latest.get(check_key)
        if record is None:
            continue
        evaluation = evaluation_of(record)
        records.append(CheckRecord(
            check_key.name, record.status.value,
            evaluation.passed if evaluation else None,
            evaluation.severity.value if evaluation else "", record.run_id))
    return records


def known_files(conn: duckdb.DuckDBPyConnection, contracts: list[Contract]) -> list[str]:
    names = []
    for contract in contracts:
        if table_exists(conn, "raw", contract.name):
            names += [r[0] for r in conn.execute(
                f"select distinct _source_file from {table('raw', contract.name)} order by 1"
            ).fetchall()]
    return names


# --- rows -------------------------------------------------------------------------------

@dataclass
class RowHits:
    """Rows matching the condition in one table, with their lineage."""

    place: str
    rows: pd.DataFrame


def parse_conditions(pairs: tuple[str, ...]) -> dict[str, str]:
    conditions = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise TraceError(f"'{pair}' is not a condition like order_id=ORD-0000001.")
        conditions[name.strip()] = value
    return conditions


def _match(expressions: dict[str, str], conditions: dict[str, str],
           contract: Contract | None = None) -> str:
    """Each condition's value matches as written or as cleaning would store it (standardized
    and typed: ' ord-0000446 ' finds ORD-0000446)."""
    def wanted(name: str, value: str) -> str:
        if contract is None:
            return literal(value)
        cleaned = typed_value(contract, contract.column(name), literal(value))
        return f"{literal(value)}, cast({cleaned} as varchar)"

    return " and ".join(f"cast({expressions[name]} as varchar) in ({wanted(name, value)})"
                        for name, value in conditions.items())


def _hits(conn: duckdb.DuckDBPyConnection, place: str, relation: str, where: str,
          extra: list[str]) -> RowHits | None:
    columns = ", ".join([*LINEAGE, *extra])
    rows = conn.execute(f"select {columns} from {relation} where {where} "
                        f"order by _source_file, _row_number limit {MAX_ROWS}").fetchdf()
    return RowHits(place, rows) if not rows.empty else None


def _columns(conn: duckdb.DuckDBPyConnection, schema: str, name: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "select column_name from information_schema.columns where table_schema = ? "
        "and table_name = ? order by ordinal_position", [schema, name]).fetchall()]


def trace_rows(conn: duckdb.DuckDBPyConnection, contract: Contract,
               conditions: dict[str, str]) -> list[RowHits]:
    """The rows of ``contract``'s dataset matching ``conditions`` in every layer (and its
    current table), and in every curated table that carries lineage and those columns."""
    unknown = [n for n in conditions if n not in {c.name for c in contract.columns}]
    if unknown:
        raise TraceError(f"{unknown} not among the columns of '{contract.name}': "
                         + ", ".join(c.name for c in contract.columns))
    hits: list[RowHits | None] = []
    cols = [contract.column(n) for n in conditions]
    if table_exists(conn, "raw", contract.name):
        present = set(_columns(conn, "raw", contract.name))
        parsed = {c.name: typed_value(contract, c, quote_ident(c.source_name))
                  if c.source_name in present else "null" for c in cols}
        hits.append(_hits(conn, "raw", table("raw", contract.name), _match(parsed, conditions, contract), []))
    if table_exists(conn, "cleaned", contract.name):
        stored = {c.name: quote_ident(c.name) for c in cols}
        hits.append(_hits(conn, "cleaned", table("cleaned", contract.name),
                          _match(stored, conditions, contract), ["_warnings"]))
    from_record = {c.name: typed_value(contract, c, json_text("original_record", c.source_name))
                   for c in cols}
    for place, extra in ((quarantine_table(contract), ['"column"', "rule", "value"]),
                         (duplicates_table(contract), ["duplicate_of_row"])):
        if table_exists(conn, *place):
            hits.append(_hits(conn, ".".join(place), table(*place),
                              _match(from_record, conditions, contract), extra))
    published = conn.execute(
        "select table_schema, table_name from information_schema.tables where (table_schema = "
        "'current' and table_name = ?) or table_schema = 'curated' order by 1 desc, 2",
        [contract.name]).fetchall()
    for schema, name in published:
        columns = set(_columns(conn, schema, name))
        if set(LINEAGE) <= columns and set(conditions) <= columns:
            stored = {n: quote_ident(n) for n in conditions}
            extra = ["valid_from", "valid_to", "is_current"] if "is_current" in columns else []
            hits.append(_hits(conn, f"{schema}/{name}", table(schema, name),
                              _match(stored, conditions, contract), extra))
    return [h for h in hits if h is not None]
