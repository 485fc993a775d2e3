"""The records to resolve: one row per source record, from every source's cleaned table.

A record delivered in several files (a customer in every nightly snapshot) is one record:
the version that wins by the source's ``order_by`` (then arrival, then row) — the
cross-file exact dedup on the record's id. Its identity is ``<dataset>:<id>``, so the same
id in two datasets is two records, which the matching then joins into one entity.
"""

from __future__ import annotations

import duckdb

from dataops_platform.resolve.spec import EntitySpec
from dataops_platform.storage.sql import literal, quote_ident, table, table_exists

FIXED = ["record_id", "source", "source_rank", "source_id", "ingested_at", "record_hash"]


def records_sql(conn: duckdb.DuckDBPyConnection, spec: EntitySpec) -> str | None:
    """A select of the current records of every source that has a cleaned table yet."""
    parts = []
    for rank, source in enumerate(spec.sources):
        if not table_exists(conn, "cleaned", source.dataset):
            continue
        fields = ", ".join(f"cast({quote_ident(source.column(f.name))} as varchar) "
                           f"as {quote_ident(f.name)}" for f in spec.fields)
        values = ", ".join(quote_ident(source.column(f.name)) for f in spec.fields)
        key = quote_ident(source.id)
        parts.append(f"""
            select {literal(source.dataset)} || ':' || cast({key} as varchar) as record_id,
                   {literal(source.dataset)} as source, {rank} as source_rank,
                   cast({key} as varchar) as source_id, {fields},
                   _ingested_at as ingested_at, hash({values}) as record_hash
            from {table("cleaned", source.dataset)}
            where {key} is not null
            qualify row_number() over (
                partition by {key}
                order by {quote_ident(source.order_by)} desc nulls last, _ingested_at desc,
                         _row_number desc) = 1""")
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
