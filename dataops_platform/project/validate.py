"""``dataops contracts validate`` for a project: every declaration in ``defs/`` checked with
messages naming the file and field, before Dagster builds anything."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from dataops_platform.contracts.loader import (
    ContractError,
    ContractProblem,
    read_yaml,
    validate_data,
)
from dataops_platform.contracts.mart import MartSpec
from dataops_platform.contracts.model import Contract
from dataops_platform.project.checks import Problems, cross_problems
from dataops_platform.project.loading import project_config
from dataops_platform.resolve.spec import EntitySpec
from dataops_platform.settings import Settings

TYPES = "dataops_platform.components."
DATASET, MART, ENTITY, PLATFORM = (TYPES + t for t in ("Dataset", "Mart", "Entity", "Platform"))
WHAT = {DATASET: "name, description, owner, source and columns",
        MART: "name, description and depends_on", ENTITY: "name, sources and fields",
        PLATFORM: "settings"}


@dataclass(frozen=True)
class Declaration:
    path: Path  # the defs.yaml
    type: str
    attributes: Any


def declarations(root: Path) -> list[Declaration]:
    """Every component instance of the platform's types under the project's ``defs/``."""
    found = []
    for path in sorted(project_config(root).defs_dir.rglob("defs.yaml")):
        try:
            documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except yaml.YAMLError:
            read_yaml(path)  # raises the ContractError naming the line
            raise
        except (OSError, UnicodeDecodeError) as exc:
            raise ContractError([ContractProblem(path, "", f"cannot be read: {exc}")]) from None
        for doc in documents:
            if isinstance(doc, dict) and str(doc.get("type", "")).startswith(TYPES):
                found.append(Declaration(path, str(doc["type"]), doc.get("attributes")))
    return found


def _parse(declaration: Declaration, problems: Problems) -> Any:
    models: dict[str, type[BaseModel]] = {DATASET: Contract, MART: MartSpec, ENTITY: EntitySpec}
    model = models.get(declaration.type)
    if declaration.type == PLATFORM:
        from dataops_platform.components.platform import PlatformSettings

        model = PlatformSettings
        if declaration.attributes is None:
            return PlatformSettings()
    if model is None:
        problems.items.append(ContractProblem(declaration.path, "type", f"unknown component type "
                                              f"{declaration.type!r} (known: Dataset, Mart, "
                                              "Entity, Platform)"))
        return None
    try:
        return validate_data(declaration.path, declaration.attributes, model,
                             WHAT[declaration.type], prefix="attributes.")
    except ContractError as exc:
        problems.items.extend(exc.problems)
        return None


def validate_project(root: Path) -> Problems:
    """Each declaration on its own, then what spans them (references, mart inputs, names)."""
    from dataops_platform.components import Dataset, Entity, Mart

    problems = Problems()
    parsed = [(d, _parse(d, problems)) for d in declarations(root)]
    datasets = [Dataset(m, d.path) for d, m in parsed if isinstance(m, Contract)]
    marts = [Mart(m, d.path.parent) for d, m in parsed if isinstance(m, MartSpec)]
    entities = [Entity(m, d.path) for d, m in parsed if isinstance(m, EntitySpec)]
    platforms = [d for d, _ in parsed if d.type == PLATFORM]
    if len(platforms) != 1:
        where = ", ".join(str(p.path) for p in platforms) or "none"
        problems.items.append(ContractProblem(
            project_config(root).defs_dir, "", f"needs exactly one {PLATFORM} declaration "
            f"(found: {where}); `dataops init` writes defs/platform/defs.yaml"))
    for mart in marts:
        if mart.spec.python is None and not (mart.folder / mart.spec.sql_file).is_file():
            problems.items.append(ContractProblem(mart.declared_in, "attributes.sql", f"{mart.spec.sql_file} "
                                                  f"does not exist beside {mart.declared_in.name}"))
    problems.items += cross_problems(datasets, marts, entities).items
    return problems


def load_contracts(root: Path) -> list[Contract]:
    """The project's dataset contracts (validated); one ContractError lists every problem."""
    validate_project(root).raise_if_any()
    return [validate_data(d.path, d.attributes, Contract, WHAT[DATASET])
            for d in declarations(root) if d.type == DATASET]


def load_entities(root: Path) -> list[EntitySpec]:
    """The project's entity declarations (validated with everything they refer to)."""
    validate_project(root).raise_if_any()
    return [validate_data(d.path, d.attributes, EntitySpec, WHAT[ENTITY])
            for d in declarations(root) if d.type == ENTITY]


def platform_settings(root: Path) -> Settings:
    from dataops_platform.components.platform import PlatformSettings

    problems = Problems()
    found = [_parse(d, problems) for d in declarations(root) if d.type == PLATFORM]
    problems.raise_if_any()
    attributes = found[0] if found else PlatformSettings()
    return Settings.resolve(root, home=attributes.home,
                            duckdb_memory_limit=attributes.duckdb_memory_limit,
                            keep_versions=attributes.keep_versions, profile=attributes.profile)
