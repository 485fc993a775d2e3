"""Tiny helpers for composing DuckDB SQL safely from contract values."""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """Quote an identifier so delivered column names like ``E-Mail`` are usable."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: object) -> str:
    """Render a Python value as a SQL literal (strings single-quoted, None as NULL)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def table(schema: str, name: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(name)}"
