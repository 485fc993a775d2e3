"""Metadata every materialization carries, built from warehouse tables (never whole frames)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb

from dataops_platform.storage.sql import fetch_one, quote_ident

PREVIEW_ROWS = 5
TABLE_NAME = "dagster/table_name"


def table_name(schema: str, name: str) -> dict[str, str]:
    """The table users query (``cleaned.orders``), shown in the catalog and the graph."""
    return {TABLE_NAME: f"{schema}.{name}"}


def code_reference(declared_in: Path | None) -> dict[str, dg.CodeReferencesMetadataValue]:
    """Link the asset to the YAML (or SQL) file that declares it, so the UI opens the
    contract rather than platform code."""
    if declared_in is None:
        return {}
    return {"dagster/code_references": dg.CodeReferencesMetadataValue(
        code_references=[dg.LocalFileCodeReference(file_path=str(declared_in))])}


def preview(conn: duckdb.DuckDBPyConnection, relation: str, columns: str = "*",
            rows: int = PREVIEW_ROWS) -> dg.MetadataValue:
    """A few rows as a Markdown table: enough to eyeball a load in the UI."""
    frame = conn.execute(f"select {columns} from {relation} limit {rows}").fetchdf()
    if frame.empty:
        return dg.MetadataValue.md("_no rows_")
    return dg.MetadataValue.md(frame.astype(str).to_markdown(index=False))


def column_schema(conn: duckdb.DuckDBPyConnection, relation: str,
                  descriptions: dict[str, str] | None = None) -> dg.TableSchema:
    """The stored columns and types, for ``dagster/column_schema`` and schema-change checks."""
    rows = conn.execute(f"describe select * from {relation}").fetchall()
    descriptions = descriptions or {}
    return dg.TableSchema(columns=[
        dg.TableColumn(name=name, type=str(dtype).lower(), description=descriptions.get(name))
        for name, dtype, *_ in rows
    ])


def count(conn: duckdb.DuckDBPyConnection, relation: str, where: str = "true") -> int:
    return int(fetch_one(conn, f"select count(*) from {relation} where {where}")[0])


def staging_name(*parts: str) -> str:
    """A staging table name unique per asset and partition (re-runs overwrite it)."""
    safe = "__".join(p.replace('"', "") for p in parts)
    return f"staging.{quote_ident(safe)}"
