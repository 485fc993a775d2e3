"""A user's own project: ``dataops init`` writes one that runs as it is, and Dagster's own
project tools (``dg list components``, ``dg check yaml``, ``dg check defs``) work on it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
from click.testing import CliRunner

from dataops_platform.cli.main import cli

DG = Path(sys.executable).with_name("dg")


def _dg(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAOPS_", "DAGSTER_HOME"))}
    return subprocess.run([str(DG), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_init_writes_a_project_that_validates_and_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("DATAOPS_PROJECT", raising=False)
    monkeypatch.delenv("DATAOPS_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    made = runner.invoke(cli, ["init", "sales-data"])
    assert made.exit_code == 0, made.output
    project = tmp_path / "sales-data"
    for path in ("pyproject.toml", ".gitignore", ".env.example", "README.md",
                 "sales_data/definitions.py", "sales_data/defs/platform/defs.yaml",
                 "sales_data/defs/datasets/example/defs.yaml",
                 "sales_data/defs/marts/example_summary/defs.yaml",
                 "sales_data/defs/marts/example_summary/example_summary.sql"):
        assert (project / path).is_file(), path
    assert "Next: cd sales-data && dataops demo" in made.output
    again = runner.invoke(cli, ["init", "sales-data"])
    assert again.exit_code == 1 and "is not empty" in again.output

    monkeypatch.chdir(project)  # commands find the project from the folder they run in
    valid = runner.invoke(cli, ["contracts", "validate"])
    assert valid.exit_code == 0, valid.output
    assert f"{project}: 1 dataset(s), 1 mart(s) and 0 entities valid." in valid.output
    demo = runner.invoke(cli, ["demo", "--home", str(project / ".dataops")])
    assert demo.exit_code == 0, demo.output
    conn = duckdb.connect(str(project / ".dataops" / "warehouse.duckdb"), read_only=True)
    try:
        summary = conn.execute("select label, lines, amount from curated.example_summary "
                               "order by label").fetchall()
        expected = conn.execute("select label, count(*), sum(amount) from cleaned.example "
                                "group by label order by label").fetchall()
        quarantined = conn.execute("select count(*) from quarantine.example").fetchall()[0][0]
    finally:
        conn.close()
    sample = (project / "sample_data" / "example").glob("*.csv")
    delivered = sum(len(p.read_text(encoding="utf-8").splitlines()) - 1 for p in sample)
    assert summary == expected and sum(lines for _, lines, _ in summary) + quarantined == delivered
    assert not (tmp_path / ".dataops").exists()  # the home is the project's own


def test_dg_tools_list_the_components_and_check_a_project(tmp_path):
    runner = CliRunner()
    assert runner.invoke(cli, ["init", str(tmp_path / "shop")]).exit_code == 0
    project = tmp_path / "shop"
    listed = _dg(["list", "components"], project)
    assert listed.returncode == 0, listed.stderr
    for component in ("Dataset", "Mart", "Entity", "Platform"):
        assert f"dataops_platform.components.{component}" in listed.stdout
    declaration = project / "shop" / "defs" / "datasets" / "example" / "defs.yaml"
    declaration.write_text(declaration.read_text(encoding="utf-8")
                           .replace("type: decimal", "type: money"), encoding="utf-8")
    yaml_check = _dg(["check", "yaml"], project)
    assert yaml_check.returncode != 0
    report = yaml_check.stdout + yaml_check.stderr
    assert f"{declaration}:" in report and "attributes.columns.2.type" in report
    assert "'money'" in report
    # Dagster 1.13's `dg check yaml` keeps one declaration per component type (its dict is keyed
    # by type), so with several datasets only one is checked; `dataops contracts validate`
    # checks every one
    declaration.write_text(declaration.read_text(encoding="utf-8")
                           .replace("type: money", "type: decimal"), encoding="utf-8")

    for kind, path in (("Dataset", "datasets/payments"), ("Mart", "marts/top_labels")):
        made = _dg(["scaffold", "defs", f"dataops_platform.components.{kind}", path], project)
        assert made.returncode == 0, made.stderr
    assert (project / "shop" / "defs" / "marts" / "top_labels" / "top_labels.sql").is_file()
    checked = _dg(["check", "defs"], project)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    payments = project / "shop" / "defs" / "datasets" / "payments" / "defs.yaml"
    original = payments.read_text(encoding="utf-8")
    payments.write_text(original.replace("type: decimal", "type: money"), encoding="utf-8")
    broken = _dg(["check", "defs"], project)  # every declaration is loaded, so each is checked
    assert broken.returncode != 0
    assert f"{payments}:" in broken.stdout + broken.stderr and "'money'" in broken.stdout + broken.stderr
    payments.write_text(original, encoding="utf-8")
    valid = CliRunner().invoke(cli, ["contracts", "validate", str(project)])
    assert valid.exit_code == 0, valid.output
    assert "2 dataset(s), 2 mart(s) and 0 entities valid." in valid.output

