"""Lake-only datasets (``format: files``): any file type kept in the lake and catalogued.

A contract without columns whose source format is ``files`` (logs, PDFs, images, zipped
exports) compiles to one asset, ``lake/<dataset>``: per landed file (one dynamic
partition, registered by the ``lake_sensor`` with the same decision logic as tables) it
copies the file into the lake and records one catalogue row in the warehouse table
``lake.<dataset>`` (path, size, sha256, media type, arrival time, partition). Checks per
file: ``catalogued`` (blocking: the lake copy exists with the recorded hash) and, when the
contract's ``files`` section says so, ``media_type`` and ``max_size``.
"""

import fnmatch
import warnings
from dataclasses import dataclass

import dagster as dg

from dataops_platform.collect import lake
from dataops_platform.collect.raw_asset import PARTITION_COLUMN, owners, preserved, same_file_versions
from dataops_platform.collect.resources import LandingZone
from dataops_platform.contracts.model import Contract
from dataops_platform.storage.io_manager import StagedTables
from dataops_platform.storage.metadata import staging_name
from dataops_platform.storage.partition_keys import require_partition_key
from dataops_platform.storage.sql import literal
from dataops_platform.storage.warehouse import POOL, Warehouse

LAYER = "lake"  # the asset group: the graph shows each layer as one box

LAKE_SENSOR = "lake_sensor"


@dataclass(frozen=True)
class LakeDataset:
    """What a lake-only contract compiles to (shaped like DatasetAssets where the landing
    decision and the headless pass use it: contract, partitions, ingest/process jobs)."""

    contract: Contract
    partitions: dg.DynamicPartitionsDefinition
    asset: dg.AssetsDefinition
    checks: list[dg.AssetChecksDefinition]
    ingest_job: "dg.UnresolvedAssetJobDefinition"

    @property
    def process_job(self) -> "dg.UnresolvedAssetJobDefinition":
        return self.ingest_job

    @property
    def done_key(self) -> dg.AssetKey:  # a file is processed when this is materialized
        return self.asset.key

    @property
    def files_per_run(self) -> int:  # a lake file is a copy and a catalogue row: one per run
        return 1


def build_lake_asset(contract: Contract,
                     partitions_def: dg.DynamicPartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=["lake", contract.name],
        partitions_def=partitions_def,
        group_name=LAYER,
        kinds={"duckdb", "files"},
        pool=POOL,
        owners=owners(contract),
        tags={"layer": "lake", "domain": contract.group_name, **contract.tags},
        description=f"{contract.description}\n\nLake-only: each landed file preserved as is "
                    "and catalogued (path, size, hash, media type, arrival).",
        metadata={"partition_expr": PARTITION_COLUMN, "contract": contract.name},
    )
    def lake_files(context: dg.AssetExecutionContext, warehouse: Warehouse,
                   landing: LandingZone) -> dg.Output[StagedTables]:
        key = require_partition_key(context.partition_key)
        entry = preserved(contract, key, landing)
        staged = staging_name("lake", contract.name, key)
        with warehouse.get_connection() as conn:
            conn.execute(
                f"create or replace table {staged} as select {literal(key)} as {PARTITION_COLUMN}, "
                f"{literal(entry.landing_path)} as landing_path, {literal(str(entry.path))} as "
                f"lake_path, {literal(entry.file_name)} as file_name, {int(entry.size)}::bigint "
                f"as size_bytes, {literal(entry.sha256)} as sha256, {literal(entry.media_type)} "
                f"as media_type, cast({literal(entry.arrived_at)} as timestamp) as arrived_at, "
                f"{literal(context.run.run_id)} as _run_id")
        context.log.info(f"{entry.landing_path}: {entry.size} bytes, {entry.media_type}, in the lake")
        return dg.Output(StagedTables(main=staged, replace_where=same_file_versions(key)),
                         metadata={"lake_copy": dg.MetadataValue.path(str(entry.path)),
                                   "size_bytes": entry.size, "sha256": entry.sha256,
                                   "media_type": entry.media_type, "arrived_at": entry.arrived_at})

    return lake_files


def _allowed(media_type: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(media_type, p) for p in patterns)


def build_lake_checks(contract: Contract, asset: dg.AssetsDefinition,
                      partitions_def: dg.DynamicPartitionsDefinition,
                      ) -> list[dg.AssetChecksDefinition]:
    rules = contract.files
    specs: list[tuple[str, bool, str]] = [
        ("catalogued", True, "The file's lake copy exists and has the recorded sha256.")]
    if rules and rules.media_types:
        specs.append(("media_type", True, f"The file's media type is one of {rules.media_types}."))
    if rules and rules.max_bytes:
        specs.append(("max_size", True, f"The file is at most {rules.max_bytes} bytes."))

    def evaluate(name: str, entry: lake.LakeEntry | None) -> dg.AssetCheckResult:
        if entry is None:
            return dg.AssetCheckResult(passed=False, metadata={"problem": "not in the lake"})
        if name == "catalogued":
            problem = lake.verify(entry)
            return dg.AssetCheckResult(passed=problem is None,
                                       metadata={"problem": problem or "none",
                                                 "lake_copy": str(entry.path)})
        if name == "media_type":
            return dg.AssetCheckResult(
                passed=_allowed(entry.media_type, rules.media_types or []),  # type: ignore[union-attr]
                metadata={"media_type": entry.media_type})
        return dg.AssetCheckResult(passed=entry.size <= (rules.max_bytes or 0),  # type: ignore[union-attr]
                                   metadata={"size_bytes": entry.size})

    def make(name: str, blocking: bool, description: str) -> dg.AssetChecksDefinition:
        @dg.asset_check(asset=asset, name=name, blocking=blocking, partitions_def=partitions_def,
                        description=description)
        def lake_check(context: dg.AssetCheckExecutionContext,
                       landing: LandingZone) -> dg.AssetCheckResult:
            return evaluate(name, lake.find(landing.lake_path, contract.name,
                                                   require_partition_key(context.partition_key)))

        return lake_check

    with warnings.catch_warnings():  # partitioned checks are preview in 1.13 (as in quality/)
        warnings.filterwarnings("ignore", message=".*partitions_def on an AssetCheckSpec.*",
                                category=dg.PreviewWarning)
        return [make(*spec) for spec in specs]


def build_lake_dataset(contract: Contract, partitions_def: dg.DynamicPartitionsDefinition,
                       ) -> LakeDataset:
    asset = build_lake_asset(contract, partitions_def)
    job = dg.define_asset_job(
        f"ingest_{contract.name}", selection=dg.AssetSelection.assets(asset.key),
        description=f"Keep one landed '{contract.name}' file in the lake and catalogue it.")
    return LakeDataset(contract, partitions_def, asset,
                       build_lake_checks(contract, asset, partitions_def), job)
