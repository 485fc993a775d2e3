"""A declared mart (``MartSpec``: YAML + a SQL file or a Python function) compiled to a
write-audit-publish table: ``audit/<name>`` + its blocking audits + ``curated/<name>``.

Audits come from the declaration only, so a user's mart gets the same gate, versions and
rollback as every other published table without writing Python.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from dataops_platform.contracts.mart import MartSpec, SqlAssertion
from dataops_platform.storage.sql import fetch_one, literal, quote_ident
from dataops_platform.transform.wap import AuditCheck, PublishedTable, published_table, unique_key

FrameFn = Callable[[duckdb.DuckDBPyConnection], pd.DataFrame]
SAMPLE_ROWS = 5


def _not_null(columns: list[str]) -> AuditCheck:
    def evaluate(conn: duckdb.DuckDBPyConnection, relation: str) -> tuple[bool, dict]:
        counts = fetch_one(conn, "select " + ", ".join(
            f"count(*) - count({quote_ident(c)})" for c in columns) + f" from {relation}")
        nulls = {c: int(n) for c, n in zip(columns, counts, strict=True)}
        return not any(nulls.values()), {f"nulls_{c}": n for c, n in nulls.items()}

    return AuditCheck("not_null", f"no null in {', '.join(columns)}.", evaluate)


def _accepted_values(column: str, values: list) -> AuditCheck:
    allowed = ", ".join(literal(v) for v in values)

    def evaluate(conn: duckdb.DuckDBPyConnection, relation: str) -> tuple[bool, dict]:
        col = quote_ident(column)
        bad, sample = fetch_one(conn, f"""
            select count(*), list(distinct cast({col} as varchar))[1:{SAMPLE_ROWS}]
            from {relation} where {col} is not null and {col} not in ({allowed})""")
        return int(bad) == 0, {"column": column, "rows_not_accepted": int(bad),
                               "sample": ", ".join(sample or [])}

    return AuditCheck(f"accepted_values_{column}",
                      f"{column} is one of {', '.join(map(str, values))}.", evaluate)


def _row_count(low: int | None, high: int | None) -> AuditCheck:
    def evaluate(conn: duckdb.DuckDBPyConnection, relation: str) -> tuple[bool, dict]:
        rows = int(fetch_one(conn, f"select count(*) from {relation}")[0])
        passed = (low is None or rows >= low) and (high is None or rows <= high)
        return passed, {"rows": rows, "min": low, "max": high}

    bounds = " and ".join(s for s in (f"at least {low}" if low is not None else "",
                                      f"at most {high}" if high is not None else "") if s)
    return AuditCheck("row_count", f"{bounds} rows.", evaluate)


def _sql_assertion(assertion: SqlAssertion) -> AuditCheck:
    def evaluate(conn: duckdb.DuckDBPyConnection, relation: str) -> tuple[bool, dict]:
        query = assertion.query.replace("{table}", relation)
        try:
            violations = int(fetch_one(conn, f"select count(*) from ({query})")[0])
            sample = conn.execute(f"select * from ({query}) limit {SAMPLE_ROWS}").fetchdf()
        except duckdb.Error as exc:
            raise dg.Failure(f"audit '{assertion.name}': its query failed: "
                             f"{str(exc).splitlines()[0]}") from None
        metadata: dict = {"violating_rows": violations}
        if violations:
            metadata["sample"] = dg.MetadataValue.md(sample.astype(str).to_markdown(index=False))
        return violations == 0, metadata

    return AuditCheck(assertion.name, assertion.description
                      or "the custom query finds no violating row.", evaluate)


def audit_checks(spec: MartSpec) -> list[AuditCheck]:
    """Every audit the declaration asks for, in a stable order (names are check names)."""
    checks: list[AuditCheck] = []
    if spec.primary_key:
        checks.append(unique_key(*spec.primary_key))
    for columns in spec.checks.unique:
        check = unique_key(*columns)
        checks.append(AuditCheck(f"unique_{'_'.join(columns)}", check.description, check.evaluate))
    if spec.checks.not_null:
        checks.append(_not_null(spec.checks.not_null))
    checks += [_accepted_values(a.column, a.values) for a in spec.checks.accepted_values]
    if spec.checks.row_count is not None:
        checks.append(_row_count(spec.checks.row_count.min, spec.checks.row_count.max))
    checks += [_sql_assertion(a) for a in spec.checks.sql]
    return checks


def dependency_key(table: str) -> dg.AssetKey:
    """``cleaned.orders`` -> the asset ``cleaned/orders``; ``entity.customer`` -> ``entities/customer``."""
    schema, name = table.split(".", 1)
    return dg.AssetKey(["entities" if schema == "entity" else schema, name])


def as_query(sql: str) -> str:
    """A user's SQL file as one select: comments and a trailing ';' allowed."""
    body = sql.strip().rstrip(";").rstrip()
    return f"select * from (\n{body}\n)"


def build_mart(spec: MartSpec, *, sql: str | None = None, frame: FrameFn | None = None,
               declared_in: Path | None = None, code_version: str | None = None) -> PublishedTable:
    kinds = frozenset({"duckdb", "sql"} if sql is not None else {"duckdb", "python"})
    return published_table(
        spec.name, deps=[dependency_key(t) for t in spec.depends_on],
        description=spec.description, sql=as_query(sql) if sql is not None else None,
        frame=frame, checks=audit_checks(spec),
        write=spec.write, kinds=kinds, owners=[spec.owner] if spec.owner else [],
        tags=spec.tags, declared_in=declared_in, code_version=code_version)
