"""Incremental marts: the candidate is the published version with the mart's rows applied.

``published_table(..., write=Write(mode=...))`` makes a mart's select a *batch* instead of
the whole table: candidate version N+1 = published version N (a copy; N itself is never
touched) with the batch applied by the mode — the same SQL planner as ``current.<dataset>``
(``write_modes.py``) — then written sorted by the sort key through the usual
write-audit-publish (audited, swapped atomically, rolled back instantly). For marts:

- ``append``: the batch's rows are added, except rows the table already holds identically
  (so re-running the same inputs adds nothing);
- ``replace``: the table becomes the batch (a full recomputation, sorted);
- ``partition``: the batch replaces the rows sharing its ``partition_by`` values, rows of
  other partitions are kept (e.g. days whose source files retention has pruned);
- ``merge``: one row per ``key``, the newer by ``order_by`` (on a tie, the batch);
- ``history``: SCD type 2 over the batches: a key's new version when its state (every
  column but ``order_by`` and ``_``-prefixed ones) changes, ``valid_from`` = ``order_by``.

A key absent from a batch keeps its rows (merge/history never delete). Re-running with the
same inputs gives the same table. A failed audit leaves the published version as the base
of the next candidate.
"""

from __future__ import annotations

import duckdb

from dataops_platform.contracts.model import Write, WriteMode
from dataops_platform.storage import publish
from dataops_platform.storage.sql import quote_ident
from dataops_platform.transform.write_modes import (
    HISTORY_COLUMNS,
    KEYS,
    Batch,
    history_shape,
    plan,
    sort_key,
)

BATCH = "_dataops_batch"
WORK = "_dataops_work"
TIEBREAK = ["_batch", "_seq"]  # published rows (0) before the batch (1); closed versions first


def validate(name: str, write: Write) -> None:
    """What a mode needs, checked when the mart is defined (columns are checked per run)."""
    if write.mode in (WriteMode.merge, WriteMode.history) and not write.key:
        raise ValueError(f"published_table('{name}'): write mode {write.mode.value} needs key=[...].")
    if write.mode is WriteMode.partition and not write.partition_by:
        raise ValueError(f"published_table('{name}'): write mode partition needs partition_by=[...].")


def _columns(conn: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    return {r[0]: r[1] for r in conn.execute(f"describe {relation}").fetchall()}


def _match_all(names: list[str], left: str, right: str) -> str:
    return " and ".join(f"{left}.{quote_ident(n)} is not distinct from {right}.{quote_ident(n)}"
                        for n in names)


def _batch(write: Write, columns: list[str]) -> Batch:
    key = write.key
    history = write.mode is WriteMode.history
    replaced = (f"exists (select 1 from {BATCH} b where {_match_all(columns, WORK, 'b')})"
                if write.mode is WriteMode.append else "false")
    stored = f"w.* exclude ({', '.join(HISTORY_COLUMNS)})" if history else "w.*"
    seq = "(w.valid_to is null)::int" if history else "0"
    match_keys = " and ".join(f"w.{quote_ident(k)} is not distinct from k.{quote_ident(k)}"
                              for k in key)
    observed = (f"select {stored}, 0 as _batch, {seq} as _seq from {WORK} w semi join {KEYS} k "
                f"on {match_keys} union all by name select *, 1 as _batch, 0 as _seq from {BATCH}"
                if key else "")
    tracked = [c for c in columns if c != write.order_by and not c.startswith("_")]
    return Batch(rows=BATCH, replaced=replaced, observed=observed, tiebreak=TIEBREAK,
                 helpers=TIEBREAK, tracked=tracked)


def write_candidate(conn: duckdb.DuckDBPyConnection, schema: str, name: str, write: Write,
                    source: str, run_id: str | None = None
                    ) -> tuple[publish.Version, publish.Version | None]:
    """Apply ``source`` (a select or a registered relation) to the published version and
    store the result as the next candidate; returns (candidate, the version it built on)."""
    base = publish.published(conn, schema, name)
    conn.execute(f"create or replace temp table {BATCH} as {publish.as_select(source)}")
    try:
        columns = _columns(conn, BATCH)
        needed = [*write.key, *write.sort_by, *write.partition_by,
                  *([write.order_by] if write.mode in (WriteMode.merge, WriteMode.history) else [])]
        missing = sorted({c for c in needed if c not in columns})
        if missing:
            raise ValueError(f"{schema}.{name}: write mode {write.mode.value} names column(s) "
                             f"{', '.join(missing)} that the mart's select does not return "
                             f"(it returns {', '.join(columns)}).")
        if base is None:  # the first version: the batch applied to an empty table
            conn.execute(f"create or replace temp table {WORK} as {history_shape(BATCH, write)}")
        else:
            conn.execute(f"create or replace temp table {WORK} as select * from {base.stored_as}")
            have = _columns(conn, WORK)
            for column, dtype in columns.items():  # the mart's select gained a column
                if column not in have:
                    conn.execute(f"alter table {WORK} add column {quote_ident(column)} {dtype}")
        for statement in plan(write, write.key, WORK, _batch(write, list(columns))):
            conn.execute(statement)
        order = [quote_ident(c) for c in sort_key(write, write.key)]
        if write.mode is WriteMode.history:
            order.append("valid_from")
        sorted_rows = f"select * from {WORK}" + (f" order by {', '.join(order)}" if order else "")
        version = publish.write_candidate(conn, schema, name, sorted_rows, run_id)
    finally:
        conn.execute(f"drop table if exists {BATCH}")
        conn.execute(f"drop table if exists {WORK}")
    return version, base
