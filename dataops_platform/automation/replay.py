"""Quarantine replay: re-validate a dataset's quarantined rows after the contract was fixed.

Raw keeps every delivered row of every file, so replaying is re-running the cleaned
partitions that hold quarantined rows with the *current* contract, through the same Dagster
job (the runs and their checks show up in the UI). Each partition is replaced atomically,
so rows that now pass move to cleaned, the rest stay quarantined with their new reasons,
and the ledger of every file still balances (``row_conservation`` runs with it). A fixed
*source* needs no replay: deliver the corrected file and it replaces the old version.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg
import duckdb

from dataops_platform.automation.one_pass import QUIET, PassResult, cli_tags, collect_result
from dataops_platform.collect.landing import partitions_def_name
from dataops_platform.factory import DatasetAssets, Platform
from dataops_platform.quality.checks import ledger
from dataops_platform.settings import Settings
from dataops_platform.storage.backends import open_warehouse, warehouse_exists
from dataops_platform.storage.sql import literal, table, table_exists
from dataops_platform.transform.cleaned_asset import quarantine_table


@dataclass
class ReplayedFile:
    """One file's ledger before and after the replay, and what still keeps rows out."""

    partition: str
    before: dict[str, int]
    after: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)  # "column:rule" -> rows still quarantined

    @property
    def released(self) -> int:
        """Rows that left the quarantine (negative: a stricter contract quarantined more)."""
        return self.before["quarantined"] - self.after.get("quarantined", 0)

    @property
    def balanced(self) -> bool:
        a = self.after
        return a.get("raw", 0) == a.get("cleaned", 0) + a.get("quarantined", 0) + a.get("duplicates", 0)


@dataclass
class ReplayResult:
    dataset: str
    files: list[ReplayedFile]
    run: PassResult


class ReplayError(Exception):
    """The replay cannot start; the message says why and what to do."""


def dataset_named(platform: Platform, name: str) -> DatasetAssets:
    for dataset in platform.datasets:
        if dataset.contract.name == name:
            return dataset
    known = ", ".join(d.contract.name for d in platform.datasets)
    raise ReplayError(f"No dataset '{name}' in the contracts (known: {known}).")


def _quarantined_partitions(conn: duckdb.DuckDBPyConnection, dataset: DatasetAssets,
                            only: str | None) -> list[str]:
    place = quarantine_table(dataset.contract)
    if not table_exists(conn, *place):
        return []
    where = f"where _partition = {literal(only)}" if only else ""
    return [r[0] for r in conn.execute(
        f"select distinct _partition from {table(*place)} {where} order by 1").fetchall()]


def _reasons(conn: duckdb.DuckDBPyConnection, dataset: DatasetAssets, key: str) -> dict[str, int]:
    place = quarantine_table(dataset.contract)
    if not table_exists(conn, *place):
        return {}
    return {f"{c}:{r}": int(n) for c, r, n in conn.execute(
        f'select "column", rule, count(*) from {table(*place)} where _partition = ? '
        "group by 1, 2 order by 3 desc, 1, 2", [key]).fetchall()}


def replay(settings: Settings, platform: Platform, instance: dg.DagsterInstance, name: str,
           partition: str | None = None) -> ReplayResult:
    """Re-run cleaned (with its checks) for every file of ``name`` that has quarantined rows."""
    dataset = dataset_named(platform, name)
    if not warehouse_exists(settings.warehouse):
        raise ReplayError("Nothing to replay: no warehouse in this home yet (`dataops run`).")
    registered = set(instance.get_dynamic_partitions(partitions_def_name(dataset.contract)))
    conn = open_warehouse(settings.warehouse)
    try:
        keys = [k for k in _quarantined_partitions(conn, dataset, partition) if k in registered]
        files = [ReplayedFile(k, ledger(conn, dataset.contract, k)) for k in keys]
    finally:
        conn.close()
    if partition and not keys:
        raise ReplayError(f"File '{partition}' of '{name}' has no quarantined rows (or is not a "
                          "registered file); `dataops trace` lists a dataset's files.")
    run = PassResult()
    job = platform.definitions.resolve_job_def(dataset.process_job.name)
    for file in files:  # cleaned (and current): raw already holds the file's rows as delivered
        result = job.execute_in_process(
            instance=instance, partition_key=file.partition,
            asset_selection=[k for k in dataset.asset_keys if k != dataset.raw_key],
            raise_on_error=False, run_config=QUIET, tags={**cli_tags(), "dataops/replay": name})
        collect_result(instance, result, run)
    conn = open_warehouse(settings.warehouse)
    try:
        for file in files:
            file.after = ledger(conn, dataset.contract, file.partition)
            file.reasons = _reasons(conn, dataset, file.partition)
    finally:
        conn.close()
    return ReplayResult(name, files, run)
