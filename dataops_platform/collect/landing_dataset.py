"""What the landing decision and the headless pass need of a dataset, table or lake-only."""

from __future__ import annotations

from typing import Protocol

import dagster as dg

from dataops_platform.contracts.model import Contract


class LandingDataset(Protocol):
    """Shared by ``factory.DatasetAssets`` and ``lake_asset.LakeDataset``."""

    @property
    def contract(self) -> Contract: ...

    @property
    def partitions(self) -> dg.DynamicPartitionsDefinition: ...

    @property
    def ingest_job(self) -> dg.UnresolvedAssetJobDefinition: ...

    @property
    def process_job(self) -> dg.UnresolvedAssetJobDefinition: ...

    @property
    def done_key(self) -> dg.AssetKey: ...  # a file is processed when this is materialized

    @property
    def files_per_run(self) -> int: ...  # how many files one run may take (a batch)
