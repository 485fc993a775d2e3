"""``dataops rebuild <dataset>``: the dataset's tables rebuilt from the lake alone.

Every landed file is preserved in the lake (collect/lake.py) with its arrival time, and
``raw`` reads that copy, so re-running the dataset's process job for every preserved file
gives the same rows (only ``_run_id`` differs). Which files: the partitions the Dagster
instance knows, plus, per file name, the latest preserved version whose name the instance
no longer knows (a lost or fresh instance); a superseded version (the same name delivered
again with new content) stays superseded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import dagster as dg

from dataops_platform.automation.one_pass import (
    QUIET,
    PassResult,
    _ready_curated,
    cli_tags,
    collect_result,
)
from dataops_platform.automation.retention import dataset_tables
from dataops_platform.collect import lake
from dataops_platform.collect.landing import partitions_def_name, split_partition_key
from dataops_platform.collect.landing_dataset import LandingDataset
from dataops_platform.factory import CURATED_JOB, Platform
from dataops_platform.settings import Settings
from dataops_platform.storage.backends import open_warehouse
from dataops_platform.storage.sql import quote_ident, table, table_exists, transaction


class RebuildError(Exception):
    """The dataset is unknown or nothing of it is in the lake."""


@dataclass
class RebuiltFile:
    partition_key: str
    landing_path: str
    arrived_at: str
    in_lake: bool
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows of this file


@dataclass
class RebuildResult:
    dataset: str
    files: list[RebuiltFile] = field(default_factory=list)
    registered: list[str] = field(default_factory=list)  # partitions re-added from manifests
    superseded: list[str] = field(default_factory=list)  # older versions kept in the lake only
    run: PassResult = field(default_factory=PassResult)


def plan(dataset: LandingDataset, entries: list[lake.LakeEntry],
         registered: Sequence[str]) -> tuple[list[str], list[str]]:
    """(partitions to rebuild in arrival order, superseded lake versions)."""
    known_slugs = {split_partition_key(k)[0] for k in registered}
    latest: dict[str, lake.LakeEntry] = {}
    for entry in entries:  # oldest arrival first: the last one per name wins
        latest[split_partition_key(entry.partition_key)[0]] = entry
    keys = list(registered) + [e.partition_key for s, e in latest.items() if s not in known_slugs]
    order = {e.partition_key: (e.arrived_at, e.partition_key) for e in entries}
    keys.sort(key=lambda k: order.get(k, ("", k)))
    superseded = [e.partition_key for e in entries if e.partition_key not in set(keys)]
    return keys, superseded


def rebuild(settings: Settings, platform: Platform, instance: dg.DagsterInstance,
            name: str) -> RebuildResult:
    """Rebuild one dataset (table or lake-only catalogue) from its lake files."""
    every: list[LandingDataset] = [*platform.datasets, *platform.lake_datasets]
    by_name = {d.contract.name: d for d in every}
    if name not in by_name:
        raise RebuildError(f"No dataset '{name}'; rebuild one of: {', '.join(by_name) or 'none'}.")
    dataset = by_name[name]
    entries = list(lake.entries(settings.lake_dir, name))
    registered = instance.get_dynamic_partitions(partitions_def_name(dataset.contract))
    if not entries and not registered:
        raise RebuildError(f"Nothing of '{name}' is in the lake ({settings.lake_dir / name}): "
                           "no file of it has been ingested in this home.")
    keys, superseded = plan(dataset, entries, registered)
    result = RebuildResult(name, superseded=superseded)
    result.registered = [k for k in keys if k not in set(registered)]
    if result.registered:
        instance.add_dynamic_partitions(partitions_def_name(dataset.contract), result.registered)
    by_key = {e.partition_key: e for e in entries}
    conn = open_warehouse(settings.warehouse)
    try:  # the tables are rebuilt from nothing: no row of the old state survives
        # current.<dataset> (a write mode) is derived from cleaned: rebuilt with it
        derived = [("current", dataset.contract.name)] if dataset.contract.write else []
        with transaction(conn):
            for schema, table_name in [*dataset_tables(dataset.contract), *derived]:
                conn.execute(f"drop table if exists {quote_ident(schema)}.{quote_ident(table_name)}")
    finally:
        conn.close()
    job = platform.definitions.resolve_job_def(dataset.process_job.name)
    for key in keys:
        entry = by_key.get(key)
        result.files.append(RebuiltFile(key, entry.landing_path if entry else "?",
                                        entry.arrived_at if entry else "?", entry is not None))
        outcome = job.execute_in_process(instance=instance, partition_key=key,
                                         raise_on_error=False, run_config=QUIET,
                                         tags={**cli_tags(), "dataops/rebuild": name})
        collect_result(instance, outcome, result.run)
    result.run.processed[name] = keys
    ready = _with_tables(settings, platform,
                         _ready_curated(platform.definitions, instance, result.run.held))
    if ready:
        outcome = platform.definitions.resolve_job_def(CURATED_JOB.name).execute_in_process(
            instance=instance, raise_on_error=False, run_config=QUIET, asset_selection=ready,
            tags=cli_tags())
        collect_result(instance, outcome, result.run)
    _count_rows(settings, dataset, result)
    return result


def _with_tables(settings: Settings, platform: Platform,
                 marts: list[dg.AssetKey]) -> list[dg.AssetKey]:
    """The marts whose dataset tables are in the warehouse (the instance may remember
    materializations of tables that were deleted and are not rebuilt yet)."""
    if not marts:
        return []
    graph = platform.definitions.resolve_asset_graph()
    conn = open_warehouse(settings.warehouse, read_only=True)
    def dataset_tables_upstream(key: dg.AssetKey) -> set[dg.AssetKey]:
        """raw/cleaned tables anywhere upstream (a published mart reads its candidate)."""
        found: set[dg.AssetKey] = set()
        for parent in graph.get(key).parent_keys:
            found |= {parent} if parent.path[0] in ("raw", "cleaned") \
                else dataset_tables_upstream(parent)
        return found

    try:
        return [m for m in marts
                if all(table_exists(conn, p.path[0], p.path[-1]) for p in dataset_tables_upstream(m))]
    finally:
        conn.close()


def _count_rows(settings: Settings, dataset: LandingDataset, result: RebuildResult) -> None:
    rows = "count(*)" if dataset.contract.lake_only else "count(distinct _row_number)"
    conn = open_warehouse(settings.warehouse, read_only=True)
    try:
        for schema, table_name in dataset_tables(dataset.contract):
            counts = dict(conn.execute(
                f"select _partition, {rows} from {table(schema, table_name)} group by 1"
            ).fetchall()) if table_exists(conn, schema, table_name) else {}
            for file in result.files:
                file.rows[f"{schema}.{table_name}"] = int(counts.get(file.partition_key, 0))
    finally:
        conn.close()


def render_rebuild(result: RebuildResult) -> str:
    """The ledger: per file, rows in raw = cleaned + quarantined + duplicates (rows, not
    violations: a quarantined row with two violations counts once)."""
    lines = [f"rebuilt {result.dataset} from the lake: {len(result.files)} file(s)"
             + (f", {len(result.registered)} partition(s) re-registered" if result.registered
                else "")]
    header = f"  {'file':<44} {'arrived (UTC)':<20} {'raw':>8} {'cleaned':>8} {'quar.':>7} {'dups':>6}"
    lines.append(header)
    for f in result.files:
        raw, cleaned, quarantined, dups = [*f.rows.values(), 0, 0, 0, 0][:4]
        if len(f.rows) == 1:  # a lake-only file: its catalogue row
            cleaned = raw
        balanced = "" if raw == cleaned + quarantined + dups else "  UNBALANCED"
        lines.append(f"  {f.landing_path[-44:]:<44} {f.arrived_at[:19]:<20} {raw:>8} {cleaned:>8} "
                     f"{quarantined:>7} {dups:>6}{balanced}"
                     + ("" if f.in_lake else "  (not in the lake: read from landing)"))
    if result.superseded:
        lines.append(f"  {len(result.superseded)} superseded version(s) kept in the lake only")
    for failure in result.run.failures:
        lines.append(f"FAILED {failure}")
    for check in result.run.failed_error_checks:
        lines.append(f"CHECK FAILED {check.asset} {check.check} [{check.partition}]")
    return "\n".join(lines)
