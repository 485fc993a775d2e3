"""``cleaned/<dataset>``: typed, standardized, validated and de-duplicated, per landed file.

The heavy lifting runs in DuckDB (compiled from the contract by ``cleaning.py``); the
results are published with the quarantine and duplicates records in one transaction.
"""


import dagster as dg
import duckdb

from dataops_platform.collect.raw_asset import PARTITION_COLUMN, owners, same_file_versions
from dataops_platform.collect.readers import DELIVERED_COLUMNS
from dataops_platform.contracts.model import Contract
from dataops_platform.storage.io_manager import StagedTables, TableRef
from dataops_platform.storage.metadata import column_schema, count, preview, staging_name
from dataops_platform.storage.sql import fetch_one
from dataops_platform.storage.warehouse import POOL, Warehouse
from dataops_platform.transform.cleaning import plan_cleaning


def quarantine_table(contract: Contract) -> str:
    return f"quarantine.{contract.name}"


def duplicates_table(contract: Contract) -> str:
    return f"quarantine.{contract.name}__duplicates"


def _delivered(conn: duckdb.DuckDBPyConnection, raw: TableRef) -> list[str]:
    row = fetch_one(conn, raw.select(DELIVERED_COLUMNS) + " limit 1")
    return list(row[0]) if row and row[0] is not None else []


def _rule_counts(conn: duckdb.DuckDBPyConnection, staged_quarantine: str,
                 staged_cleaned: str) -> dict[str, int]:
    """Violations per ``column:rule``: error rules from the quarantine, warn rules kept."""
    counts: dict[str, int] = {}
    for name, n in conn.execute(
        f'select "column" || \':\' || rule, count(*) from {staged_quarantine} group by 1 '
        "order by 2 desc"
    ).fetchall():
        counts[f"error {name}"] = int(n)
    for name, n in conn.execute(
        f"select w, count(*) from (select unnest(_warnings) as w from {staged_cleaned}) "
        "group by 1 order by 2 desc"
    ).fetchall():
        counts[f"warn {name}"] = int(n)
    return counts


def clean_partition(conn: duckdb.DuckDBPyConnection, contract: Contract, raw: TableRef,
                    partition_key: str) -> tuple[StagedTables, dict]:
    """Stage cleaned/quarantine/duplicates for one partition; return them and the ledger."""
    evaluated = staging_name("eval", contract.name, partition_key)
    staged = {part: staging_name(part, contract.name, partition_key)
              for part in ("cleaned", "quarantine", "duplicates")}
    plan = plan_cleaning(contract, raw.select(), _delivered(conn, raw), evaluated)
    conn.execute(plan.evaluate)
    conn.execute(f"create or replace table {staged['cleaned']} as {plan.cleaned}")
    conn.execute(f"create or replace table {staged['quarantine']} as {plan.quarantine}")
    conn.execute(f"create or replace table {staged['duplicates']} as {plan.duplicates}")
    conn.execute(f"drop table {evaluated}")
    ledger = {
        "rows_in": count(conn, raw.qualified, raw.where),
        "cleaned": count(conn, staged["cleaned"]),
        "quarantined": count(conn, staged["quarantine"]),
        "duplicates": count(conn, staged["duplicates"]),
    }
    metadata: dict = {
        **{f"rows_{k}" if k != "rows_in" else k: v for k, v in ledger.items()},
        "violations": dg.MetadataValue.json(_rule_counts(conn, staged["quarantine"],
                                                         staged["cleaned"])),
        "missing_columns": ", ".join(plan.missing_columns) or "none",
        "unexpected_columns": ", ".join(plan.unexpected_columns) or "none",
        "dagster/column_schema": column_schema(
            conn, staged["cleaned"], {c.name: c.description for c in contract.columns}),
        "preview": preview(conn, staged["cleaned"]),
        "quarantine_sample": preview(
            conn, staged["quarantine"], '_source_file, _row_number, "column", rule, value'),
    }
    tables = StagedTables(
        main=staged["cleaned"],
        side={quarantine_table(contract): staged["quarantine"],
              duplicates_table(contract): staged["duplicates"]},
        replace_where=same_file_versions(partition_key),
    )
    return tables, metadata


def build_cleaned_asset(contract: Contract, raw_asset: dg.AssetsDefinition,
                        partitions_def: dg.DynamicPartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=["cleaned", contract.name],
        ins={"raw": dg.AssetIn(key=raw_asset.key)},
        partitions_def=partitions_def,
        group_name=contract.group_name,
        kinds={"duckdb", "sql"},
        pool=POOL,
        owners=owners(contract),
        tags={"layer": "cleaned", **contract.tags},
        automation_condition=dg.AutomationCondition.eager(),
        description=f"{contract.description}\n\nCleaned layer: typed and standardized by the "
                    f"'{contract.name}' contract; rows failing an error rule are in "
                    f"{quarantine_table(contract)}, in-file duplicates in "
                    f"{duplicates_table(contract)}.",
        metadata={"partition_expr": PARTITION_COLUMN, "contract": contract.name},
    )
    def cleaned(context: dg.AssetExecutionContext, raw: TableRef,
                warehouse: Warehouse) -> dg.Output[StagedTables]:
        with warehouse.get_connection() as conn:
            tables, metadata = clean_partition(conn, contract, raw, context.partition_key)
        context.log.info(
            f"{context.partition_key}: {metadata['rows_in']} in, {metadata['rows_cleaned']} "
            f"cleaned, {metadata['rows_quarantined']} quarantined, "
            f"{metadata['rows_duplicates']} duplicates")
        return dg.Output(tables, metadata=metadata)

    return cleaned
