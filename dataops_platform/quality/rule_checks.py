"""One named check per contract column: what each of its row rules caught in a file.

The quarantine already keeps bad rows out of ``cleaned`` (and ``contract_schema`` proves
the stored rows obey every rule, blocking); these checks make the *dirt* visible as named
results — ``rules_amount`` failed: ``min`` 8 rows (1.2 %), with file and row numbers —
the way a Glue Data Quality ruleset reports per rule. They are ``warn`` and not blocking:
the rows they count are already quarantined (error rules) or kept and flagged (warn rules),
so nothing downstream is at risk. Caught dirt is reported, not failed: a check passes with
its counts in the metadata while the column's share of caught rows stays within the
contract's ``max_violation_rate`` (default 5 %, per column overridable), and fails past it —
a change in the source, not the dirt expected of it. All columns are evaluated in the file's
own step (``processing``), so a wide contract does not add a step per column.
"""

import warnings

import dagster as dg
import duckdb
import pandas as pd

from dataops_platform.collect.raw_asset import PARTITION_COLUMN
from dataops_platform.contracts.model import Column, Contract, Rule
from dataops_platform.storage.metadata import count
from dataops_platform.storage.sql import literal, quote_ident, table, table_exists
from dataops_platform.transform.cleaned_asset import quarantine_table
from dataops_platform.transform.cleaning import violations

PREFIX = "rules_"
SAMPLE_ROWS = 5


def check_name(column: Column) -> str:
    return f"{PREFIX}{column.name}"


def is_rule_check(name: str) -> bool:
    return name.startswith(PREFIX)


def declared_rules(column: Column) -> list[Rule]:
    """The row rules the contract declares on ``column`` (references has its own check)."""
    rules = [v.rule for v in violations(column, True, "x", "y")]
    return ([Rule.column_missing] if not column.nullable else []) + rules


def ruled_columns(contract: Contract) -> list[Column]:
    return [c for c in contract.columns if declared_rules(c)]


def _error_counts(conn: duckdb.DuckDBPyConnection, contract: Contract,
                  where: str) -> dict[tuple[str, str], int]:
    """(column, rule) -> quarantined rows violating it (every violation, not only the first)."""
    place = quarantine_table(contract)
    if not table_exists(conn, *place):
        return {}
    return {(c, r): int(n) for c, r, n in conn.execute(
        f"select v ->> 'col', v ->> 'rule', count(*) from (select unnest(from_json(violations, "
        f"'[\"json\"]')) as v from {table(*place)} where {where}) group by 1, 2").fetchall()}


def _warn_counts(conn: duckdb.DuckDBPyConnection, contract: Contract,
                 where: str) -> dict[tuple[str, str], int]:
    if not table_exists(conn, "cleaned", contract.name):
        return {}
    out: dict[tuple[str, str], int] = {}
    for name, n in conn.execute(
            f"select w, count(*) from (select unnest(_warnings) as w from "
            f"{table('cleaned', contract.name)} where {where}) group by 1").fetchall():
        column, _, rule = str(name).partition(":")
        out[(column, rule)] = int(n)
    return out


def _sample(conn: duckdb.DuckDBPyConnection, contract: Contract, column: Column,
            where: str) -> pd.DataFrame:
    """A few failing rows of ``column`` with file, row number, rule and value."""
    frames = []
    place = quarantine_table(contract)
    if table_exists(conn, *place):
        frames.append(conn.execute(
            f"select _source_file, _row_number, v ->> 'rule' as rule, v ->> 'value' as value, "
            f"'quarantined' as action from (select _source_file, _row_number, unnest(from_json("
            f"violations, '[\"json\"]')) as v from {table(*place)} where {where}) "
            f"where v ->> 'col' = {literal(column.name)} order by _row_number "
            f"limit {SAMPLE_ROWS}").fetchdf())
    if table_exists(conn, "cleaned", contract.name):
        frames.append(conn.execute(
            f"select _source_file, _row_number, split_part(w, ':', 2) as rule, "
            f"cast({quote_ident(column.name)} as varchar) as value, 'kept (warn)' as action "
            f"from (select *, unnest(_warnings) as w from {table('cleaned', contract.name)} "
            f"where {where}) where split_part(w, ':', 1) = {literal(column.name)} "
            f"order by _row_number limit {SAMPLE_ROWS}").fetchdf())
    frames = [f for f in frames if not f.empty]
    with warnings.catch_warnings():  # concat of frames with all-NA columns (pandas FutureWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return pd.concat(frames).head(SAMPLE_ROWS) if frames else pd.DataFrame()


def evaluate_rules(conn: duckdb.DuckDBPyConnection, contract: Contract,
                   partition_key: str) -> dict[str, dg.AssetCheckResult]:
    """check name -> result, for every ruled column of the contract, for one file."""
    where = f"{PARTITION_COLUMN} = {literal(partition_key)}"
    rows_in = count(conn, table("raw", contract.name), where) \
        if table_exists(conn, "raw", contract.name) else 0
    errors, warns = _error_counts(conn, contract, where), _warn_counts(conn, contract, where)
    results = {}
    for column in ruled_columns(contract):
        metadata: dict = {"rows_in": rows_in}
        failing = 0
        for rule in declared_rules(column):
            n = errors.get((column.name, rule.value), 0) + warns.get((column.name, rule.value), 0)
            failing += n
            metadata[f"{rule.value} ({column.severity_of(rule).value})"] = n
        rate = failing / rows_in if rows_in else 0.0
        limit = contract.violation_limit(column)
        metadata["violations"] = failing
        metadata["violation_rate"] = round(rate, 4)
        metadata["max_violation_rate"] = limit
        if failing:
            sample = _sample(conn, contract, column, where)
            metadata["failure_sample"] = dg.MetadataValue.md(
                sample.astype(str).to_markdown(index=False))
        results[check_name(column)] = dg.AssetCheckResult(
            asset_key=dg.AssetKey(["cleaned", contract.name]), check_name=check_name(column),
            passed=rate <= limit, severity=dg.AssetCheckSeverity.WARN, metadata=metadata)
    return results


def _describe(contract: Contract, column: Column) -> str:
    rules = ", ".join(f"{r.value} ({column.severity_of(r).value})" for r in declared_rules(column))
    return (f"Rows of the file violating a rule on '{column.name}': {rules}. Error rules "
            "quarantine the row, warn rules keep it flagged; counts, rate and a sample with "
            "file and row number are in the metadata. Fails only when more than "
            f"{contract.violation_limit(column):.1%} of the file's rows are caught.")


def rule_check_specs(contract: Contract, cleaned_key: dg.AssetKey,
                     partitions_def: dg.PartitionsDefinition) -> list[dg.AssetCheckSpec]:
    """One warn-level check per ruled column, evaluated per file by ``processing``."""
    with warnings.catch_warnings():  # partitioned checks are "preview" in 1.13 (see checks.py)
        warnings.filterwarnings("ignore", message=".*partitions_def on an AssetCheckSpec.*",
                                category=dg.PreviewWarning)
        return [dg.AssetCheckSpec(check_name(c), asset=cleaned_key, blocking=False,
                                  partitions_def=partitions_def, description=_describe(contract, c))
                for c in ruled_columns(contract)]
