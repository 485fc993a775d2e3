"""The entity component: entity resolution over datasets (today's entity contract)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import dagster as dg
from pydantic import BaseModel

from dataops_platform.components.scaffold import YamlScaffolder
from dataops_platform.resolve.assets import EntityAssets, build_entity_assets
from dataops_platform.resolve.spec import EntitySpec
from dataops_platform.storage.metadata import code_reference


@dg.scaffold_with(YamlScaffolder)
class Entity(dg.Component):
    """Records of several datasets resolved to entities: ``entities/<name>_matches``,
    ``entities/<name>`` (stable IDs) and the golden records ``curated/<name>_golden``."""

    def __init__(self, spec: EntitySpec, declared_in: Path | None = None) -> None:
        self.spec = spec
        self.declared_in = declared_in

    @classmethod
    def get_model_cls(cls) -> type[BaseModel]:
        return EntitySpec

    @classmethod
    def load(cls, attributes: BaseModel | None, context: dg.ComponentLoadContext) -> Entity:
        if not isinstance(attributes, EntitySpec):
            raise dg.DagsterInvalidDefinitionError(
                f"{context.path / 'defs.yaml'}: an Entity needs name, sources and fields.")
        return cls(attributes, context.path / "defs.yaml")

    @cached_property
    def compiled(self) -> EntityAssets:
        return build_entity_assets(self.spec)

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        defs = dg.Definitions(assets=self.compiled.assets, asset_checks=self.compiled.all_checks)
        reference = code_reference(self.declared_in)
        return defs.map_asset_specs(func=lambda spec: spec.merge_attributes(metadata=reference)) \
            if reference else defs
