"""Compile a contract into the DuckDB SQL that cleans one landed file.

One pass over the raw slice computes, per row: the standardized text, the typed value and
the list of rule violations. Three tables are then split off it, so every input row lands
in exactly one of them:

- cleaned    rows with no error-severity violation, first occurrence of each primary key
- quarantine rows with an error-severity violation (first failing rule, all violations,
             the original record as JSON)
- duplicates later occurrences of a primary key inside the file (with the row they repeat)

Warn-severity violations keep the row and are listed in its ``_warnings`` column.
"""

from __future__ import annotations

from dataclasses import dataclass

from dataops_platform.contracts.model import (
    Column,
    ColumnType,
    Contract,
    Rule,
    Severity,
    Standardization,
)
from dataops_platform.storage.sql import literal, quote_ident

LINEAGE = ["_partition", "_source_file", "_content_hash", "_row_number", "_ingested_at", "_run_id"]
_WS = literal(" \t\r\n\u00a0")


@dataclass(frozen=True)
class Violation:
    column: str
    rule: Rule
    severity: Severity
    condition: str  # SQL, true when the row violates the rule


def _standardized(column: Column, raw: str, null_markers: list[str]) -> str:
    """Text after the declared standardizations; null markers become NULL."""
    text = raw
    steps = column.standardize
    if Standardization.trim in steps:
        text = f"trim({text}, {_WS})"
    if Standardization.collapse_whitespace in steps:
        text = f"regexp_replace({text}, '\\s+', ' ', 'g')"
    if null_markers:
        marker_check = f"trim({text}, {_WS}) in ({', '.join(literal(m) for m in null_markers)})"
    else:
        marker_check = "false"
    if Standardization.lower in steps:
        text = f"lower({text})"
    elif Standardization.upper in steps:
        text = f"upper({text})"
    elif Standardization.title in steps:
        text = (f"list_aggr(list_transform(string_split(lower({text}), ' '), "
                f"lambda w: upper(w[1]) || w[2:]), 'string_agg', ' ')")
    return f"(case when {raw} is null or {marker_check} then null else {text} end)"


def sql_type(column: Column) -> str:
    return {
        ColumnType.string: "varchar",
        ColumnType.integer: "bigint",
        ColumnType.float: "double",
        ColumnType.decimal: f"decimal({column.precision},{column.scale})",
        ColumnType.boolean: "boolean",
        ColumnType.date: "date",
        ColumnType.timestamp: "timestamp",
    }[column.type]


def _typed(column: Column, std: str) -> str:
    if column.type is ColumnType.string:
        return std
    if column.type is ColumnType.boolean:
        true_values = ", ".join(literal(v.lower()) for v in column.true_values)
        false_values = ", ".join(literal(v.lower()) for v in column.false_values)
        return (f"(case when lower({std}) in ({true_values}) then true "
                f"when lower({std}) in ({false_values}) then false end)")
    if column.type in (ColumnType.date, ColumnType.timestamp) and column.formats:
        formats = "[" + ", ".join(literal(f) for f in column.formats) + "]"
        return f"cast(try_strptime({std}, {formats}) as {sql_type(column)})"
    if column.type in (ColumnType.integer, ColumnType.decimal):
        # DuckDB rounds '2.7' to an integer 3 and '1.23456' to decimal(.., 2) 1.23: a value
        # that does not fit its type exactly is a `type` violation, never silently changed
        cast = f"try_cast({std} as {sql_type(column)})"
        exact = f"try_cast({std} as double) = cast({cast} as double)"
        return f"(case when {exact} then {cast} end)"
    if column.type is ColumnType.float and not column.allow_non_finite:
        # 'NaN', 'inf' and 1e400 (which overflows to inf) are no numbers a total can use:
        # a `type` violation, unless the contract says allow_non_finite
        cast = f"try_cast({std} as {sql_type(column)})"
        return f"(case when isfinite({cast}) then {cast} end)"
    return f"try_cast({std} as {sql_type(column)})"


def typed_value(contract: Contract, column: Column, raw: str) -> str:
    """SQL giving ``column``'s typed value from its delivered text ``raw`` (as cleaning does)."""
    return _typed(column, _standardized(column, raw, contract.source.null_markers))


def _bound(column: Column, value: float | str) -> str:
    if column.type in (ColumnType.date, ColumnType.timestamp):
        return f"cast({literal(str(value))} as {sql_type(column)})"
    return literal(value)


def violations(column: Column, present: bool, std: str, typed: str) -> list[Violation]:
    """Every rule of ``column`` as a SQL condition, in the order they are reported."""
    out: list[Violation] = []

    def add(rule: Rule, condition: str) -> None:
        out.append(Violation(column.name, rule, column.severity_of(rule), condition))

    if not present:
        if not column.nullable:
            add(Rule.column_missing, "true")
        return out
    if not column.nullable:
        add(Rule.not_null, f"{std} is null")
    if column.type is not ColumnType.string:
        add(Rule.type, f"{std} is not null and {typed} is null")
    if column.allowed_values is not None:
        allowed = ", ".join(literal(v) for v in column.allowed_values)
        add(Rule.allowed_values, f"{typed} not in ({allowed})")
    if column.min is not None:
        add(Rule.min, f"{typed} < {_bound(column, column.min)}")
    if column.max is not None:
        add(Rule.max, f"{typed} > {_bound(column, column.max)}")
    if column.pattern is not None:
        add(Rule.pattern, f"not regexp_matches({typed}, {literal(column.pattern)})")
    if column.min_length is not None:
        add(Rule.min_length, f"length({typed}) < {column.min_length}")
    if column.max_length is not None:
        add(Rule.max_length, f"length({typed}) > {column.max_length}")
    return out


@dataclass(frozen=True)
class CleaningPlan:
    """The SQL for one file: ``evaluate`` builds the per-row table the splits read."""

    evaluate: str
    cleaned: str
    quarantine: str
    duplicates: str
    rules: list[Violation]
    missing_columns: list[str]
    unexpected_columns: list[str]


def plan_cleaning(contract: Contract, raw_select: str, delivered: list[str],
                  evaluated_table: str, flagged_table: str) -> CleaningPlan:
    """Compile the contract against the columns this file actually delivered.
    ``flagged_table`` is a scratch table the evaluation drops again."""
    delivered_set = set(delivered)
    selects: list[str] = []
    rules: list[Violation] = []
    for column in contract.columns:
        present = column.source_name in delivered_set
        raw = quote_ident(column.source_name) if present else "cast(null as varchar)"
        std = _standardized(column, raw, contract.source.null_markers)
        typed = _typed(column, std)
        selects.append(f"{typed} as {quote_ident(column.name)}")
        rules.extend(violations(column, present, std, typed))

    structs = [
        f"case when coalesce({v.condition}, false) then struct_pack(col := {literal(v.column)}, "
        f"rule := {literal(v.rule.value)}, severity := {literal(v.severity.value)}, "
        f"value := {_delivered_value(contract, v.column, delivered_set)}) end"
        for v in rules
    ]
    # no rules: an empty list typed as the violations are (an untyped [] cannot bind v.rule)
    violation_list = (f"list_filter([{', '.join(structs)}], lambda v: v is not null)"
                      if structs else "cast([] as struct(col varchar, rule varchar, "
                      "severity varchar, value varchar)[])")
    # The original record is rebuilt only for quarantined and duplicate rows (a join back
    # to the raw slice): building it for every row doubled the memory of a large file.
    original = ", ".join(f"{literal(c)}, raw_rows.{quote_ident(c)}" for c in delivered)
    original_json = f"json_object({original})" if delivered else "'{}'::json"
    with_original = (f"from {evaluated_table} as e join ({raw_select}) as raw_rows "
                     "using (_row_number)")
    key_cols = ", ".join(quote_ident(k) for k in contract.primary_key)
    first_of_key = (f"row_number() over (partition by {key_cols}, _has_error "
                    f"order by _row_number)" if contract.primary_key else "1")
    kept_row = (f"first_value(_row_number) over (partition by {key_cols}, _has_error "
                f"order by _row_number)" if contract.primary_key else "_row_number")
    lineage = ", ".join(LINEAGE)

    flagged = f"""
        with typed as (
            select {lineage}, {', '.join(selects)},
                   {violation_list} as _violations
            from ({raw_select}) as raw_rows
        ), flagged as (
            select *, list_bool_or(list_transform(_violations,
                        lambda v: v.severity = 'error')) is true as _has_error
            from typed
        )"""
    if contract.primary_key:
        # The key windows see only the key, the error flag and the row number, then join
        # back: a window over every column of a 5M-row file could not spill and failed at
        # the 1 GB memory limit (DuckDB 1.4: "failed to pin block").
        base = flagged_table
        evaluate = f"""
            create or replace table {base} as {flagged} select * from flagged;
            create or replace table {evaluated_table} as
            select f.*, k._occurrence, k._kept_row
            from {base} as f join (
                select _row_number, {first_of_key} as _occurrence, {kept_row} as _kept_row
                from (select _row_number, _has_error, {key_cols} from {base})
            ) as k using (_row_number);
            drop table {base};
        """
    else:
        evaluate = f"""
            create or replace table {evaluated_table} as {flagged}
            select *, {first_of_key} as _occurrence, {kept_row} as _kept_row from flagged
        """
    columns = ", ".join(quote_ident(c.name) for c in contract.columns)
    warnings = ("list_transform(list_filter(_violations, lambda v: v.severity = 'warn'), "
                "lambda v: v.col || ':' || v.rule)")
    cleaned = f"""
        select {columns}, {lineage},
               case when len({warnings}) > 0 then {warnings} end as _warnings
        from {evaluated_table} where not _has_error and _occurrence = 1
    """
    first_error = "list_filter(_violations, lambda v: v.severity = 'error')[1]"
    lineage_e = ", ".join(f"e.{c}" for c in LINEAGE)
    quarantine = f"""
        select {literal(contract.name)} as dataset, {lineage_e},
               {first_error}.col as "column", {first_error}.rule as rule,
               {first_error}.value as value,
               to_json(list_filter(_violations, lambda v: v.severity = 'error')) as violations,
               {original_json} as original_record
        {with_original} where _has_error order by e._row_number
    """
    duplicates = f"""
        select {literal(contract.name)} as dataset, {lineage_e},
               _kept_row as duplicate_of_row,
               {literal(', '.join(contract.primary_key))} as key_columns,
               {original_json} as original_record
        {with_original} where not _has_error and _occurrence > 1 order by e._row_number
    """
    source_names = {c.source_name for c in contract.columns}
    return CleaningPlan(
        evaluate=evaluate, cleaned=cleaned, quarantine=quarantine, duplicates=duplicates,
        rules=rules,
        missing_columns=[c.source_name for c in contract.columns
                         if c.source_name not in delivered_set],
        unexpected_columns=[c for c in delivered if c not in source_names],
    )


def _delivered_value(contract: Contract, column_name: str, delivered: set[str]) -> str:
    source = contract.column(column_name).source_name
    return quote_ident(source) if source in delivered else "cast(null as varchar)"
