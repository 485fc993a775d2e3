"""The built wheel, not the checkout: it carries the templates, the example project and the
instance config, so `dataops init` + `dataops demo` work from an installed wheel, with the
home inside the new project (never in site-packages)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

CHECKOUT = Path(__file__).resolve().parent.parent


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900,
                          check=False)


@pytest.mark.slow
def test_the_wheel_inits_and_runs_a_project_outside_the_checkout(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATAOPS_", "DAGSTER_HOME", "PYTHONPATH"))}
    source = tmp_path / "source"  # setuptools builds in the source tree: keep the checkout clean
    shutil.copytree(CHECKOUT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".dataops"))
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                  str(tmp_path / "dist"), str(source)], tmp_path, env)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("dataops_platform-*.whl")
    site = tmp_path / "site"
    installed = _run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                      str(site), str(wheel)], tmp_path, env)
    assert installed.returncode == 0, installed.stderr
    # the wheel's package comes first on the path: the checkout's editable install is not used
    env["PYTHONPATH"] = str(site)
    dataops = [sys.executable, "-c", "from dataops_platform.cli.main import cli; cli()"]
    where = _run([sys.executable, "-c", "import dataops_platform; print(dataops_platform.__file__)"],
                 tmp_path, env)
    assert where.stdout.strip().startswith(str(site)), where.stdout + where.stderr

    made = _run([*dataops, "init", "demo-proj"], tmp_path, env)
    assert made.returncode == 0, made.stdout + made.stderr
    project = tmp_path / "demo-proj"
    demo = _run([*dataops, "demo", "--home", str(project / ".dataops")], project, env)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "every row accounted for" in demo.stdout
    conn = duckdb.connect(str(project / ".dataops" / "warehouse.duckdb"), read_only=True)
    try:
        assert conn.execute("select count(*) from curated.example_summary").fetchall()[0][0] > 0
    finally:
        conn.close()

    # the bundled example project, from the wheel: entity declaration included
    example = _run([*dataops, "contracts", "validate"], tmp_path, env)
    assert example.returncode == 0, example.stdout + example.stderr
    assert "4 dataset(s), 4 mart(s) and 1 entity valid." in example.stdout
    assert str(site) in example.stdout
    assert not list(site.rglob(".dataops"))  # nothing written into the installed package
