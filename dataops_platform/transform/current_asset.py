"""``current/<dataset>``: the dataset as consumers query it, maintained by its write mode.

Declared with ``write:`` in the contract. Partitioned like cleaned (one partition per
file) so each landed file is applied once, in partition order, after its checks passed
(a failed blocking check on cleaned holds it back; see ``processing``).
"""


import dagster as dg
import duckdb

from dataops_platform.collect.raw_asset import PARTITION_COLUMN, owners, same_file_versions
from dataops_platform.contracts.model import Contract, WriteMode
from dataops_platform.storage.backends import retry_conflicts
from dataops_platform.storage.io_manager import ensure_table
from dataops_platform.storage.metadata import column_schema, count
from dataops_platform.storage.sql import fetch_one, literal, quote_ident
from dataops_platform.transform.write_modes import plan_write, sort_columns, target_shape

LAYER = "current"  # the asset group: the graph shows each layer as one box


def apply_partition(conn: duckdb.DuckDBPyConnection, contract: Contract,
                    partition_key: str) -> dict:
    """Apply one cleaned file to current.<dataset> in one transaction; return metadata."""
    # created shaped like cleaned; a contract that gained columns adds them here too
    plan = plan_write(contract, partition_key, same_file_versions(partition_key))
    shape = target_shape(contract)

    def apply() -> tuple[str, int]:
        target = ensure_table(conn, "current", contract.name, shape)
        before = count(conn, target)
        for statement in plan.statements:
            conn.execute(statement)
        return target, before

    # one transaction, re-run if a concurrent DuckLake writer won the commit; writers of
    # current.<dataset> take turns there (merge/history read the table they rewrite)
    target, before = retry_conflicts(conn, apply, lock=[f"current.{contract.name}"])
    write = contract.write
    assert write is not None
    metadata: dict = {
        "write_mode": write.mode.value,
        "sorted_by": ", ".join(sort_columns(contract)),
        "dagster/row_count": count(conn, target),
        "rows_before": before,
        "rows_from_this_file": count(conn, target, f"{PARTITION_COLUMN} = {literal(partition_key)}"),
        "dagster/column_schema": column_schema(conn, target),
    }
    if write.mode is WriteMode.history:
        keys = ", ".join(quote_ident(k) for k in contract.write_key)
        metadata["keys"] = int(fetch_one(conn, f"select count(*) from (select distinct {keys} "
                                               f"from {target})")[0])
        metadata["current_versions"] = count(conn, target, "is_current")
    return metadata


def current_spec(contract: Contract,
                 partitions_def: dg.DynamicPartitionsDefinition) -> dg.AssetSpec:
    """``current/<dataset>`` as the UI shows it; applied file by file by ``processing``."""
    write = contract.write
    assert write is not None
    return dg.AssetSpec(
        key=["current", contract.name],
        deps=[dg.AssetKey(["cleaned", contract.name])],
        partitions_def=partitions_def,
        group_name=LAYER,
        kinds={"duckdb", "sql"},
        owners=owners(contract),
        tags={"layer": "current", "domain": contract.group_name, "write_mode": write.mode.value,
              **contract.tags},
        description=f"{contract.description}\n\nCurrent table, maintained file by file in "
                    f"'{write.mode.value}' mode (see the contract's write section).",
        metadata={"partition_expr": PARTITION_COLUMN, "contract": contract.name,
                  "dagster/table_name": f"current.{contract.name}"},
    )
