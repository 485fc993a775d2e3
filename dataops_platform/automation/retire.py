"""Retire a delivery: ``dataops files discard <file>``.

A delivery that failed (a ragged file, a file the contract rejects) or that nobody wants
stays a pending partition: every later ``dataops run`` tries it again and fails. Retiring it

1. deletes its rows from every table of its dataset (raw, cleaned, quarantine,
   duplicates, ``current`` where rows belong to files, the metric history) in one
   transaction,
2. marks its lake copy retired (``lake/<dataset>/_retired/<key>.json``: it is kept but
   never read again, and ``dataops rebuild`` skips it) — or deletes it with ``--purge``,
3. removes the same content from the landing folder (else the next pass would take it
   for a new delivery), and the dynamic partition from the Dagster instance,
4. records what was done in ``<home>/retired.jsonl``.

Every step is idempotent: if it is interrupted, running the command again finishes it.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb

from dataops_platform.automation.retention import HISTORY, dataset_tables
from dataops_platform.collect import lake
from dataops_platform.collect.landing import file_hash, partitions_def_name, scan, slug
from dataops_platform.contracts.model import Contract
from dataops_platform.storage.partition_keys import is_partition_key
from dataops_platform.storage.sql import table, table_exists, transaction

RETIRED_LOG = "retired.jsonl"


class RetireError(Exception):
    """The named delivery cannot be found, or the name is ambiguous."""


@dataclass
class Delivery:
    dataset: str
    partition_key: str
    landing_path: str  # as delivered (relative to the landing folder), if known
    registered: bool  # a dynamic partition of the instance
    preserved: bool  # a lake copy exists


@dataclass
class Retired:
    dataset: str
    partition_key: str
    landing_path: str
    rows: dict[str, int] = field(default_factory=dict)
    lake: str = "none"  # "kept (retired)", "purged" or "none"
    landing_removed: list[str] = field(default_factory=list)
    at: str = ""
    by: str = ""
    reason: str = ""


def _deliveries(instance: dg.DagsterInstance, lake_dir: Path,
                contracts: Sequence[Contract]) -> list[Delivery]:
    found: list[Delivery] = []
    for contract in contracts:
        registered = set(instance.get_dynamic_partitions(partitions_def_name(contract)))
        preserved = {e.partition_key: e for e in lake.entries(lake_dir, contract.name)}
        for key in sorted(registered | set(preserved)):
            entry = preserved.get(key)
            found.append(Delivery(contract.name, key, entry.landing_path if entry else "",
                                  key in registered, entry is not None))
    return found


def find_delivery(instance: dg.DagsterInstance, landing_dir: Path, lake_dir: Path,
                  contracts: Sequence[Contract], what: str) -> Delivery:
    """The delivery named by a partition key, a landing path (relative or absolute) or a
    file name. A name matching several deliveries is an error listing their keys."""
    wanted = what.strip()
    try:
        relative = Path(wanted).resolve().relative_to(landing_dir.resolve()).as_posix()
    except ValueError:
        relative = wanted
    all_deliveries = _deliveries(instance, lake_dir, contracts)
    if is_partition_key(wanted):
        matches = [d for d in all_deliveries if d.partition_key == wanted]
    else:
        def named(d: Delivery) -> bool:
            name = d.landing_path or ""
            file_slug = d.partition_key.rpartition("@")[0]
            return relative in (name, Path(name).name) or file_slug in (
                slug(relative), slug(Path(relative).name))
        matches = [d for d in all_deliveries if named(d)]
        registered = [d for d in matches if d.registered]
        matches = registered or matches
    if not matches:
        raise RetireError(f"no delivery named {what!r}: give a file name, its landing path or "
                          "its partition key (`dataops run` lists failed ones)")
    if len(matches) > 1:
        raise RetireError(f"{what!r} names {len(matches)} deliveries; give one partition key: "
                          + ", ".join(f"{d.partition_key} ({d.dataset})" for d in matches))
    return matches[0]


def _delete_rows(conn: duckdb.DuckDBPyConnection, contract: Contract, key: str) -> dict[str, int]:
    rows: dict[str, int] = {}
    with transaction(conn):
        for schema, name in dataset_tables(contract):
            if not table_exists(conn, schema, name):
                continue
            deleted = conn.execute(f"delete from {table(schema, name)} where _partition = ?",
                                   [key]).fetchall()
            rows[f"{schema}.{name}"] = int(deleted[0][0]) if deleted else 0
        if table_exists(conn, *HISTORY):
            conn.execute(f'delete from {table(*HISTORY)} where dataset = ? and "partition" = ?',
                         [contract.name, key])
    return rows


def retire(conn: duckdb.DuckDBPyConnection, instance: dg.DagsterInstance, home: Path,
           landing_dir: Path, lake_dir: Path, contracts: Sequence[Contract], what: str, *,
           purge: bool = False, reason: str = "") -> Retired:
    delivery = find_delivery(instance, landing_dir, lake_dir, contracts, what)
    contract = next(c for c in contracts if c.name == delivery.dataset)
    key = delivery.partition_key
    entry = lake.find(lake_dir, contract.name, key, retired=True)
    done = Retired(contract.name, key, delivery.landing_path or (entry.landing_path if entry else ""),
                   at=datetime.now(UTC).isoformat(timespec="seconds"),
                   by=_user(), reason=reason)
    if entry is not None:  # marked first: from now on nothing reads it, even if we stop here
        lake.mark_retired(lake_dir, contract.name, key, {**asdict(done), "state": "retiring"})
    done.rows = _delete_rows(conn, contract, key)
    if entry is not None:
        sha = entry.sha256
        for landed in scan(landing_dir, contract):
            path = landing_dir / landed.relative_path
            if landed.size == entry.size and file_hash(path) == sha:
                path.unlink()
                done.landing_removed.append(landed.relative_path)
        if purge:
            lake.remove(entry)
            done.lake = "purged"
        else:
            done.lake = "kept (retired)"
    if instance.has_dynamic_partition(partitions_def_name(contract), key):
        instance.delete_dynamic_partition(partitions_def_name(contract), key)
    record = asdict(done)
    if entry is not None:
        lake.mark_retired(lake_dir, contract.name, key, {**record, "state": "retired"})
    with (home / RETIRED_LOG).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")
    return done


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def render_retired(done: Retired) -> str:
    rows = ", ".join(f"{t} {n}" for t, n in done.rows.items() if n) or "no rows"
    lines = [f"retired {done.dataset} {done.landing_path or done.partition_key} "
             f"({done.partition_key}): deleted {rows}; lake copy {done.lake}"]
    if done.landing_removed:
        lines.append("removed from the landing folder: " + ", ".join(done.landing_removed))
    lines.append(f"recorded in {RETIRED_LOG}")
    return "\n".join(lines)


def pending_failed(instance: dg.DagsterInstance, datasets: Sequence[object]) -> list[tuple[str, str]]:
    """(dataset, partition key) of registered files whose processing failed and that are
    still waiting: no cleaned rows and their latest run failed."""
    found: list[tuple[str, str]] = []
    for dataset in datasets:
        name = dataset.contract.name  # type: ignore[attr-defined]
        keys = list(instance.get_dynamic_partitions(dataset.partitions.name))  # type: ignore[attr-defined]
        status = instance.get_status_by_partition(
            dataset.done_key, keys, dataset.partitions) or {}  # type: ignore[attr-defined]
        found.extend((name, key) for key in keys
                     if status.get(key) == dg.AssetPartitionStatus.FAILED)
    return found


def render_pending(pending: Sequence[tuple[str, str]]) -> list[str]:
    return [f"PENDING {name} {key}: its processing failed and it is retried on every run. "
            f"Deliver a fixed file under the same name, or retire it: "
            f"`dataops files discard {key}` (add --purge to delete the lake copy)"
            for name, key in pending]
