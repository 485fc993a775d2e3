"""One resolution: new and changed records matched against everything, then stable IDs.

Only records that are new or changed since the last run are scored (against all records),
so a nightly delivery costs what it brings, not a re-run of everything. The decisions
(score thresholds, overridden by review decisions) give the match edges; their connected
components, mapped onto the previous membership by ``identity.assign``, give the IDs.
Everything is written in one transaction: a killed run leaves the previous state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pandas as pd

from dataops_platform.resolve import state
from dataops_platform.resolve.components import connected_components, strict_components
from dataops_platform.resolve.engine import score_given_pairs, score_pairs_with_model
from dataops_platform.resolve.identity import assign
from dataops_platform.resolve.records import FIXED, records_sql, superseded_versions
from dataops_platform.resolve.spec import Clustering, EntitySpec, Weights
from dataops_platform.resolve.weights import Model, fixed_model
from dataops_platform.storage.sql import fetch_one, literal, quote_ident, transaction

MATCH, DISTINCT = "match", "distinct"
DECISIONS = (MATCH, DISTINCT)
# strict clustering scores the pairs blocking never compared only inside a connected component
# of at most this many records that it split (at most 1,225 pairs per component)
RESCORE_MAX = 50


class NothingToResolve(Exception):
    """No source of the entity has a cleaned table yet."""


@dataclass
class ResolveResult:
    records: int = 0
    new_records: int = 0
    pairs_scored: int = 0
    entities: int = 0
    matched_records: int = 0
    pending_review: int = 0
    events: dict[str, int] = field(default_factory=dict)
    superseded: dict[str, int] = field(default_factory=dict)


def _count(conn: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(fetch_one(conn, sql)[0] or 0)


def _store_scores(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, run_id: str) -> None:
    """Re-scored pairs replace the old scores of their records; review keeps decisions."""
    matches, review = state.part(spec, "matches"), state.part(spec, "review")
    sims = ", ".join(quote_ident("sim_" + f.name) for f in spec.fields)
    band = spec.decision
    conn.execute(f"delete from {matches} where left_id in (select record_id from _er_new) "
                 "or right_id in (select record_id from _er_new)")
    # two records of a deduplicated source are never the same entity: not even a candidate
    within = " or ".join(f"(left_id like {literal(d + ':%')} and right_id like {literal(d + ':%')})"
                         for d in spec.deduplicated_sources) or "false"
    conn.execute(f"create or replace temp table _er_kept as select * from _er_scored "
                 f"where score >= {band.review} and not ({within})")
    conn.execute(f"""insert into {matches} by name
        select left_id, right_id, score, {sims}, explanation,
               case when score >= {band.match} then '{MATCH}' else 'review' end as decision,
               'score' as decided_by, {literal(run_id)} as run_id
        from _er_kept""")
    # MERGE rather than ON CONFLICT: DuckLake tables have no primary key to conflict on
    conn.execute(f"""merge into {review} t
        using (select left_id, right_id, score, explanation, {literal(run_id)} as run_id
               from _er_kept where score < {band.match}) s
        on t.left_id = s.left_id and t.right_id = s.right_id
        when matched then update set score = s.score, explanation = s.explanation
        when not matched then insert (left_id, right_id, score, explanation, run_id)
            values (s.left_id, s.right_id, s.score, s.explanation, s.run_id)""")
    conn.execute("drop table _er_kept")


def _store_key_matches(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, run_id: str) -> None:
    """Records of sources sharing a key space with the same id: one entity, no scoring."""
    matches = state.part(spec, "matches")
    for space, datasets in spec.key_spaces.items():
        members = ", ".join(literal(d) for d in datasets)
        explanation = literal(f'{{"key_space": "{space}", "rule": "same id"}}')
        conn.execute(f"""merge into {matches} t
            using (select distinct a.record_id as left_id, b.record_id as right_id
                   from _er_records a join _er_records b
                     on a.source_id = b.source_id and a.record_id < b.record_id
                    and a.source <> b.source
                   where a.source in ({members}) and b.source in ({members})
                     and (a.record_id in (select record_id from _er_new)
                          or b.record_id in (select record_id from _er_new))) s
            on t.left_id = s.left_id and t.right_id = s.right_id
            when matched then update set score = 1.0, explanation = {explanation},
                decision = '{MATCH}', decided_by = 'key'
            when not matched then insert (left_id, right_id, score, explanation, decision,
                                          decided_by, run_id)
                values (s.left_id, s.right_id, 1.0, {explanation}, '{MATCH}', 'key',
                        {literal(run_id)})""")


def _apply_review(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, run_id: str) -> None:
    """A recorded decision beats any score, on every run."""
    matches, review = state.part(spec, "matches"), state.part(spec, "review")
    conn.execute(f"""update {matches} m set decision = r.decision, decided_by = 'review'
        from {review} r where r.decision is not null
        and m.left_id = r.left_id and m.right_id = r.right_id""")
    conn.execute(f"""insert into {matches} (left_id, right_id, score, explanation, decision,
                                            decided_by, run_id)
        select left_id, right_id, score, explanation, decision, 'review', {literal(run_id)}
        from {review} r where decision is not null
        and not exists (select 1 from {matches} m
                        where m.left_id = r.left_id and m.right_id = r.right_id)""")


def _store_records(conn: duckdb.DuckDBPyConnection, spec: EntitySpec) -> None:
    records = state.part(spec, "records")
    columns = ", ".join(quote_ident(c) for c in [*FIXED, *(f.name for f in spec.fields)])
    conn.execute(f"delete from {records} where record_id in (select record_id from _er_new) "
                 "or record_id not in (select record_id from _er_records)")
    conn.execute(f"insert into {records} by name select {columns} from _er_records "
                 "where record_id in (select record_id from _er_new)")


def _edges_sql(spec: EntitySpec) -> str:
    """The match edges (a, b, strength: the score, 2 for a reviewer's or key match) between
    current records. Toward a deduplicated source a record keeps only its best match (a
    reviewer's match first), so it cannot bridge two of its entities."""
    records = state.part(spec, "records")
    dedup = ", ".join(literal(d) for d in spec.deduplicated_sources)
    # without a deduplicated source every edge is kept (``x not in (null)`` would be NULL and
    # drop all but each record's best match: no entity could grow past two records)
    kept = (f"""split_part(b, ':', 1) not in ({dedup}) or row_number() over (
                partition by a, split_part(b, ':', 1)
                order by reviewed desc, score desc nulls last, b) = 1""" if dedup else "true")
    return f"""
        with e as (
            select left_id, right_id, score, decided_by in ('review', 'key') as reviewed
            from {state.part(spec, 'matches')}
            where decision = '{MATCH}' and left_id in (select record_id from {records})
              and right_id in (select record_id from {records})
        ), directed as (
            select left_id as a, right_id as b, score, reviewed from e
            union all select right_id, left_id, score, reviewed from e
        ), ranked as (
            select a, b, case when reviewed then 2.0 else coalesce(score, 0) end as strength,
                   {kept} as kept
            from directed
        )
        select x.a, x.b, x.strength from ranked x join ranked y on x.a = y.b and x.b = y.a
        where x.a < x.b and x.kept and y.kept
        order by x.a, x.b"""


def _reusable_model(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, new: int) -> Model | None:
    """Learned weights of an earlier run, while the records have grown by less than half since
    (a delivery of a few records is too small to learn from, and a stable model keeps scores
    comparable between runs); None: learn now (or use the fixed table)."""
    if spec.weights is not Weights.learned:
        return None
    row = conn.execute(f"select records, model from {state.part(spec, 'model')} where learned "
                       "order by recorded_at desc limit 1").fetchone()
    total = _count(conn, "select count(*) from _er_records")
    if row is None or new * 2 >= total:
        return None
    return Model.from_json(row[1])


def _clustering_model(conn: duckdb.DuckDBPyConnection, spec: EntitySpec) -> Model:
    """The weights of the latest resolution (learned or fixed), else the fixed table."""
    row = conn.execute(f"select model from {state.part(spec, 'model')} "
                       "order by recorded_at desc limit 1").fetchone()
    return Model.from_json(row[0]) if row else fixed_model(spec)


def _unblocked_links(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, ids: list[str],
                     edges: list[tuple[str, str, float]]) -> list[tuple[str, str]]:
    """Pairs that match (score >= decision.match) although no blocking rule compared them, for
    ``strict_components`` to count: where strict clustering splits a connected component (of
    at most RESCORE_MAX records), every pair inside it that has no stored score is scored now.
    Why: a record missing the fields its other records were blocked on (one without a birth
    date, another without an id) is no edge to them, and strict clustering counted that as
    evidence against the join (measured on benchmarks/people_hard.py `messy`: 355 of 603
    true pairs lost were split this way). Pairs with a stored score or decision keep it;
    two records of a deduplicated source are never a link."""
    first = strict_components(ids, edges)
    component = connected_components(ids, [(a, b) for a, b, _ in edges])
    members: dict[str, list[str]] = {}
    for record, root in component.items():
        members.setdefault(root, []).append(record)
    wanted = [(a, b) for group in members.values()
              if 2 < len(group) <= RESCORE_MAX and len({first[m] for m in group}) > 1
              for i, a in enumerate(sorted(group)) for b in sorted(group)[i + 1:]]
    dedup = set(spec.deduplicated_sources)
    wanted = [(a, b) for a, b in wanted
              if not (a.split(":", 1)[0] in dedup and a.split(":", 1)[0] == b.split(":", 1)[0])]
    if not wanted:
        return []
    conn.register("_er_wanted_df", pd.DataFrame(wanted, columns=["l", "r"]))
    try:
        conn.execute(f"""create or replace temp table _er_wanted as
            select w.l, w.r from _er_wanted_df w anti join {state.part(spec, 'matches')} m
              on m.left_id = w.l and m.right_id = w.r""")
        if not _count(conn, "select count(*) from _er_wanted"):
            return []
        fields = ", ".join(quote_ident(f.name) for f in spec.fields)
        conn.execute(f"""create or replace temp table _er_wanted_records as
            select record_id, {fields} from {state.part(spec, 'records')}""")
        score_given_pairs(conn, spec, "_er_wanted_records", "_er_wanted", "_er_rescored",
                          _clustering_model(conn, spec))
        return [(a, b) for a, b in conn.execute(
            f"select left_id, right_id from _er_rescored where score >= {spec.decision.match} "
            "order by 1, 2").fetchall()]
    finally:
        conn.unregister("_er_wanted_df")
        for temp in ("_er_wanted", "_er_wanted_records", "_er_rescored"):
            conn.execute(f"drop table if exists {temp}")


def _assign_ids(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, run_id: str) -> dict[str, int]:
    records, members = state.part(spec, "records"), state.members(spec)
    history = state.part(spec, "history")
    ids = [r[0] for r in conn.execute(f"select record_id from {records}").fetchall()]
    edges = conn.execute(_edges_sql(spec)).fetchall()
    previous = dict(conn.execute(f"select record_id, entity_id from {members}").fetchall())
    used = {r[0] for r in conn.execute(
        f"select entity_id from {history} union select other_entity_id from {history} "
        "where other_entity_id is not null").fetchall()}
    components = (strict_components(ids, edges, _unblocked_links(conn, spec, ids, edges))
                  if spec.clustering is Clustering.strict
                  else connected_components(ids, [(a, b) for a, b, _ in edges]))
    assigned, events = assign(components, previous, used, spec.name[:3].upper())
    frame = pd.DataFrame({"record_id": list(assigned), "entity_id": list(assigned.values())})
    conn.register("_er_assigned", frame)
    conn.execute(f"delete from {members}")
    conn.execute(f"""insert into {members} by name
        select a.record_id, r.source, r.source_id, a.entity_id, {literal(run_id)} as run_id
        from _er_assigned a join {records} r using (record_id) order by a.entity_id, a.record_id""")
    conn.unregister("_er_assigned")
    if events:
        conn.register("_er_events", pd.DataFrame(
            [(e.event, e.entity_id, e.record_id, e.other_entity_id) for e in events],
            columns=["event", "entity_id", "record_id", "other_entity_id"]))
        conn.execute(f"""insert into {history} by name
            select current_timestamp::timestamp as recorded_at, {literal(run_id)} as run_id, *
            from _er_events""")
        conn.unregister("_er_events")
    tally: dict[str, int] = {}
    for e in events:
        tally[e.event] = tally.get(e.event, 0) + 1
    return tally


def _record_run(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, run_id: str,
                result: ResolveResult) -> None:
    """Count the new state into ``result`` and log it in ``__runs`` (what the checks compare)."""
    members = state.members(spec)
    result.records = _count(conn, f"select count(*) from {members}")
    result.entities = _count(conn, f"select count(distinct entity_id) from {members}")
    result.matched_records = _count(conn, f"""select count(*) from {members} where entity_id in
        (select entity_id from {members} group by 1 having count(*) > 1)""")
    result.pending_review = _count(conn, f"select count(*) from {state.part(spec, 'review')} "
                                         "where decision is null")
    conn.execute(f"insert into {state.part(spec, 'runs')} "
                 "values (current_timestamp::timestamp, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 [run_id, result.records, result.new_records, result.entities,
                  result.matched_records, result.pairs_scored, result.pending_review,
                  result.events.get("merged", 0), result.events.get("split", 0)])


def resolve(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, run_id: str) -> ResolveResult:
    """Bring the entity tables up to date with the sources' cleaned tables."""
    select = records_sql(conn, spec)
    if select is None:
        raise NothingToResolve(f"No source of entity '{spec.name}' has data yet: "
                               f"{', '.join(s.dataset for s in spec.sources)}.")
    state.ensure(conn, spec)
    result = ResolveResult(superseded=superseded_versions(conn, spec))
    try:
        conn.execute(f"create or replace temp table _er_records as {select}")
        conn.execute(f"""create or replace temp table _er_new as
            select r.record_id from _er_records r left join {state.part(spec, 'records')} o
            using (record_id) where o.record_id is null or o.record_hash <> r.record_hash""")
        result.new_records = _count(conn, "select count(*) from _er_new")
        model = None
        if result.new_records:
            reuse = _reusable_model(conn, spec, result.new_records)
            result.pairs_scored, model = score_pairs_with_model(
                conn, spec, "_er_records", "_er_scored", new="_er_new", model=reuse)
            if reuse is not None:
                model = None  # nothing new to store
        with transaction(conn):
            if model is not None:
                total = _count(conn, "select count(*) from _er_records")
                conn.execute(f"insert into {state.part(spec, 'model')} "
                             "values (current_timestamp::timestamp, ?, ?, ?, ?)",
                             [run_id, model.learned, total, model.to_json()])
            if result.new_records:
                _store_scores(conn, spec, run_id)
                _store_key_matches(conn, spec, run_id)
            _apply_review(conn, spec, run_id)
            _store_records(conn, spec)
            result.events = _assign_ids(conn, spec, run_id)
            _record_run(conn, spec, run_id, result)
    finally:
        for temp in ("_er_records", "_er_new", "_er_scored"):
            conn.execute(f"drop table if exists {temp}")
    return result


def record_decision(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, left: str, right: str,
                    decision: str, note: str = "") -> None:
    """Record a reviewer's decision on a pair (in either order); the next run applies it."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}")
    state.ensure(conn, spec)
    known = {r[0] for r in conn.execute(
        f"select record_id from {state.part(spec, 'records')} where record_id in (?, ?)",
        [left, right]).fetchall()}
    missing = [r for r in (left, right) if r not in known]
    if missing:
        raise ValueError(f"no record {', '.join(missing)} in entity '{spec.name}' (record ids look "
                         f"like '{spec.sources[0].dataset}:<id>'; see entity.{spec.name})")
    low, high = sorted((left, right))
    conn.execute(f"""merge into {state.part(spec, 'review')} t
        using (select ? as left_id, ? as right_id, ? as decision,
                      current_timestamp::timestamp as decided_at, ? as note) s
        on t.left_id = s.left_id and t.right_id = s.right_id
        when matched then update set decision = s.decision, decided_at = s.decided_at,
            note = s.note
        when not matched then insert (left_id, right_id, decision, decided_at, note)
            values (s.left_id, s.right_id, s.decision, s.decided_at, s.note)""",
                 [low, high, decision, note])
