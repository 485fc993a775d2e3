"""Write modes: how a batch of rows is applied to a table — one SQL planner for two users.

- ``current.<dataset>`` (``current_asset.py``): each cleaned file is a batch, applied per
  the contract's ``write:`` section;
- an incremental mart (``published_table(..., write=...)``, ``incremental.py``): the mart's
  select is the batch, applied to a copy of the published version to make the candidate.

The modes:

- ``append``     the batch's rows are added; re-applying the batch first removes what it
                 (or an earlier version of it) added
- ``replace``    the table becomes the batch (for ``current``: the newest file's rows, so an
                 older file re-run changes nothing)
- ``partition``  the batch replaces the rows that share its ``partition_by`` values
- ``merge``      one row per key, the newest version by ``order_by`` (then the tie-break)
- ``history``    SCD type 2: one row per *change* of a key, with valid_from / valid_to /
                 is_current; unchanged re-deliveries add nothing

``merge`` and ``history`` recompute only the keys the batch touches, from every observation
of those keys (``current``: all cleaned rows of them; a mart: the published rows plus the
batch): so re-applying a batch gives the same table (idempotent), a file delivered out of
order lands in its place in the timeline, and a replaced file version is undone. The caller
runs the statements in one transaction; rows are inserted sorted by the sort key.
"""

from __future__ import annotations

from dataclasses import dataclass

from dataops_platform.contracts.model import Contract, Write, WriteMode
from dataops_platform.storage.sql import literal, quote_ident, table

LINEAGE_ORDER = ["_ingested_at", "_partition", "_row_number"]
HISTORY_COLUMNS = {"valid_from": "timestamp", "valid_to": "timestamp", "is_current": "boolean"}
KEYS = "_write_keys"
OBSERVED = "_write_observed"


@dataclass(frozen=True)
class WritePlan:
    statements: list[str]
    target: str


@dataclass(frozen=True)
class Batch:
    """Where a write takes its rows from; relations are SQL (a name or ``(select ...)``).

    ``rows``: the incoming rows. ``replaced``: a predicate on the target's rows that an
    earlier application of this batch wrote (``false`` when batches have no identity).
    ``observed``: every observation of the keys in ``_write_keys`` (merge/history), read
    before the target's rows of those keys are deleted. ``tiebreak``: columns ordering
    observations with equal ``order_by`` (later = newer). ``helpers``: columns of
    ``observed`` that are not stored. ``tracked``: history — the columns whose change is a
    new version.
    """

    rows: str
    replaced: str
    observed: str
    tiebreak: list[str]
    helpers: list[str]
    tracked: list[str]


def sort_columns(contract: Contract) -> list[str]:
    write = contract.write
    assert write is not None
    return sort_key(write, contract.write_key) or ["_source_file"]


def sort_key(write: Write, key: list[str]) -> list[str]:
    """Rows are written sorted by ``sort_by``, else the key, else the partition columns."""
    return write.sort_by or key or write.partition_by


def _cols(names: list[str], prefix: str = "") -> str:
    return ", ".join(f"{prefix}{quote_ident(n)}" for n in names)


def _match(names: list[str], left: str, right: str) -> str:
    return " and ".join(f"{left}.{quote_ident(n)} is not distinct from {right}.{quote_ident(n)}"
                        for n in names)


def plan(write: Write, key: list[str], target: str, batch: Batch) -> list[str]:
    """The statements applying ``batch`` to ``target`` by ``write.mode``."""
    stored = [c for c in batch.tiebreak if c not in batch.helpers]
    by = [*(quote_ident(c) for c in sort_key(write, key)), *stored]
    order = f" order by {', '.join(by)}" if by else ""
    source = batch.rows
    mode = write.mode
    if mode is WriteMode.append:
        return [f"delete from {target} where {batch.replaced}",
                f"insert into {target} by name select * from {source}{order}"]
    if mode is WriteMode.partition:
        parts = write.partition_by
        return [f"delete from {target} where {batch.replaced} or ({_cols(parts)}) in "
                f"(select distinct {_cols(parts)} from {source})",
                f"insert into {target} by name select * from {source}{order}"]
    if mode is WriteMode.replace:
        return [f"delete from {target}",
                f"insert into {target} by name select * from {source}{order}"]
    touched = [  # keys in this batch, and keys whose rows came from an earlier version of it
        f"create or replace temp table {KEYS} as select distinct {_cols(key)} from {source} "
        f"union select distinct {_cols(key)} from {target} where {batch.replaced}",
        f"create or replace temp table {OBSERVED} as {batch.observed}",
        f"delete from {target} using {KEYS} k where {_match(key, target, 'k')}",
    ]
    done = [f"drop table {KEYS}", f"drop table {OBSERVED}"]
    newer_first = ", ".join([f"{quote_ident(write.order_by)} desc nulls last",
                             *(f"{c} desc" for c in batch.tiebreak)])
    hidden = f" exclude ({_cols(batch.helpers)})" if batch.helpers else ""
    if mode is WriteMode.merge:
        return [*touched, (
            f"insert into {target} by name select *{hidden} from {OBSERVED} "
            f"qualify row_number() over (partition by {_cols(key)} order by {newer_first}) = 1 "
            f"{order}"), *done]
    # history (SCD type 2): collapse consecutive identical states of a key into one version
    # the version-ordering column itself (an updated_at) is not a change of state
    timeline = ", ".join(["valid_from", *batch.tiebreak])
    by_key = f"partition by {_cols(key)} order by {timeline}"
    versions = f"""
        with observed as (
            select *, cast({quote_ident(write.order_by)} as timestamp) as valid_from,
                   hash({_cols(batch.tracked)}) as _state
            from {OBSERVED}
        ), changes as (
            select * from observed
            qualify lag(_state) over ({by_key}) is distinct from _state
        )
        select * exclude (_state{''.join(', ' + quote_ident(h) for h in batch.helpers)}),
               lead(valid_from) over ({by_key}) as valid_to,
               lead(valid_from) over ({by_key}) is null as is_current
        from changes
    """
    return [*touched, f"insert into {target} by name {versions} order by {', '.join([*by, 'valid_from'])}",
            *done]


def plan_write(contract: Contract, partition_key: str, file_versions: str) -> WritePlan:
    """The SQL applying one cleaned file (``partition_key``) to ``current.<dataset>``.

    ``file_versions`` is a predicate matching every stored version of this file (a changed
    file replaces its earlier versions).
    """
    write = contract.write
    assert write is not None
    target = table("current", contract.name)
    cleaned = table("cleaned", contract.name)
    rows = f"(select * from {cleaned} where _partition = {literal(partition_key)})"
    if write.mode is WriteMode.replace:  # the newest file, whichever file this run is for
        rows = (f"(select * from {cleaned} where _partition = (select _partition from {cleaned} "
                "order by _ingested_at desc, _partition desc limit 1))")
    key = contract.write_key
    batch = Batch(
        rows=rows, replaced=file_versions,
        observed=f"select c.* from {cleaned} c semi join {KEYS} k on {_match(key, 'c', 'k')}"
        if key else "",
        tiebreak=LINEAGE_ORDER, helpers=[],
        tracked=[c.name for c in contract.columns if c.name != write.order_by])
    ordered = write.model_copy(update={"sort_by": sort_columns(contract)})
    return WritePlan(plan(ordered, key, target, batch), target)


def target_shape(contract: Contract) -> str:
    """The columns of ``current.<dataset>``: cleaned's, plus the validity columns for history."""
    write = contract.write
    assert write is not None
    return history_shape(table("cleaned", contract.name), write)


def history_shape(relation: str, write: Write) -> str:
    """Zero rows shaped like ``relation``, plus the validity columns in history mode."""
    extra = (", " + ", ".join(f"cast(null as {t}) as {c}" for c, t in HISTORY_COLUMNS.items())
             if write.mode is WriteMode.history else "")
    return f"(select *{extra} from {relation} limit 0)"
