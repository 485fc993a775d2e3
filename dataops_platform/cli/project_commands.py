"""Which project a command works on, ``dataops init``, and what ``up``/``demo`` need around
a project (its sample files, a workspace file for ``dagster dev``)."""

from __future__ import annotations

import re
import shutil
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import click

from dataops_platform.project.loading import current_project, project_config
from dataops_platform.settings import PACKAGE_DIR, Settings

__all__ = ["current_project", "init", "land_sample_data", "write_declared_project", "write_workspace"]

TEMPLATE_DIR = PACKAGE_DIR / "templates" / "project"
SAMPLE_DATA = "sample_data"


def land_sample_data(settings: Settings) -> list[Path]:
    """Copy the project's ``sample_data/`` into the landing folder (idempotent, mtimes kept)."""
    source_dir = settings.project_dir / SAMPLE_DATA
    copied = []
    for source in sorted(p for p in source_dir.rglob("*") if p.is_file()):
        target = settings.landing_dir / source.relative_to(source_dir)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            copied.append(target)
    return copied


def write_workspace(settings: Settings) -> Path:
    """A workspace file in the home that loads the project's code location from its folder."""
    config = project_config(settings.project_dir)
    settings.home.mkdir(parents=True, exist_ok=True)
    path = settings.home / "workspace.yaml"
    path.write_text(
        "load_from:\n  - python_module:\n"
        f"      module_name: {config.root_module}.definitions\n"
        f"      location_name: {config.code_location_name}\n"
        f"      working_directory: {settings.project_dir}\n", encoding="utf-8")
    return path


def package_name(folder: Path) -> str:
    name = re.sub(r"[^a-z0-9_]", "_", folder.name.lower()).strip("_")
    return name if name and name[0].isalpha() else f"project_{name}"


def platform_version() -> str:
    try:
        return version("dataops-platform")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0.1.0"


def write_project(target: Path) -> list[Path]:
    """Write a new project from the template into the empty or new folder ``target``."""
    package = package_name(target)
    values = {"{name}": target.name, "{package}": package, "{platform_version}": platform_version()}
    written = []
    for source in sorted(p for p in TEMPLATE_DIR.rglob("*.tmpl") if p.is_file()):
        relative = source.relative_to(TEMPLATE_DIR).with_suffix("")  # drop .tmpl
        parts = [package if p == "package" else p for p in relative.parts]
        if parts[-1] in ("gitignore", "env.example"):
            parts[-1] = "." + parts[-1]
        text = source.read_text(encoding="utf-8")
        for key, value in values.items():
            text = text.replace(key, value)
        path = target.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def write_declared_project(target: Path, datasets: dict[str, str],
                           entities: dict[str, str] | None = None) -> Path:
    """A project holding exactly these declarations (contract text by name) and the default
    platform settings: what benchmarks and scripts build instead of editing a checkout."""
    write_project(target)
    defs = project_config(target).defs_dir
    for kind in ("datasets", "marts", "entities"):
        shutil.rmtree(defs / kind, ignore_errors=True)
    shutil.rmtree(target / SAMPLE_DATA, ignore_errors=True)
    for kind, declared in (("Dataset", datasets), ("Entity", entities or {})):
        for name, text in declared.items():
            path = defs / ("datasets" if kind == "Dataset" else "entities") / name / "defs.yaml"
            path.parent.mkdir(parents=True)
            path.write_text(declaration(f"dataops_platform.components.{kind}", text),
                            encoding="utf-8")
    return target


def declaration(component_type: str, attributes: str) -> str:
    """A ``defs.yaml`` declaring ``component_type`` with ``attributes`` (YAML text)."""
    body = "\n".join(("  " + line) if line.strip() else ""
                     for line in attributes.rstrip("\n").split("\n"))
    return f"type: {component_type}\nattributes:\n{body}\n"


@click.command()
@click.argument("directory", type=click.Path(file_okay=False))
def init(directory: str) -> None:
    """Create a new project in DIRECTORY: one example dataset and one mart, settings, sample
    data, .gitignore and a README. `cd` into it, then `dataops demo` or `dataops up`."""
    target = Path(directory).resolve()
    if target.exists() and any(target.iterdir()):
        click.secho(f"{target} is not empty: choose a new folder for the project.", fg="red",
                    err=True)
        sys.exit(1)
    written = write_project(target)
    for path in written:
        click.echo(f"wrote {path.relative_to(target.parent)}")
    click.echo(f"\nNext: cd {directory} && dataops demo   (or `dataops up` for the UI)")
