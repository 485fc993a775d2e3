"""The entity tables in the warehouse (schema ``entity``), one set per entity contract.

- ``entity.<name>``            record -> entity ID: every source record in exactly one entity
- ``entity.<name>__matches``   scored pairs at or above the review threshold, per-field
                               similarities and a JSON explanation, and the decision taken
- ``entity.<name>__review``    the borderline pairs; a decision written there (``dataops
                               review``) is honoured on every later run
- ``entity.<name>__history``   append-only: created / joined / merged / split / moved / left
- ``entity.<name>__records``   the records as last resolved (what "new or changed" means)
- ``entity.<name>__runs``      one row per resolution: counts the checks compare over time
- ``entity.<name>__model``     the weights each resolution scored with (JSON; ``weights:
                               learned`` reuses the newest while the records grow by < 50%)
"""

from __future__ import annotations

import duckdb

from dataops_platform.resolve.spec import EntitySpec
from dataops_platform.storage.backends import is_ducklake
from dataops_platform.storage.sql import quote_ident, table, table_exists

SCHEMA = "entity"


def members(spec: EntitySpec) -> str:
    return table(SCHEMA, spec.name)


def part(spec: EntitySpec, suffix: str) -> str:
    return table(SCHEMA, f"{spec.name}__{suffix}")


def ensure(conn: duckdb.DuckDBPyConnection, spec: EntitySpec) -> None:
    """Create the entity tables if they are missing (their shape follows the contract)."""
    fields = ", ".join(f"{quote_ident(f.name)} varchar" for f in spec.fields)
    # DuckLake has no primary keys: there the writers keep the keys unique (MERGE INTO)
    lake = is_ducklake(conn)

    def key(columns: str) -> str:
        return "" if lake else f", primary key ({columns})"

    sims = ", ".join(f"{quote_ident('sim_' + f.name)} double" for f in spec.fields)
    conn.execute(f"create schema if not exists {SCHEMA}")
    conn.execute(f"""create table if not exists {part(spec, 'records')} (
        record_id varchar, source varchar, source_rank integer, source_id varchar,
        {fields}, ingested_at timestamp, record_hash ubigint{key("record_id")})""")
    conn.execute(f"""create table if not exists {part(spec, 'matches')} (
        left_id varchar, right_id varchar, score double, {sims}, explanation varchar,
        decision varchar, decided_by varchar, run_id varchar{key("left_id, right_id")})""")
    conn.execute(f"""create table if not exists {part(spec, 'review')} (
        left_id varchar, right_id varchar, score double, explanation varchar,
        decision varchar, decided_at timestamp, note varchar, run_id varchar
        {key("left_id, right_id")})""")
    conn.execute(f"""create table if not exists {members(spec)} (
        record_id varchar, source varchar, source_id varchar,
        entity_id varchar not null, run_id varchar{key("record_id")})""")
    conn.execute(f"""create table if not exists {part(spec, 'history')} (
        recorded_at timestamp, run_id varchar, event varchar, entity_id varchar, record_id varchar,
        other_entity_id varchar)""")
    conn.execute(f"""create table if not exists {part(spec, 'model')} (
        recorded_at timestamp, run_id varchar, learned boolean, records integer, model varchar)""")
    conn.execute(f"""create table if not exists {part(spec, 'runs')} (
        recorded_at timestamp, run_id varchar, records integer, new_records integer, entities integer,
        matched_records integer, pairs_scored integer, pending_review integer,
        merges integer, splits integer)""")


def latest_runs(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, limit: int) -> list[dict]:
    """The newest resolutions' counts (``__runs``), newest first; none before the first."""
    if not table_exists(conn, SCHEMA, f"{spec.name}__runs"):
        return []
    cursor = conn.execute(f"select * from {part(spec, 'runs')} "
                          f"order by recorded_at desc limit {limit}")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
