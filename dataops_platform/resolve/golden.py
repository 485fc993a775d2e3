"""The golden record: one row per entity, each field taken from the record the
survivorship rule picks — and which record that was, so every value can be traced.

- ``most_recent``: the non-empty value ingested last (ties: the higher-priority source)
- ``most_complete``: the longest non-empty value (ties: the most recent)
- ``source_priority``: the first source in the contract's ``sources`` order that has one
"""

from __future__ import annotations

from dataops_platform.resolve import state
from dataops_platform.resolve.spec import EntitySpec, FieldSpec, Survivor
from dataops_platform.storage.sql import quote_ident

_RECENT = "epoch_us(r.ingested_at)"


def _order_key(rule: Survivor, column: str) -> tuple[str, str]:
    """(aggregate, ordering key) picking the surviving value of ``column``."""
    if rule is Survivor.most_complete:
        return "arg_max", f"[length({column}), {_RECENT}, -r.source_rank]"
    if rule is Survivor.source_priority:
        return "arg_min", f"[r.source_rank, -{_RECENT}]"
    return "arg_max", f"[{_RECENT}, -r.source_rank]"


def _survivor(spec: EntitySpec, field: FieldSpec) -> str:
    column = f"r.{quote_ident(field.name)}"
    aggregate, key = _order_key(field.survivorship or spec.survivorship, column)
    present = f"filter (where nullif(trim({column}), '') is not null)"
    return (f"{aggregate}({column}, {key}) {present} as {quote_ident(field.name)}, "
            f"{aggregate}(r.record_id, {key}) {present} as {quote_ident(field.name + '_from')}")


def golden_sql(spec: EntitySpec) -> str:
    """A select of the golden records (for ``published_table``)."""
    fields = ",\n           ".join(_survivor(spec, f) for f in spec.fields)
    return f"""
    select m.entity_id, count(*) as records,
           list(distinct r.source order by r.source) as sources,
           list(r.record_id order by r.record_id) as record_ids,
           {fields},
           max(r.ingested_at) as last_seen_at
    from {state.members(spec)} m join {state.part(spec, 'records')} r using (record_id)
    group by m.entity_id
    order by m.entity_id
    """
