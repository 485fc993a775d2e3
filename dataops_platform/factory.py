"""Declarations in, Dagster definitions out: the compilers the components call.

``build_dataset`` compiles one dataset contract (the ``Dataset`` component); ``assemble``
builds what spans every declaration of a project (the ``Platform`` component): resources,
the landing/automation/alert/report sensors, the scorecard, lake-only datasets, the curated
jobs and retention. The UI (``dg dev``) and the CLI load the same component tree, so there
is no second code path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg

from dataops_platform.automation.alerts import build_alert_sensor
from dataops_platform.automation.report_sensor import build_report_sensor
from dataops_platform.automation.retention import build_retention
from dataops_platform.automation.sensors import build_landing_sensor, build_sensors
from dataops_platform.collect.decisions import MAX_FILES_PER_RUN
from dataops_platform.collect.extract_jobs import build_extract_jobs
from dataops_platform.collect.lake_asset import LAKE_SENSOR, LakeDataset, build_lake_dataset
from dataops_platform.collect.landing import partitions_def_name
from dataops_platform.collect.resources import LandingZone
from dataops_platform.contracts import Contract
from dataops_platform.contracts.loader import in_dependency_order
from dataops_platform.processing import build_process_asset
from dataops_platform.profiles.execution import executor_for
from dataops_platform.quality.rule_checks import is_rule_check
from dataops_platform.quality.scorecard import build_scorecard
from dataops_platform.resolve.assets import EntityAssets
from dataops_platform.settings import Settings
from dataops_platform.storage.io_manager import WarehouseIOManager
from dataops_platform.storage.warehouse import Warehouse
from dataops_platform.transform.wap import (
    AUDIT_PUBLISHED,
    AUDIT_TARGET_TAG,
    PublishedTable,
    ServingArea,
)


@dataclass(frozen=True)
class DatasetAssets:
    """What one contract compiles to: raw, cleaned (and current) with their per-file checks
    as one subsettable step (``processing``), and the jobs the sensor and the CLI launch."""

    contract: Contract
    partitions: dg.DynamicPartitionsDefinition
    process: dg.AssetsDefinition
    ingest_job: dg.UnresolvedAssetJobDefinition
    process_job: dg.UnresolvedAssetJobDefinition

    @property
    def raw_key(self) -> dg.AssetKey:
        return dg.AssetKey(["raw", self.contract.name])

    @property
    def cleaned_key(self) -> dg.AssetKey:
        return dg.AssetKey(["cleaned", self.contract.name])

    @property
    def done_key(self) -> dg.AssetKey:  # a file is processed when its cleaned partition is
        return self.cleaned_key

    @property
    def files_per_run(self) -> int:  # files that land together: one run (``processing``)
        return MAX_FILES_PER_RUN

    @property
    def current_key(self) -> dg.AssetKey | None:  # when the contract declares a write mode
        return dg.AssetKey(["current", self.contract.name]) if self.contract.write else None

    @property
    def asset_keys(self) -> list[dg.AssetKey]:
        return [self.raw_key, self.cleaned_key, *([self.current_key] if self.current_key else [])]

    @property
    def check_keys(self) -> list[dg.AssetCheckKey]:
        return sorted(self.process.check_keys, key=lambda k: (k.asset_key.path, k.name))


def build_dataset(contract: Contract) -> DatasetAssets:
    partitions = dg.DynamicPartitionsDefinition(name=partitions_def_name(contract))
    process = build_process_asset(contract, partitions)
    raw_key = dg.AssetKey(["raw", contract.name])
    ingest_job = dg.define_asset_job(
        f"ingest_{contract.name}", selection=dg.AssetSelection.assets(raw_key),
        description=f"Load landed '{contract.name}' files into raw only.")
    process_job = dg.define_asset_job(
        f"process_{contract.name}", selection=dg.AssetSelection.assets(*process.keys),
        description=f"Load, clean, check (and apply) landed '{contract.name}' files: one file "
                    "or a batch, each its own partition (started by the landing sensor and "
                    "the CLI).")
    return DatasetAssets(contract, partitions, process, ingest_job, process_job)


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
    checks = [c for m in marts for c in m.checks] + [c for e in entities for c in e.all_checks] \
        + [c for d in lake_sets for c in d.checks]
    check_keys = [k for d in datasets for k in d.check_keys] + [k for c in checks for k in c.check_keys]
    contracts = [d.contract for d in datasets] + [d.contract for d in lake_sets]
    retention_jobs, retention_schedules = build_retention(contracts)
    extract_jobs, extract_schedules = build_extract_jobs([d.contract for d in datasets])
    scorecard = build_scorecard([d.contract for d in datasets], [d.cleaned_key for d in datasets])
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
            [key for key in check_keys if not is_rule_check(key.name)],
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
