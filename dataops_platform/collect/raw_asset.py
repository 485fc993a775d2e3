"""``raw/<dataset>``: one partition per landed file, rows exactly as delivered plus lineage.

The asset is materialized by ``dataops_platform.processing`` (a file's raw, cleaned, checks
and current in one step); this module stages one file's rows."""


from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from dataops_platform.collect import compression, lake
from dataops_platform.collect.extract import read_manifest
from dataops_platform.collect.landing import (
    LandedFileNotFound,
    resolve_partition,
    split_partition_key,
)
from dataops_platform.collect.readers import ReadError, numbered, stage_file
from dataops_platform.collect.resources import LandingZone
from dataops_platform.collect.schema_policy import SchemaFrozen, apply_schema_policy
from dataops_platform.contracts.model import Contract
from dataops_platform.storage.io_manager import StagedTables
from dataops_platform.storage.metadata import column_schema, count, preview, staging_name
from dataops_platform.storage.partition_keys import validate_partition_key
from dataops_platform.storage.sql import literal

LAYER = "raw"  # the asset group: the graph shows each layer as one box

PARTITION_COLUMN = "_partition"


def same_file_versions(partition_key: str) -> str:
    """SQL predicate matching every stored version of this partition's file.

    A changed file is a new partition; writing it replaces the rows of its earlier
    versions, so the tables hold each landed file once, at its latest content.
    """
    file_slug, _ = split_partition_key(validate_partition_key(partition_key))
    return f"split_part({PARTITION_COLUMN}, '@', 1) = {literal(file_slug)}"


def owners(contract: Contract) -> list[str]:
    return [contract.owner if "@" in contract.owner else f"team:{contract.owner}"]


def preserved(contract: Contract, key: str, landing: LandingZone) -> lake.LakeEntry:
    """The partition's file in the lake: copied there from landing on first ingest.

    Once preserved, the lake copy is what is read, so the landing file may be deleted.
    """
    entry = lake.find(landing.lake_path, contract.name, key)
    if entry is not None and lake.verify(entry) is None:
        return entry
    try:
        path, digest = resolve_partition(landing.path, contract, key)
        return lake.preserve(landing.lake_path, contract.name, key, path,
                             path.relative_to(landing.path).as_posix(), digest,
                             details=read_manifest(path))  # an extraction's query and cursor
    except (LandedFileNotFound, lake.LakeError) as exc:
        problem = lake.verify(entry) if entry is not None else None
        raise dg.Failure(description=str(exc) + (f"; {problem}" if problem else ""),
                         allow_retries=False) from None


@contextmanager
def _plain(entry: lake.LakeEntry, landing: LandingZone) -> Iterator[Path]:
    """The lake copy's uncompressed bytes (a zip member, a .gz...), or a Failure naming why not."""
    try:
        with compression.plain(entry.path, entry.member or None) as path:
            yield path
    except compression.CompressionError as exc:
        raise dg.Failure(description=f"{landing.path / entry.landing_path} cannot be read: {exc}. "
                                     "Nothing of this file was loaded; earlier files are unaffected.",
                         metadata={"file": entry.landing_path, "problem": str(exc)},
                         allow_retries=False) from None


def _rejected(conn: duckdb.DuckDBPyConnection, staged: str, description: str, metadata: dict) -> dg.Failure:
    """A file rejected whole: its staged rows are dropped (nothing of it is kept) and the
    failure names why; retrying the same bytes cannot help."""
    conn.execute(f"drop table if exists {staged}")
    return dg.Failure(description=description, metadata=metadata, allow_retries=False)


# Raw keeps undeclared columns (for the lake and schema drift), but a file with thousands of
# them would widen raw for good, and committing that many columns exhausts DuckDB's memory
# limit: such a file is rejected whole, with a message.
MAX_UNDECLARED_COLUMNS = 200


def raw_spec(contract: Contract, partitions_def: dg.DynamicPartitionsDefinition) -> dg.AssetSpec:
    """``raw/<dataset>`` as the UI shows it; loaded file by file by ``processing``."""
    return dg.AssetSpec(
        key=["raw", contract.name],
        partitions_def=partitions_def,
        group_name=LAYER,
        kinds={"duckdb", contract.source.format.value},
        owners=owners(contract),
        tags={"layer": "raw", "domain": contract.group_name, **contract.tags},
        description=f"{contract.description}\n\nRaw layer: one partition per landed file, "
                    "values as delivered (text) plus lineage columns.",
        metadata={"partition_expr": PARTITION_COLUMN, "contract": contract.name,
                  "dagster/table_name": f"raw.{contract.name}"},
    )


def load_raw(conn: duckdb.DuckDBPyConnection, contract: Contract, key: str,
             landing: LandingZone, run_id: str) -> tuple[StagedTables, dict]:
    """Stage one landed file's rows as delivered (plus lineage) for publishing into raw.

    Raises ``dg.Failure`` naming the file when it is rejected whole (unreadable, not this
    dataset's, too wide, a frozen schema drifted): nothing of it is staged then.
    """
    entry = preserved(contract, key, landing)
    relative = entry.landing_path
    digest = (entry.details or {}).get("member_sha256", entry.sha256)  # a zip member's own
    staged = staging_name("raw", contract.name, key)
    ingested_at = entry.arrived_at  # a rebuild reproduces the very same rows
    with _plain(entry, landing) as path:
        try:
            delivered = stage_file(conn, contract, path, staged, {
                PARTITION_COLUMN: literal(key),
                "_source_file": literal(relative),
                "_content_hash": literal(digest),
                "_ingested_at": f"cast({literal(ingested_at)} as timestamp)",
                "_run_id": literal(run_id),
            })
        except ReadError as exc:
            raise dg.Failure(  # named as delivered, not by its lake copy
                description=str(exc).replace(str(path), str(landing.path / relative)),
                metadata={"file": relative, "problem": exc.detail},
                allow_retries=False,
            ) from None
        if delivered and not any(c.source_name in delivered for c in contract.columns):
            raise _rejected(conn, staged,
                description=f"{relative} was rejected: none of the {len(contract.columns)} "
                            f"columns of the '{contract.name}' contract was delivered "
                            f"(expected {[c.source_name for c in contract.columns]}, got "
                            f"{delivered[:20]}). Nothing of this file was loaded. Deliver it "
                            "with its header, or fix the contract's column names/rename_from.",
                metadata={"file": relative})
        declared = {c.source_name for c in contract.columns}
        undeclared = [c for c in delivered if c not in declared]
        if len(undeclared) > MAX_UNDECLARED_COLUMNS:
            raise _rejected(conn, staged,
                description=f"{relative} was rejected: {len(undeclared):,} of its "
                            f"{len(delivered):,} columns are not in the '{contract.name}' "
                            f"contract (at most {MAX_UNDECLARED_COLUMNS} are kept in raw; "
                            f"first ones: {undeclared[:5]}). Nothing of this file was "
                            "loaded. Is it the right file for this dataset? Deliver it "
                            "without them, or declare the columns you need.",
                metadata={"file": relative, "undeclared_columns": len(undeclared)})
        try:
            drift = apply_schema_policy(conn, contract, path, relative, staged, delivered)
        except SchemaFrozen as exc:
            raise _rejected(conn, staged, description=str(exc), metadata={
                "file": relative, "schema_drift": exc.drift.describe()}) from None
    metadata = {
        "source_file": dg.MetadataValue.path(str(landing.path / relative)),
        "lake_copy": dg.MetadataValue.path(str(entry.path)),
        "content_hash": digest,
        "rows": count(conn, staged),
        "delivered_columns": ", ".join(delivered) or "(none: empty file)",
        **drift,
        "dagster/column_schema": column_schema(conn, numbered(staged)),
        "preview": preview(conn, staged),
    }
    return (StagedTables(main=numbered(staged), cleanup=(staged,),
                         replace_where=same_file_versions(key)), metadata)
