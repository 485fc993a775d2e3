"""The records to resolve: one row per source record, from every source's cleaned table.

A record delivered in several files (a customer in every nightly snapshot) is one record:
the version that wins by the source's ``order_by`` (then arrival, then row) — the
cross-file exact dedup on the record's id. Its identity is ``<dataset>:<id>``, so the same
id in two datasets is two records, which the matching then joins into one entity.
"""

from __future__ import annotations

import duckdb

from dataops_platform.resolve.spec import EntitySpec, SourceSpec
from dataops_platform.storage.sql import literal, quote_ident, table, table_exists

FIXED = ["record_id", "source", "source_rank", "source_id", "ingested_at", "record_hash"]


def _raw_columns(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, source: SourceSpec) -> dict[str, str]:
    """Entity field -> the raw table's column, for fields matched on raw text where the cleaned
    value is NULL (``raw``): the source's ``raw_columns``, else the column of the cleaned name
    (ignoring case and surrounding blanks). Fields without one use the cleaned value only."""
    wanted = [f.name for f in spec.fields if f.use_raw]
    if not wanted or not table_exists(conn, "raw", source.dataset):
        return {}
    columns = [r[0] for r in conn.execute(
        "select column_name from information_schema.columns where table_schema = 'raw' "
        "and table_name = ?", [source.dataset]).fetchall()]
    by_name = {c.strip().lower(): c for c in columns}
    found: dict[str, str] = {}
    for field in wanted:
        column = source.raw_columns.get(field) or by_name.get(source.column(field).lower())
        if column is not None and column in columns:
            found[field] = column
    return found


def records_sql(conn: duckdb.DuckDBPyConnection, spec: EntitySpec) -> str | None:
    """A select of the current records of every source that has a cleaned table yet."""
    parts = []
    for rank, source in enumerate(spec.sources):
        if not table_exists(conn, "cleaned", source.dataset):
            continue
        raw = _raw_columns(conn, spec, source)

        def value(field: str, source: SourceSpec = source, raw: dict[str, str] = raw) -> str:
            cleaned = f"cast(c.{quote_ident(source.column(field))} as varchar)"
            if field in raw:
                return f"coalesce({cleaned}, nullif(trim(r.{quote_ident(raw[field])}), ''))"
            return cleaned

        fields = ", ".join(f"{value(f.name)} as {quote_ident(f.name)}" for f in spec.fields)
        values = ", ".join(value(f.name) for f in spec.fields)
        key = f"c.{quote_ident(source.id)}"
        join = (f"left join {table('raw', source.dataset)} r "
                "on r._partition = c._partition and r._row_number = c._row_number" if raw else "")
        parts.append(f"""
            select {literal(source.dataset)} || ':' || cast({key} as varchar) as record_id,
                   {literal(source.dataset)} as source, {rank} as source_rank,
                   cast({key} as varchar) as source_id, {fields},
                   c._ingested_at as ingested_at, hash({values}) as record_hash
            from {table("cleaned", source.dataset)} c {join}
            where {key} is not null
            qualify row_number() over (
                partition by {key}
                order by c.{quote_ident(source.order_by)} desc nulls last, c._ingested_at desc,
                         c._row_number desc) = 1""")
    return " union all ".join(parts) if parts else None


def superseded_versions(conn: duckdb.DuckDBPyConnection, spec: EntitySpec) -> dict[str, int]:
    """Per source: record versions that lost to a later one (delivered again in a later file)."""
    counts = {}
    for source in spec.sources:
        if table_exists(conn, "cleaned", source.dataset):
            key = quote_ident(source.id)
            counts[source.dataset] = int(conn.execute(
                f"select count(*) - count(distinct {key}) from {table('cleaned', source.dataset)} "
                f"where {key} is not null").fetchall()[0][0])
    return counts
