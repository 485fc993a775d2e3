"""``cleaned/<dataset>``: typed, standardized, validated and de-duplicated, per landed file.

The heavy lifting runs in DuckDB (compiled from the contract by ``cleaning.py``); the
results are published with the quarantine and duplicates records in one transaction.
"""


import json

import dagster as dg
import duckdb

from dataops_platform.collect.raw_asset import PARTITION_COLUMN, owners, same_file_versions
from dataops_platform.collect.readers import DELIVERED_COLUMNS
from dataops_platform.contracts.model import Contract, parse_duration
from dataops_platform.quality.profile import profile
from dataops_platform.storage.io_manager import StagedTables, TableRef
from dataops_platform.storage.metadata import column_schema, preview, staging_name
from dataops_platform.storage.partition_keys import validate_partition_key
from dataops_platform.storage.sql import fetch_one
from dataops_platform.transform.cleaning import plan_cleaning

LAYER = "cleaned"  # the asset group: the graph shows each layer as one box


def quarantine_table(contract: Contract) -> tuple[str, str]:
    """(schema, table) of the rows that failed an error rule."""
    return ("quarantine", contract.name)


def duplicates_table(contract: Contract) -> tuple[str, str]:
    """(schema, table) of the rows removed as repeats of a primary key in their file."""
    return ("quarantine", f"{contract.name}__duplicates")


def _delivered(conn: duckdb.DuckDBPyConnection, raw: TableRef) -> list[str]:
    row = fetch_one(conn, raw.select(DELIVERED_COLUMNS) + " limit 1")
    return list(json.loads(row[0])) if row and row[0] is not None else []


def _rule_counts(conn: duckdb.DuckDBPyConnection, quarantine: str,
                 cleaned: str) -> dict[str, int]:
    """Violations per ``column:rule``: error rules from the quarantine, warn rules kept."""
    counts: dict[str, int] = {}
    for name, n in conn.execute(
        f'select "column" || \':\' || rule, count(*) from {quarantine} group by 1 order by 2 desc'
    ).fetchall():
        counts[f"error {name}"] = int(n)
    for name, n in conn.execute(
        f"select w, count(*) from (select unnest(_warnings) as w from {cleaned}) "
        "group by 1 order by 2 desc"
    ).fetchall():
        counts[f"warn {name}"] = int(n)
    return counts


def clean_partition(conn: duckdb.DuckDBPyConnection, contract: Contract, raw: TableRef,
                    partition_key: str) -> tuple[StagedTables, dict]:
    """Evaluate one partition once; hand its three splits to the IO manager as queries.

    The evaluated table is the only intermediate: cleaned, quarantine and duplicates rows
    are written straight into their tables when the IO manager publishes them.
    """
    validate_partition_key(partition_key)
    evaluated = staging_name("eval", contract.name, partition_key)
    plan = plan_cleaning(contract, raw.select(), _delivered(conn, raw), evaluated,
                         staging_name("flagged", contract.name, partition_key))
    conn.execute(plan.evaluate)
    cleaned, quarantine, duplicates = (f"({plan.cleaned})", f"({plan.quarantine})",
                                       f"({plan.duplicates})")
    rows_in, quarantined, dups = fetch_one(
        conn, f"select count(*), coalesce(count_if(_has_error), 0), "
              f"coalesce(count_if(not _has_error and _occurrence > 1), 0) from {evaluated}")
    metadata: dict = {
        "rows_in": int(rows_in),
        "rows_cleaned": int(rows_in - quarantined - dups),
        "rows_quarantined": int(quarantined),
        "rows_duplicates": int(dups),
        "violations": dg.MetadataValue.json(_rule_counts(conn, quarantine, cleaned)),
        "missing_columns": ", ".join(plan.missing_columns) or "none",
        "unexpected_columns": ", ".join(plan.unexpected_columns) or "none",
        "dagster/column_schema": column_schema(
            conn, cleaned, {c.name: c.description for c in contract.columns}),
        "preview": preview(conn, cleaned),
        **profile(conn, cleaned, [c.name for c in contract.columns]),
        "quarantine_sample": preview(
            conn, quarantine, '_source_file, _row_number, "column", rule, value'),
    }
    tables = StagedTables(
        main=cleaned,
        side={".".join(quarantine_table(contract)): quarantine,
              ".".join(duplicates_table(contract)): duplicates},
        replace_where=same_file_versions(partition_key),
        cleanup=(evaluated,),
    )
    return tables, metadata


def freshness_policy(contract: Contract) -> dg.FreshnessPolicy | None:
    """The contract's delivery rhythm as a Dagster freshness policy (shown in the UI)."""
    if contract.freshness is None:
        return None
    warn = contract.freshness.warn_after
    return dg.FreshnessPolicy.time_window(
        fail_window=parse_duration(contract.freshness.fail_after),
        warn_window=parse_duration(warn) if warn else None)


def cleaned_spec(contract: Contract,
                 partitions_def: dg.DynamicPartitionsDefinition) -> dg.AssetSpec:
    """``cleaned/<dataset>`` as the UI shows it; built file by file by ``processing``."""
    return dg.AssetSpec(
        key=["cleaned", contract.name],
        deps=[dg.AssetKey(["raw", contract.name])],
        partitions_def=partitions_def,
        group_name=LAYER,
        kinds={"duckdb", "sql"},
        owners=owners(contract),
        tags={"layer": "cleaned", "domain": contract.group_name, **contract.tags},
        freshness_policy=freshness_policy(contract),
        description=f"{contract.description}\n\nCleaned layer: typed and standardized by the "
                    f"'{contract.name}' contract; rows failing an error rule are in "
                    f"{'.'.join(quarantine_table(contract))}, in-file duplicates in "
                    f"{'.'.join(duplicates_table(contract))}.",
        metadata={"partition_expr": PARTITION_COLUMN, "contract": contract.name,
                  "dagster/table_name": f"cleaned.{contract.name}"},
    )
