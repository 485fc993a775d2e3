"""The platform component: a project's settings and everything that spans its declarations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import dagster as dg
from pydantic import BaseModel, ConfigDict, Field

from dataops_platform.components.dataset import Dataset
from dataops_platform.components.entity import Entity
from dataops_platform.components.mart import Mart
from dataops_platform.factory import Platform as Assembly
from dataops_platform.factory import assemble
from dataops_platform.project.checks import cross_problems
from dataops_platform.settings import Settings


class WarehouseSettings(BaseModel):
    """``warehouse:``: which backend holds the tables. The DuckLake catalog's connection string
    is never declared here: it is read from the environment variable ``catalog_env``."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["duckdb", "ducklake"] = Field(
        default="duckdb", description="duckdb: one file under the home, one writer at a time; "
        "ducklake: catalog in PostgreSQL, Parquet data files, several writers ($DATAOPS_WAREHOUSE)")
    data_path: str = Field(default="", description="DuckLake's data files (default "
                           "<home>/lake_data; relative to the project; $DATAOPS_DUCKLAKE_DATA_PATH)")
    pool_limit: Annotated[int, Field(ge=1)] = Field(
        default=8, description="Warehouse writers at once on DuckLake (the DuckDB file always "
        "has 1; $DATAOPS_WAREHOUSE_POOL_LIMIT)")


class PlatformSettings(BaseModel):
    """``defs/platform/defs.yaml``; the DATAOPS_* environment variables override each."""

    model_config = ConfigDict(extra="forbid")

    home: str = Field(default=".dataops", description="Where everything is written (landing "
                      "folder, lake, warehouse, Dagster instance); relative to the project.")
    duckdb_memory_limit: str = Field(default="1GB", description="DuckDB's memory cap per "
                                     "process; it spills to disk beyond it.")
    keep_versions: Annotated[int, Field(ge=2)] = Field(
        default=5, description="Published versions kept per mart (the live one and rollback "
                               "targets), with their serving files.")
    profile: Literal["local", "production"] = Field(
        default="local", description="local: SQLite Dagster instance, steps in the run's "
        "process; production: Dagster on PostgreSQL, queued runs, steps on Celery workers "
        "(DATAOPS_PROFILE or `--profile` override it).")
    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings)


class Platform(dg.Component):
    """Settings plus the shared pieces: resources (warehouse, landing zone, serving area),
    the landing, automation, alert and report sensors, the quality scorecard, lake-only
    datasets, the curated jobs and retention schedules. One per project."""

    def __init__(self, attributes: PlatformSettings, project_root: Path) -> None:
        self.attributes = attributes
        self.project_root = project_root
        self.assembled: Assembly | None = None

    @classmethod
    def get_model_cls(cls) -> type[BaseModel]:
        return PlatformSettings

    @classmethod
    def load(cls, attributes: BaseModel | None, context: dg.ComponentLoadContext) -> Platform:
        model = attributes if isinstance(attributes, PlatformSettings) else PlatformSettings()
        return cls(model, context.project_root)

    def settings(self) -> Settings:
        return Settings.resolve(self.project_root, home=self.attributes.home,
                                duckdb_memory_limit=self.attributes.duckdb_memory_limit,
                                keep_versions=self.attributes.keep_versions,
                                profile=self.attributes.profile,
                                warehouse=self.attributes.warehouse.model_dump())

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        tree = context.component_tree
        datasets = tree.get_all_components(of_type=Dataset)
        marts = tree.get_all_components(of_type=Mart)
        entities = tree.get_all_components(of_type=Entity)
        cross_problems(datasets, marts, entities).raise_if_any()
        self.assembled = assemble(
            self.settings(), [d.compiled for d in datasets if d.compiled is not None],
            [d.contract for d in datasets if d.compiled is None],
            [m.compiled for m in marts], [e.compiled for e in entities])
        return self.assembled.definitions
