"""Declarations in, Dagster definitions out: the compilers the components call.

``build_dataset`` compiles one dataset contract (the ``Dataset`` component); ``assemble``
builds what spans every declaration of a project (the ``Platform`` component): resources,
the landing/automation/alert/report sensors, the scorecard, lake-only datasets, the curated
jobs and retention. The UI (``dg dev``) and the CLI load the same component tree, so there
is no second code path.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import dagster as dg

from dataops_platform.automation.alerts import build_alert_sensor
from dataops_platform.automation.report_sensor import build_report_sensor
from dataops_platform.automation.retention import build_retention
from dataops_platform.automation.sensors import build_landing_sensor, build_sensors
from dataops_platform.collect.extract_jobs import build_extract_jobs
from dataops_platform.collect.lake_asset import LAKE_SENSOR, LakeDataset, build_lake_dataset
from dataops_platform.collect.landing import partitions_def_name
from dataops_platform.collect.raw_asset import build_raw_asset
from dataops_platform.collect.resources import LandingZone
from dataops_platform.contracts import Contract
from dataops_platform.contracts.loader import in_dependency_order
from dataops_platform.profiles.execution import executor_for
from dataops_platform.quality.checks import build_checks
from dataops_platform.quality.rule_checks import build_rule_checks, is_rule_check
from dataops_platform.quality.scorecard import build_scorecard
from dataops_platform.resolve.assets import EntityAssets
from dataops_platform.settings import Settings
from dataops_platform.storage.io_manager import WarehouseIOManager
from dataops_platform.storage.warehouse import Warehouse
from dataops_platform.transform.cleaned_asset import build_cleaned_asset
from dataops_platform.transform.current_asset import build_current_asset
from dataops_platform.transform.wap import (
    AUDIT_PUBLISHED,
    AUDIT_TARGET_TAG,
    PublishedTable,
    ServingArea,
)


@dataclass(frozen=True)
class DatasetAssets:
    """What one contract compiles to."""

    contract: Contract
    partitions: dg.DynamicPartitionsDefinition
    raw: dg.AssetsDefinition
    cleaned: dg.AssetsDefinition
    checks: list[dg.AssetChecksDefinition]
    ingest_job: dg.UnresolvedAssetJobDefinition
    process_job: dg.UnresolvedAssetJobDefinition
    current: dg.AssetsDefinition | None = None  # when the contract declares a write mode

    @property
    def assets(self) -> list[dg.AssetsDefinition]:
        return [self.raw, self.cleaned, *([self.current] if self.current else [])]


def build_dataset(contract: Contract) -> DatasetAssets:
    partitions = dg.DynamicPartitionsDefinition(name=partitions_def_name(contract))
    raw = build_raw_asset(contract, partitions)
    cleaned = build_cleaned_asset(contract, raw, partitions)
    ingest_job = dg.define_asset_job(
        f"ingest_{contract.name}", selection=dg.AssetSelection.assets(raw.key),
        description=f"Load one landed '{contract.name}' file into raw (started by the sensor).")
    current = build_current_asset(contract, cleaned, partitions) if contract.write else None
    process_job = dg.define_asset_job(
        f"process_{contract.name}", selection=dg.AssetSelection.assets(
            raw.key, cleaned.key, *([current.key] if current else [])),
        description=f"Load and clean one '{contract.name}' file with its checks (used by the CLI).")
    # Dagster's own schema-change checks compare each materialization's runtime
    # dagster/column_schema with the previous one: a delivery with new, missing or retyped
    # columns (raw) or a contract change (cleaned) shows up as a warning.
    with warnings.catch_warnings():  # beta in 1.13; exactly the check the issue asks for
        warnings.filterwarnings("ignore", category=dg.BetaWarning,
                                message=".*build_column_schema_change_checks.*")
        schema_checks = dg.build_column_schema_change_checks(assets=[raw, cleaned])
    checks = [*build_checks(contract, cleaned, partitions),
              *build_rule_checks(contract, cleaned, partitions), *schema_checks]
    return DatasetAssets(contract, partitions, raw, cleaned, checks, ingest_job, process_job, current)


CURATED_JOB = dg.define_asset_job(
    "curated", selection=dg.AssetSelection.key_prefixes(["curated"], ["audit"], ["entities"]),
    description="Resolve the entities and rebuild every curated mart (candidate, audit checks, "
                "publish) and the scorecard.")
CURATED_CHECK_JOB_NAME = "check_curated"


def resources(settings: Settings) -> dict[str, object]:
    database = str(settings.warehouse_path)
    warehouse = Warehouse.of(settings.warehouse)
    return {
        "io_manager": WarehouseIOManager(database=database, connection_config=settings.duckdb_config,
                                         backend=warehouse.backend),
        "warehouse": warehouse,
        "landing": LandingZone(root=str(settings.landing_dir), lake_root=str(settings.lake_dir)),
        "serving_area": ServingArea(root=str(settings.serving_dir),
                                    keep_versions=settings.keep_versions),
    }


@dataclass(frozen=True)
class Platform:
    """The definitions plus the per-dataset pieces the CLI needs to drive them headless."""

    definitions: dg.Definitions
    datasets: list[DatasetAssets]
    lake_datasets: list[LakeDataset] = field(default_factory=list)  # 'format: files'
    entities: list[EntityAssets] = field(default_factory=list)
    marts: list[PublishedTable] = field(default_factory=list)


def assemble(settings: Settings, datasets: list[DatasetAssets], lake_contracts: list[Contract],
             marts: list[PublishedTable], entities: list[EntityAssets]) -> Platform:
    """What spans every declaration: ``definitions`` holds only these shared pieces (the
    components contribute their own assets); the lists are in dependency order."""
    by_name = {d.contract.name: d for d in datasets}
    datasets = [by_name[c.name] for c in in_dependency_order([d.contract for d in datasets])]
    lake_sets = [build_lake_dataset(c, dg.DynamicPartitionsDefinition(name=partitions_def_name(c)))
                 for c in sorted(lake_contracts, key=lambda c: c.name)]
    curated = [a for m in marts for a in m.assets] + [a for e in entities for a in e.assets]
    checks = [c for d in datasets for c in d.checks] + [c for m in marts for c in m.checks] \
        + [c for e in entities for c in e.all_checks] + [c for d in lake_sets for c in d.checks]
    contracts = [d.contract for d in datasets] + [d.contract for d in lake_sets]
    retention_jobs, retention_schedules = build_retention(contracts)
    extract_jobs, extract_schedules = build_extract_jobs([d.contract for d in datasets])
    scorecard = build_scorecard([d.contract for d in datasets], [d.cleaned.key for d in datasets])
    definitions = dg.Definitions(
        assets=[scorecard, *(d.asset for d in lake_sets)],
        asset_checks=[c for d in lake_sets for c in d.checks],
        jobs=[job for d in datasets for job in (d.ingest_job, d.process_job)]
        + [d.ingest_job for d in lake_sets]
        + [CURATED_JOB]  # the scorecard is always there
        + ([dg.define_asset_job(
            CURATED_CHECK_JOB_NAME, selection=dg.AssetSelection.checks_for_assets(*curated),
            tags={AUDIT_TARGET_TAG: AUDIT_PUBLISHED},
            description="Re-run the curated marts' checks on their published versions (what "
                        "users query), not on the latest candidate.")]
           if curated else []) + retention_jobs + extract_jobs,
        schedules=retention_schedules + extract_schedules,
        # per-column rule checks count expected dirt (already quarantined): not alerted
        sensors=[*build_sensors(datasets), build_alert_sensor(
            [key for c in checks for key in c.check_keys if not is_rule_check(key.name)],
            settings.alerts_log), build_report_sensor(settings.reports_dir)]
        + ([build_landing_sensor(lake_sets, name=LAKE_SENSOR)] if lake_sets else []),
        resources=resources(settings),
        # local: every run's steps in one process (a fresh process per step, the multiprocess
        # default, paid ~5 s of imports each); production: steps on Celery workers
        executor=executor_for(settings),
    )
    return Platform(definitions, datasets, lake_sets, entities, marts)


def build_platform(settings: Settings) -> Platform:
    """The project at ``settings.project_dir`` loaded with ``settings.home`` as its home."""
    from dataops_platform.project.loading import load_project  # it imports the components

    return load_project(settings.project_dir, home=settings.home)


def build_definitions(settings: Settings) -> dg.Definitions:
    return build_platform(settings).definitions
