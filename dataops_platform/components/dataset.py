"""The dataset component: one contract (its YAML attributes) compiled to assets and checks."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import dagster as dg
from pydantic import BaseModel

from dataops_platform.components.scaffold import YamlScaffolder
from dataops_platform.contracts.model import Contract
from dataops_platform.factory import DatasetAssets, build_dataset
from dataops_platform.storage.metadata import code_reference


@dg.scaffold_with(YamlScaffolder)
class Dataset(dg.Component):
    """A dataset contract: where files land, their columns, types, rules and write mode.

    The attributes are the contract itself (see the README's contract reference); the
    component compiles them to ``raw/<name>`` and ``cleaned/<name>`` (one partition per
    landed file), ``current/<name>`` when a write mode is declared, and the contract's checks.
    """

    def __init__(self, contract: Contract, declared_in: Path | None = None) -> None:
        self.contract = contract
        self.declared_in = declared_in

    @classmethod
    def get_model_cls(cls) -> type[BaseModel]:
        return Contract

    @classmethod
    def load(cls, attributes: BaseModel | None, context: dg.ComponentLoadContext) -> Dataset:
        if not isinstance(attributes, Contract):
            raise dg.DagsterInvalidDefinitionError(
                f"{context.path / 'defs.yaml'}: a Dataset needs its contract as attributes.")
        return cls(attributes, context.path / "defs.yaml")

    @cached_property
    def compiled(self) -> DatasetAssets | None:
        """The assets, checks and jobs of a table dataset (None for 'format: files')."""
        return None if self.contract.lake_only else build_dataset(self.contract)

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        if self.compiled is None:  # lake-only datasets are one asset, built with the sensor
            return dg.Definitions()
        d = self.compiled
        # its ingest/process jobs are registered with the landing sensor (Platform component)
        defs = dg.Definitions(assets=[d.process])
        reference = code_reference(self.declared_in)
        return defs.map_asset_specs(func=lambda spec: spec.merge_attributes(metadata=reference)) \
            if reference else defs
