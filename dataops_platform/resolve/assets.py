"""What one entity contract compiles to: the resolution assets, their checks, the golden record.

- ``entities/<name>_matches`` and ``entities/<name>``: one op (the match table and the
  membership change together, in one transaction), run when a source's cleaned table changed;
- checks on ``entities/<name>``: every record in exactly one entity (blocking), entity count
  drift, share of records matched, review backlog (warnings);
- ``audit/<name>_golden`` -> ``curated/<name>_golden``: the golden records through
  write-audit-publish, like every curated table.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg
import duckdb

from dataops_platform.resolve import state
from dataops_platform.resolve.golden import golden_sql
from dataops_platform.resolve.records import records_sql
from dataops_platform.resolve.run import NothingToResolve, resolve
from dataops_platform.resolve.spec import EntitySpec
from dataops_platform.storage.metadata import column_schema, preview
from dataops_platform.storage.sql import fetch_one, table_exists
from dataops_platform.storage.warehouse import POOL, Warehouse
from dataops_platform.transform.wap import (
    CURATED_AUTOMATION,
    AuditCheck,
    PublishedTable,
    published_table,
    unique_key,
)

PREFIX = "entities"


@dataclass(frozen=True)
class EntityAssets:
    spec: EntitySpec
    resolution: dg.AssetsDefinition
    checks: list[dg.AssetChecksDefinition]
    golden: PublishedTable

    @property
    def assets(self) -> list[dg.AssetsDefinition]:
        return [self.resolution, *self.golden.assets]

    @property
    def all_checks(self) -> list[dg.AssetChecksDefinition]:
        return [*self.checks, *self.golden.checks]


def entity_key(spec: EntitySpec) -> dg.AssetKey:
    return dg.AssetKey([PREFIX, spec.name])


def _build_resolution(spec: EntitySpec) -> dg.AssetsDefinition:
    matches_key = dg.AssetKey([PREFIX, f"{spec.name}_matches"])
    sources = [dg.AssetKey(["cleaned", s.dataset]) for s in spec.sources]
    names = ", ".join(s.dataset for s in spec.sources)

    @dg.multi_asset(
        name=f"resolve_{spec.name}",
        specs=[
            dg.AssetSpec(matches_key, deps=sources, group_name=PREFIX,
                         kinds={"duckdb", "sql"}, automation_condition=CURATED_AUTOMATION,
                         tags={"layer": PREFIX, "domain": spec.group},
                         description=f"Scored pairs of {spec.name} records from {names} at or "
                                     "above the review threshold, with per-field similarities, "
                                     "an explanation and the decision (score or review)."),
            dg.AssetSpec(entity_key(spec), deps=[matches_key], group_name=PREFIX,
                         kinds={"duckdb", "sql"}, automation_condition=CURATED_AUTOMATION,
                         tags={"layer": PREFIX, "domain": spec.group},
                         description=f"{spec.description or spec.name}\n\nEvery {spec.name} "
                                     f"record of {names} mapped to a stable entity ID; merges "
                                     f"and splits in entity.{spec.name}__history."),
        ],
        pool=POOL,
        description=f"Match new and changed {spec.name} records and assign stable entity IDs.",
    )
    def resolution(context: dg.AssetExecutionContext,
                   warehouse: Warehouse) -> Iterator[dg.MaterializeResult]:
        with warehouse.get_connection() as conn:
            try:
                result = resolve(conn, spec, context.run.run_id)
            except NothingToResolve as exc:
                raise dg.Failure(str(exc)) from exc
            matches = state.part(spec, "matches")
            decisions = dict(conn.execute(
                f"select decision, count(*) from {matches} group by 1").fetchall())
            match_meta: dict[str, Any] = {
                "dagster/row_count": sum(decisions.values()),
                "pairs_scored_this_run": result.pairs_scored,
                "decisions": {str(k): int(v) for k, v in decisions.items()},
                "pending_review": result.pending_review,
                "dagster/column_schema": column_schema(conn, matches),
            }
            members = state.members(spec)
            entity_meta: dict[str, Any] = {
                "dagster/row_count": result.records,
                "records": result.records,
                "new_or_changed_records": result.new_records,
                "entities": result.entities,
                "matched_records": result.matched_records,
                "events": result.events,
                "superseded_versions": result.superseded,
                "dagster/column_schema": column_schema(conn, members),
                "preview": preview(conn, members),
            }
        context.log.info(f"{spec.name}: {result.new_records} new/changed record(s), "
                         f"{result.entities} entities, events {result.events or 'none'}")
        yield dg.MaterializeResult(asset_key=matches_key, metadata=match_meta)
        yield dg.MaterializeResult(asset_key=entity_key(spec), metadata=entity_meta)

    return resolution


def _latest_runs(warehouse: Warehouse, spec: EntitySpec, limit: int) -> list[dict]:
    with warehouse.get_connection() as conn:
        return state.latest_runs(conn, spec, limit)


def _build_checks(spec: EntitySpec) -> list[dg.AssetChecksDefinition]:
    key, limits = entity_key(spec), spec.checks

    @dg.asset_check(asset=key, name="one_entity_per_record", blocking=True, pool=POOL,
                    description="Every current source record belongs to exactly one entity.")
    def one_entity_per_record(warehouse: Warehouse) -> dg.AssetCheckResult:
        with warehouse.get_connection() as conn:
            select = records_sql(conn, spec)
            members = state.members(spec)
            if select is None or not table_exists(conn, state.SCHEMA, spec.name):
                return dg.AssetCheckResult(passed=False, metadata={"problem": "not resolved yet"})
            missing, extra, repeated = fetch_one(conn, f"""
                with s as ({select}), m as (select * from {members})
                select (select count(*) from s anti join m using (record_id)),
                       (select count(*) from m anti join s using (record_id)),
                       (select count(*) - count(distinct record_id) from m)""")
        passed = missing == extra == repeated == 0
        return dg.AssetCheckResult(
            passed=passed, severity=dg.AssetCheckSeverity.ERROR,
            metadata={"records_without_entity": missing, "entity_rows_without_record": extra,
                      "records_in_several_entities": repeated},
            description=None if passed else "re-run the resolution; if it persists, the entity "
                                            f"tables of '{spec.name}' are damaged")

    @dg.asset_check(asset=key, name="entity_count_drift", pool=POOL,
                    description=f"The entity count changed by at most "
                                f"{limits.max_entity_drift:.0%} since the previous resolution.")
    def entity_count_drift(warehouse: Warehouse) -> dg.AssetCheckResult:
        runs = _latest_runs(warehouse, spec, 2)
        if len(runs) < 2:
            return dg.AssetCheckResult(passed=True, metadata={
                "entities": runs[0]["entities"] if runs else 0, "previous": None})
        now, before = runs[0]["entities"], runs[1]["entities"]
        drift = abs(now - before) / before if before else 0.0
        return dg.AssetCheckResult(
            passed=drift <= limits.max_entity_drift, severity=dg.AssetCheckSeverity.WARN,
            metadata={"entities": now, "previous": before, "drift": round(drift, 4),
                      "max_entity_drift": limits.max_entity_drift})

    @dg.asset_check(asset=key, name="matched_share", pool=POOL,
                    description=f"At least {limits.min_matched_share:.0%} of the records share "
                                "their entity with another record (matching works at all).")
    def matched_share(warehouse: Warehouse) -> dg.AssetCheckResult:
        last = (_latest_runs(warehouse, spec, 1) or [{"records": 0, "matched_records": 0}])[0]
        records, matched = last["records"], last["matched_records"]
        share = matched / records if records else 0.0
        return dg.AssetCheckResult(
            passed=share >= limits.min_matched_share, severity=dg.AssetCheckSeverity.WARN,
            metadata={"records": records, "matched_records": matched, "share": round(share, 4)})

    @dg.asset_check(asset=key, name="review_backlog", pool=POOL,
                    description=f"At most {limits.max_pending_review} borderline pairs wait for "
                                "a decision (`dataops review`).")
    def review_backlog(warehouse: Warehouse) -> dg.AssetCheckResult:
        runs = _latest_runs(warehouse, spec, 1)
        pending = runs[0]["pending_review"] if runs else 0
        return dg.AssetCheckResult(
            passed=pending <= limits.max_pending_review, severity=dg.AssetCheckSeverity.WARN,
            metadata={"pending_review": pending, "max_pending_review": limits.max_pending_review})

    return [one_entity_per_record, entity_count_drift, matched_share, review_backlog]


def _one_row_per_entity(spec: EntitySpec) -> AuditCheck:
    def evaluate(conn: duckdb.DuckDBPyConnection, relation: str) -> tuple[bool, dict]:
        golden, entities = fetch_one(conn, f"select (select count(*) from {relation}), "
                                           f"(select count(distinct entity_id) "
                                           f"from {state.members(spec)})")
        return golden == entities, {"golden_records": golden, "entities": entities}

    return AuditCheck("one_row_per_entity", "exactly one golden record per entity.", evaluate)


def build_entity_assets(spec: EntitySpec) -> EntityAssets:
    golden = published_table(
        f"{spec.name}_golden", deps=[entity_key(spec)],
        description=f"One golden {spec.name} per entity: each field from the record its "
                    f"survivorship rule picks (<field>_from names that record).",
        sql=golden_sql(spec), checks=[unique_key("entity_id"), _one_row_per_entity(spec)])
    return EntityAssets(spec, _build_resolution(spec), _build_checks(spec), golden)
