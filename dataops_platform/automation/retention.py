"""Retention: files older than their contract's ``retention`` leave the lake and the tables.

For each dataset whose contract declares ``retention: 90d``, every lake file whose recorded
arrival is older than that is pruned: its rows leave the dataset's warehouse tables (raw,
cleaned, quarantine, duplicates, or the lake catalogue; plus its metric history) in one
transaction, then the lake copy is deleted and its dynamic partition removed, so storage
and the partition list do not grow forever.

``current.<dataset>`` loses the pruned files' rows in the ``append``, ``partition`` and
``replace`` modes, whose rows each belong to one file. ``merge`` and ``history`` keep their
rows by design: they are the dataset's state (the latest version of each key, its timeline
of changes), which outlives the deliveries it was built from — an order last delivered 100
days ago is still an order. (A later re-write of a key recomputes it from the cleaned rows
still retained.) The daily ``retention`` schedule runs it
inside Dagster; ``dataops prune`` runs it headless (``--dry-run`` only lists).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb

from dataops_platform.collect import lake
from dataops_platform.collect.landing import file_hash, partitions_def_name, scan
from dataops_platform.collect.resources import LandingZone
from dataops_platform.contracts.model import Contract, WriteMode, parse_duration
from dataops_platform.storage.sql import literal, table, table_exists
from dataops_platform.storage.warehouse import POOL, Warehouse
from dataops_platform.transform.cleaned_asset import duplicates_table, quarantine_table

RETENTION_JOB = "retention"
FILE_ROWS_MODES = (WriteMode.append, WriteMode.partition, WriteMode.replace)  # current: row = file
RETENTION_SCHEDULE = "retention_daily"
HISTORY = ("quality", "metric_history")


def dataset_tables(contract: Contract) -> list[tuple[str, str]]:
    """Every warehouse table holding rows of the dataset's files, upstream first."""
    if contract.lake_only:
        return [("lake", contract.name)]
    current = ([("current", contract.name)]
               if contract.write and contract.write.mode in FILE_ROWS_MODES else [])
    return [("raw", contract.name), ("cleaned", contract.name), quarantine_table(contract),
            duplicates_table(contract), *current]


@dataclass
class PrunedFile:
    dataset: str
    partition_key: str
    landing_path: str
    arrived_at: str
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows deleted


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def expired(lake_dir: Path, contracts: Sequence[Contract],
            now: datetime | None = None) -> list[tuple[Contract, lake.LakeEntry]]:
    """Lake files older than their contract's retention, oldest first."""
    now = now or _utcnow()
    found: list[tuple[Contract, lake.LakeEntry]] = []
    for contract in contracts:
        if contract.retention is None:
            continue
        cutoff = now - parse_duration(contract.retention)
        found.extend((contract, e) for e in lake.entries(lake_dir, contract.name)
                     if e.arrival < cutoff)
    return found


def _in(keys: list[str]) -> str:
    return ", ".join(literal(k) for k in keys)


def prune(conn: duckdb.DuckDBPyConnection, lake_dir: Path, contracts: Sequence[Contract],
          instance: dg.DagsterInstance | None, *, now: datetime | None = None,
          dry_run: bool = False, landing_dir: Path | None = None) -> list[PrunedFile]:
    """Delete expired files' rows (one transaction), lake copies and partitions.

    A file still sitting in the landing folder with the same content is deleted too:
    otherwise the next pass would take it for a new delivery and ingest it again (the same
    holds for an identical re-delivery under another name).
    """
    victims = expired(lake_dir, contracts, now)
    pruned = [PrunedFile(c.name, e.partition_key, e.landing_path, e.arrived_at) for c, e in victims]
    by_dataset: dict[str, list[str]] = {}
    for contract, entry in victims:
        by_dataset.setdefault(contract.name, []).append(entry.partition_key)
    contracts_by_name = {c.name: c for c in contracts}
    conn.execute("begin transaction")
    try:
        for name, keys in by_dataset.items():
            for schema, table_name in dataset_tables(contracts_by_name[name]):
                if not table_exists(conn, schema, table_name):
                    continue
                target = table(schema, table_name)
                counts = dict(conn.execute(f"select _partition, count(*) from {target} "
                                           f"where _partition in ({_in(keys)}) group by 1").fetchall())
                for file in pruned:
                    if file.dataset == name:
                        file.rows[f"{schema}.{table_name}"] = int(counts.get(file.partition_key, 0))
                if not dry_run:
                    conn.execute(f"delete from {target} where _partition in ({_in(keys)})")
            if not dry_run and table_exists(conn, *HISTORY):
                conn.execute(f'delete from {table(*HISTORY)} where dataset = {literal(name)} '
                             f'and "partition" in ({_in(keys)})')
        conn.execute("rollback" if dry_run else "commit")
    except BaseException:
        conn.execute("rollback")
        raise
    if dry_run:
        return pruned
    for contract, entry in victims:  # the rows are gone: now the files and the partitions
        lake.remove(entry)
        for landed in scan(landing_dir, contract) if landing_dir is not None else []:
            delivered = landing_dir / landed.relative_path  # type: ignore[operator]  # any name
            if landed.size == entry.size and file_hash(delivered) == entry.sha256:
                delivered.unlink()
        if instance is not None and instance.has_dynamic_partition(
                partitions_def_name(contract), entry.partition_key):
            instance.delete_dynamic_partition(partitions_def_name(contract), entry.partition_key)
    return pruned


def build_retention(contracts: Sequence[Contract]) -> tuple[list[dg.JobDefinition],
                                                            list[dg.ScheduleDefinition]]:
    """The ``retention`` job and its daily schedule (only if a contract declares retention)."""
    kept = [c for c in contracts if c.retention is not None]
    if not kept:
        return [], []

    @dg.op(name="prune_expired_files", pool=POOL,
           description="Delete lake files older than their contract's retention, their rows "
                       "and their dynamic partitions.")
    def prune_expired_files(context: dg.OpExecutionContext, warehouse: Warehouse,
                            landing: LandingZone) -> None:
        with warehouse.get_connection() as conn:
            pruned = prune(conn, landing.lake_path, kept, context.instance,
                           landing_dir=landing.path)
        for file in pruned:
            context.log.info(f"pruned {file.dataset} {file.landing_path} ({file.partition_key}, "
                             f"arrived {file.arrived_at[:19]}): {file.rows}")
        context.log.info(f"{len(pruned)} expired file(s) pruned")

    @dg.job(name=RETENTION_JOB, description="Prune files older than their contract's retention "
                                            "(lake copies, rows, partitions).")
    def retention_job() -> None:
        prune_expired_files()

    schedule = dg.ScheduleDefinition(
        name=RETENTION_SCHEDULE, job=retention_job, cron_schedule="30 3 * * *",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Daily: apply each contract's retention.")
    return [retention_job], [schedule]


def render_prune(pruned: list[PrunedFile], dry_run: bool) -> str:
    verb = "would prune" if dry_run else "pruned"
    if not pruned:
        return "nothing is older than its contract's retention"
    lines = [f"{verb} {len(pruned)} file(s):"]
    for f in pruned:
        rows = ", ".join(f"{t} {n}" for t, n in f.rows.items()) or "no rows"
        lines.append(f"  {f.dataset:<12} {f.landing_path:<44} arrived {f.arrived_at[:19]}  {rows}")
    return "\n".join(lines)
