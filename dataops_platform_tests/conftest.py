"""Fixtures: every test gets its own home folder with a real landing zone and DuckDB file."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dataops_platform.automation.one_pass import PassResult, prepare_instance, run_pass
from dataops_platform.factory import build_platform
from dataops_platform.settings import Settings
from dataops_platform_tests.project_files import SAMPLE_DATA, copy_example


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A fresh home (landing zone, warehouse, Dagster instance) and a copy of the example
    project whose declarations a test may edit or add to."""
    project = copy_example(tmp_path / "project")
    monkeypatch.setenv("DATAOPS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DATAOPS_PROJECT", str(project))
    monkeypatch.setenv("DATAOPS_SETTLE_SECONDS", "0")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home" / "dagster"))
    monkeypatch.setattr("dataops_platform.automation.one_pass.OBSERVE_GAP_S", 0.0)
    return Settings.resolve(project).ensure()


@pytest.fixture
def land(settings: Settings) -> Callable[[str, bytes | str], Path]:
    """Write a file into the landing zone (relative path, bytes or utf-8 text)."""

    def _land(relative: str, content: bytes | str) -> Path:
        path = settings.landing_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        old = path.stat().st_mtime - 3600  # landed a while ago: settled
        os.utime(path, (old, old))
        return path

    return _land


@pytest.fixture
def land_samples(settings: Settings) -> Callable[[], None]:
    def _land() -> None:
        shutil.copytree(SAMPLE_DATA, settings.landing_dir, dirs_exist_ok=True)

    return _land


@pytest.fixture
def one_pass(settings: Settings) -> Iterator[Callable[[], PassResult]]:
    """Run `dataops run`'s pass with the definitions built from the current contracts."""
    instances: list[dg.DagsterInstance] = []

    def _run() -> PassResult:
        instance = prepare_instance(settings)
        instances.append(instance)
        return run_pass(settings, build_platform(settings), instance)

    yield _run
    for instance in instances:
        instance.dispose()


@pytest.fixture
def query(settings: Settings) -> Callable[[str], list[tuple]]:
    """Run SQL against the warehouse file (opened and closed per call, like a reader)."""

    def _query(sql: str) -> list[tuple]:
        conn = duckdb.connect(str(settings.warehouse_path))
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    return _query
