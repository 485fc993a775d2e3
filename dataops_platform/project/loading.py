"""Find and load a user project: the one adapter between the platform and Dagster's
component tree (``dg`` projects: ``pyproject.toml`` with ``[tool.dg]``, a root package and
its ``defs/`` folder).

The CLI loads projects in-process, possibly several in one process (tests, ``dataops init``
then ``demo``), so the project's package is imported from its folder by path, replacing a
same-named package of another project, instead of relying on ``sys.path``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import dagster as dg

from dataops_platform.contracts.loader import ContractError, ContractProblem
from dataops_platform.settings import HOME_ENV, PACKAGE_DIR, PROJECT_ENV, Settings, home_override


@dataclass(frozen=True)
class ProjectConfig:
    root: Path
    root_module: str
    code_location_name: str

    @property
    def package_dir(self) -> Path:
        return self.root.joinpath(*self.root_module.split("."))

    @property
    def defs_dir(self) -> Path:
        return self.package_dir / "defs"


PLATFORM_MODULE = "dataops_platform"


def project_config(root: Path) -> ProjectConfig:
    """``[tool.dg.project]`` of ``root/pyproject.toml``; a clear error if it is not a project."""
    pyproject = root / "pyproject.toml"
    problem = None
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        project = data.get("tool", {}).get("dg", {}).get("project", {})
        if not project.get("root_module"):
            problem = "has no [tool.dg.project] root_module"
    except FileNotFoundError:
        problem = "does not exist"
    except (OSError, tomllib.TOMLDecodeError) as exc:
        problem = f"cannot be read: {exc}"
    if problem:
        raise ContractError([ContractProblem(pyproject, "", f"{problem}: this is not a dataops "
                                             "project (create one with `dataops init <dir>`)")])
    return ProjectConfig(root.resolve(), project["root_module"],
                         project.get("code_location_name") or root.name)


def find_project(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding a dg project — not the platform's own
    checkout, whose code location (``dataops_platform.definitions``) serves the example."""
    for folder in [start.resolve(), *start.resolve().parents]:
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError):
                return None
            dg_table = data.get("tool", {}).get("dg", {})
            platform = dg_table.get("project", {}).get("root_module") == PLATFORM_MODULE
            return folder if dg_table.get("directory_type") == "project" and not platform else None
    return None


def example_project() -> Path:
    """The bundled example project (``examples/webshop``): beside the package in a checkout,
    inside it (``dataops_platform/_examples``) in an installed wheel."""
    for candidate in (PACKAGE_DIR / "_examples" / "webshop", PACKAGE_DIR.parent / "examples" / "webshop"):
        if (candidate / "pyproject.toml").is_file():
            return candidate
    raise FileNotFoundError("the example project is missing from this installation")


def current_project() -> tuple[Path, Path | None]:
    """(project, default home): DATAOPS_PROJECT, else the project around the current folder,
    else the bundled example project, whose home then defaults to ./.dataops (never inside
    the installed package)."""
    chosen = os.environ.get(PROJECT_ENV)
    if chosen:
        return Path(chosen).expanduser().resolve(), None
    found = find_project(Path.cwd())
    if found is not None:
        return found, None
    # DATAOPS_HOME still wins: the default only keeps the home out of the installed package
    return example_project(), None if os.environ.get(HOME_ENV) else Path.cwd() / ".dataops"


def _import_fresh(name: str, folder: Path) -> ModuleType:
    """Import package ``name`` from ``folder`` even when another project's package of the
    same name was imported before (its modules are dropped from ``sys.modules``)."""
    loaded = sys.modules.get(name)
    if loaded is not None and Path(loaded.__file__ or "").resolve().parent == folder.resolve():
        return loaded
    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        del sys.modules[key]
    spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)])
    if spec is None or spec.loader is None:
        raise ContractError([ContractProblem(folder, "", "is not a Python package "
                                             "(it needs an __init__.py)")])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def component_tree(root: Path) -> dg.ComponentTree:
    config = project_config(root)
    parts = config.root_module.split(".")
    for depth in range(1, len(parts) + 1):
        _import_fresh(".".join(parts[:depth]), config.root.joinpath(*parts[:depth]))
    defs_module = importlib.import_module(f"{config.root_module}.defs")
    return dg.ComponentTree(defs_module=defs_module, project_root=config.root,
                            code_location_name=config.code_location_name)


def project_settings(root: Path, home: Path | None = None) -> Settings:
    """The project's settings (its Platform component, the environment, ``home``) without
    building any definitions: what commands need before they load anything."""
    from dataops_platform.project.validate import platform_settings

    with home_override(home):
        return platform_settings(root)


def load_project(root: Path, home: Path | None = None):  # noqa: ANN201 (Platform: import cycle)
    """Validate, then build the project's definitions through its component tree; returns the
    factory's ``Platform`` (definitions plus what the CLI drives)."""
    from dataops_platform.components import Platform as PlatformComponent
    from dataops_platform.factory import Platform
    from dataops_platform.project.validate import validate_project

    validate_project(root).raise_if_any()
    tree = component_tree(root)
    with home_override(home):
        definitions = tree.build_defs()
    (platform,) = tree.get_all_components(of_type=PlatformComponent)
    assert platform.assembled is not None  # built by tree.build_defs()
    a = platform.assembled
    return Platform(definitions, a.datasets, a.lake_datasets, a.entities, a.marts)
