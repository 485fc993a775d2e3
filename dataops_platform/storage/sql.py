"""Tiny helpers for composing DuckDB SQL safely from contract values."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import duckdb


def quote_ident(name: str) -> str:
    """Quote an identifier so delivered column names like ``E-Mail`` are usable."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: object) -> str:
    """Render a Python value as a SQL literal (strings single-quoted, None as NULL)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        # a bare ``nan`` / ``inf`` is read by DuckDB as a column name
        return f"'{value!r}'::DOUBLE" if value == value else "'nan'::DOUBLE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def table(schema: str, name: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(name)}"


def fetch_one(conn: duckdb.DuckDBPyConnection, sql: str,
              params: Sequence[object] | None = None) -> tuple:
    """The first row, with the result fully consumed.

    DuckDB 2 refuses new relations on a connection whose last result was only partly
    fetched, so a bare ``fetchone()`` would break the next ``conn.sql(...)``.
    """
    rows = conn.execute(sql, params or []).fetchall()
    return rows[0] if rows else ()


def table_exists(conn: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return bool(fetch_one(
        conn, "select count(*) from duckdb_tables() where database_name = current_database() "
              "and schema_name = ? and table_name = ?",
        [schema, name])[0])


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """All statements of the block or none: committed on success, rolled back on any exit
    by exception (a Dagster failure or an interrupt too), so no half-write is ever visible."""
    conn.execute("begin transaction")
    try:
        yield
    except BaseException:
        conn.execute("rollback")
        raise
    conn.execute("commit")
