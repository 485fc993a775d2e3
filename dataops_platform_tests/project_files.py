"""Tests edit a project's declarations as contract text: ``contracts_dir(settings) / "x.yaml"``
reads and writes the ``attributes`` of ``defs/datasets/x/defs.yaml`` (and ``/ "entities" /
"y.yaml"`` those of ``defs/entities/y/defs.yaml``), so a test can say what it changes in the
contract's own words while the project keeps the component layout."""

from __future__ import annotations

import shutil
from pathlib import Path

from dataops_platform.cli.project_commands import declaration
from dataops_platform.contracts.model import Contract
from dataops_platform.project.loading import project_config
from dataops_platform.project.validate import DATASET, ENTITY, load_contracts
from dataops_platform.settings import Settings

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "webshop"
SAMPLE_DATA = EXAMPLE / "sample_data"


def wrap(kind: str, text: str) -> str:
    return declaration(kind, text)


def unwrap(text: str) -> str:
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("attributes:")) + 1
    return "\n".join(line[2:] for line in lines[start:])


class ContractFile:
    def __init__(self, folder: Path, stem: str, kind: str) -> None:
        self.defs = folder / stem / "defs.yaml"
        self.stem, self.name, self.kind = stem, f"{stem}.yaml", kind

    def exists(self) -> bool:
        return self.defs.exists()

    def read_text(self, encoding: str = "utf-8") -> str:
        return unwrap(self.defs.read_text(encoding=encoding))

    def write_text(self, text: str, encoding: str = "utf-8") -> int:
        self.defs.parent.mkdir(parents=True, exist_ok=True)
        return self.defs.write_text(wrap(self.kind, text), encoding=encoding)

    def unlink(self) -> None:
        shutil.rmtree(self.defs.parent)

    def __fspath__(self) -> str:
        return str(self.defs)


class ContractsDir:
    def __init__(self, folder: Path, kind: str = DATASET) -> None:
        self.folder, self.kind = folder, kind

    def __truediv__(self, name: str) -> ContractFile | ContractsDir:
        if name == "entities":
            return ContractsDir(self.folder.parent / "entities", ENTITY)
        return ContractFile(self.folder, name.removesuffix(".yaml"), self.kind)

    def clear(self) -> None:
        """Remove every dataset, mart and entity of the project, so a test declares its own."""
        defs = self.folder.parent
        for folder in ("datasets", "entities", "marts"):
            shutil.rmtree(defs / folder, ignore_errors=True)

    def glob(self, pattern: str) -> list[ContractFile]:
        return [ContractFile(self.folder, p.parent.name, self.kind)
                for p in sorted(self.folder.glob("*/defs.yaml"))]


def contracts_dir(settings: Settings) -> ContractsDir:
    return ContractsDir(project_config(settings.project_dir).defs_dir / "datasets")


def only_own_datasets(settings: Settings) -> None:
    """Empty the copied example's datasets, entities and marts, so a test declares its own."""
    defs = project_config(settings.project_dir).defs_dir
    for folder in ("datasets", "entities", "marts"):
        shutil.rmtree(defs / folder, ignore_errors=True)
    (defs / "datasets").mkdir()


def copy_example(target: Path) -> Path:
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__", ".dataops"))
    return target


def example_contract(name: str) -> Contract:
    return {c.name: c for c in load_contracts(EXAMPLE)}[name]
