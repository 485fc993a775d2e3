"""Write modes: how each cleaned file is applied to the dataset's ``current.<dataset>`` table.

``cleaned`` always holds every file's rows (one partition per file — the ledger's truth);
``current`` is what consumers want to query, maintained per file by the contract's mode:

- ``append``     every file's rows; re-running a file replaces its own rows
- ``replace``    the newest file's rows (a full snapshot); an older file re-run changes nothing
- ``partition``  a file replaces the rows that share its ``partition_by`` values
- ``merge``      one row per key, the newest version by ``order_by`` (then arrival, row)
- ``history``    SCD type 2: one row per *change* of a key, with valid_from / valid_to /
                 is_current; unchanged re-deliveries add nothing

``merge`` and ``history`` recompute only the keys the file touches, from all cleaned rows
of those keys: so re-running a file gives the same table (idempotent), a file delivered
out of order lands in its place in the timeline, and a replaced file version is undone.
Every mode's statements run in one transaction and insert rows sorted by the sort key.
"""

from __future__ import annotations

from dataclasses import dataclass

from dataops_platform.contracts.model import Contract, WriteMode
from dataops_platform.storage.sql import literal, quote_ident, table

LINEAGE_ORDER = ["_ingested_at", "_partition", "_row_number"]
HISTORY_COLUMNS = {"valid_from": "timestamp", "valid_to": "timestamp", "is_current": "boolean"}
KEYS = "_write_keys"


@dataclass(frozen=True)
class WritePlan:
    statements: list[str]
    target: str


def sort_columns(contract: Contract) -> list[str]:
    write = contract.write
    assert write is not None
    return write.sort_by or contract.write_key or write.partition_by or ["_source_file"]


def _cols(names: list[str], prefix: str = "") -> str:
    return ", ".join(f"{prefix}{quote_ident(n)}" for n in names)


def _match(names: list[str], left: str, right: str) -> str:
    return " and ".join(f"{left}.{quote_ident(n)} is not distinct from {right}.{quote_ident(n)}"
                        for n in names)


def plan_write(contract: Contract, partition_key: str, file_versions: str) -> WritePlan:
    """The SQL applying one cleaned file (``partition_key``) to ``current.<dataset>``.

    ``file_versions`` is a predicate matching every stored version of this file (a changed
    file replaces its earlier versions).
    """
    write = contract.write
    assert write is not None
    target = table("current", contract.name)
    cleaned = table("cleaned", contract.name)
    source = f"(select * from {cleaned} where _partition = {literal(partition_key)})"
    order = ", ".join([*(quote_ident(c) for c in sort_columns(contract)), *LINEAGE_ORDER])
    mode = write.mode
    if mode is WriteMode.append:
        return WritePlan([f"delete from {target} where {file_versions}",
                          f"insert into {target} by name select * from {source} order by {order}"],
                         target)
    if mode is WriteMode.partition:
        parts = write.partition_by
        return WritePlan([
            f"delete from {target} where {file_versions} or ({_cols(parts)}) in "
            f"(select distinct {_cols(parts)} from {source})",
            f"insert into {target} by name select * from {source} order by {order}"], target)
    if mode is WriteMode.replace:
        newest = (f"(select _partition from {cleaned} order by _ingested_at desc, _partition desc "
                  "limit 1)")
        return WritePlan([
            f"delete from {target}",
            f"insert into {target} by name select * from {cleaned} where _partition = {newest} "
            f"order by {order}"], target)
    key = contract.write_key
    touched = [  # keys in this file, and keys whose rows came from an earlier version of it
        f"create or replace temp table {KEYS} as select distinct {_cols(key)} from {source} "
        f"union select distinct {_cols(key)} from {target} where {file_versions}",
        f"delete from {target} using {KEYS} k where {_match(key, target, 'k')}",
    ]
    rows_of_keys = f"select c.* from {cleaned} c semi join {KEYS} k on {_match(key, 'c', 'k')}"
    newer_first = ", ".join([f"{quote_ident(write.order_by)} desc nulls last",
                             *(f"{c} desc" for c in LINEAGE_ORDER)])
    if mode is WriteMode.merge:
        return WritePlan([*touched, (
            f"insert into {target} by name select * from ({rows_of_keys}) "
            f"qualify row_number() over (partition by {_cols(key)} order by {newer_first}) = 1 "
            f"order by {order}"), f"drop table {KEYS}"], target)
    # history (SCD type 2): collapse consecutive identical states of a key into one version
    # the version-ordering column itself (an updated_at) is not a change of state
    tracked = [c.name for c in contract.columns if c.name != write.order_by]
    timeline = ", ".join(["valid_from", *LINEAGE_ORDER])
    by_key = f"partition by {_cols(key)} order by {timeline}"
    versions = f"""
        with observed as (
            select *, cast({quote_ident(write.order_by)} as timestamp) as valid_from,
                   hash({_cols(tracked)}) as _state
            from ({rows_of_keys})
        ), changes as (
            select * from observed
            qualify lag(_state) over ({by_key}) is distinct from _state
        )
        select * exclude (_state), lead(valid_from) over ({by_key}) as valid_to,
               lead(valid_from) over ({by_key}) is null as is_current
        from changes
    """
    return WritePlan([*touched, f"insert into {target} by name {versions} order by {order}, valid_from",
                      f"drop table {KEYS}"], target)


def target_shape(contract: Contract) -> str:
    """The columns of ``current.<dataset>``: cleaned's, plus the validity columns for history."""
    write = contract.write
    assert write is not None
    extra = (", " + ", ".join(f"cast(null as {t}) as {c}" for c, t in HISTORY_COLUMNS.items())
             if write.mode is WriteMode.history else "")
    return f"(select *{extra} from {table('cleaned', contract.name)} limit 0)"
