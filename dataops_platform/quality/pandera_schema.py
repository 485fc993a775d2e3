"""Compile a contract into a pandera schema that validates what the cleaning produced.

The cleaning SQL and this schema are two independent compilations of the same contract:
if a cleaned table ever holds a row the contract forbids, the pandera check says so. Warn
rules become pandera checks with ``raise_warning=True`` (counted, never failing). pandera
also runs on PySpark and Ibis, which is how this scales past one machine later.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from dataops_platform.contracts.model import Column, ColumnType, Contract, Rule, Severity

_DTYPES = {
    ColumnType.string: "string",
    ColumnType.integer: "Int64",
    ColumnType.float: "float64",
    ColumnType.decimal: "float64",
    ColumnType.boolean: "boolean",
}
# Dates and timestamps span DuckDB's whole range (years 1 to 9999), past what pandas'
# nanosecond datetime64[ns] holds (1677-2262) and what pandera coerces to: they are
# parsed to microsecond datetimes (DuckDB's own resolution) and checked to be temporal.
_TEMPORAL = (ColumnType.date, ColumnType.timestamp)


def _to_microseconds(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    return series.astype("datetime64[us]")


def _temporal(column: Column) -> pa.Check:
    return pa.Check(lambda s: pd.api.types.is_datetime64_any_dtype(s),
                    name=f"{column.name}:{column.type.value}", element_wise=False)


def _bound(column: Column, value: float | str) -> object:
    if column.type in (ColumnType.date, ColumnType.timestamp):
        return pd.Timestamp(str(value))
    return value


def column_checks(column: Column) -> list[pa.Check]:
    def warn(rule: Rule) -> dict:
        return {"raise_warning": column.severity_of(rule) is Severity.warn,
                "name": f"{column.name}:{rule.value}"}

    checks: list[pa.Check] = []
    if column.allowed_values is not None:
        checks.append(pa.Check.isin(column.allowed_values, **warn(Rule.allowed_values)))
    if column.min is not None:
        checks.append(pa.Check.ge(_bound(column, column.min), **warn(Rule.min)))
    if column.max is not None:
        checks.append(pa.Check.le(_bound(column, column.max), **warn(Rule.max)))
    if column.pattern is not None:
        checks.append(pa.Check.str_contains(column.pattern, **warn(Rule.pattern)))
    if column.min_length is not None:
        checks.append(pa.Check.str_length(min_value=column.min_length, **warn(Rule.min_length)))
    if column.max_length is not None:
        checks.append(pa.Check.str_length(max_value=column.max_length, **warn(Rule.max_length)))
    return checks


def compile_schema(contract: Contract, with_unique: bool = True) -> pa.DataFrameSchema:
    """The contract as a pandera schema; ``with_unique=False`` leaves the primary-key check
    to the caller (batched validation cannot see repeats across batches)."""
    columns = {
        c.name: pa.Column(
            _DTYPES.get(c.type),
            checks=[_temporal(c)] * (c.type in _TEMPORAL) + column_checks(c),
            parsers=[pa.Parser(_to_microseconds)] if c.type in _TEMPORAL else None,
            nullable=c.nullable or c.severity_of(Rule.not_null) is Severity.warn,
            coerce=True,
            required=True,
            description=c.description or None,
        )
        for c in contract.columns
    }
    return pa.DataFrameSchema(
        columns,
        name=contract.name,
        unique=(contract.primary_key or None) if with_unique else None,
        strict=False,  # lineage columns (_source_file, _row_number, ...) ride along
        coerce=True,
    )
