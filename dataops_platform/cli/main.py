"""The ``dataops`` command line: the same definitions as the UI, driven headless.

Commands stay thin: they resolve settings, build the definitions with the factory and call
the automation/collect modules. Errors are printed as sentences, never as stack traces.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from dataops_platform.cli.entity_commands import review
from dataops_platform.cli.extract_commands import extract
from dataops_platform.cli.files_commands import files
from dataops_platform.cli.project_commands import current_project, init, land_sample_data
from dataops_platform.contracts import Contract, ContractError
from dataops_platform.project.loading import example_project
from dataops_platform.settings import (
    HOME_ENV,
    PROFILE_ENV,
    PROFILES,
    PROJECT_ENV,
    Settings,
    use_profile,
)
from dataops_platform.storage.backends import open_warehouse, warehouse_exists

if TYPE_CHECKING:  # imported lazily at run time: `--help` stays fast
    import dagster as dg

    from dataops_platform.automation.one_pass import CheckOutcome
    from dataops_platform.factory import Platform


def _settings(home: str | None = None, profile: str | None = None) -> Settings:
    """The current project's settings, ``--home`` and ``--profile`` first (never written to
    os.environ; the profile override stays set for the definitions this command loads)."""
    from dataops_platform.project.loading import project_settings

    project, default_home = current_project()
    chosen = Path(home) if home else default_home
    if profile:
        use_profile(profile)  # for the rest of this command's process
    try:
        return project_settings(project, chosen)
    except (ContractError, ValueError) as exc:
        _fail(str(exc))
        raise


PROFILE_OPTION = click.option(
    "--profile", type=click.Choice(PROFILES), default=None,
    help=f"local (SQLite instance, steps in-process) or production (Dagster on PostgreSQL, "
         f"steps on Celery workers); else {PROFILE_ENV}, else the project's platform setting.")


def _prepare_or_exit(settings: Settings) -> None:
    """Render the profile's instance config; production: PostgreSQL must answer."""
    from dataops_platform.profiles import ProfileError, prepare

    try:
        prepare(settings)
    except ProfileError as exc:
        _fail(f"Cannot start the {settings.profile} profile: {exc}.")


def _deployment_env(settings: Settings) -> dict[str, str]:
    """What every process of this deployment (UI, daemon, workers) needs in its environment."""
    return {**os.environ, HOME_ENV: str(settings.home), PROJECT_ENV: str(settings.project_dir),
            PROFILE_ENV: settings.profile, "DAGSTER_HOME": str(settings.dagster_home)}


def _fail(message: str) -> None:
    click.secho(message, fg="red", err=True)
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """dataops: contract-driven pipelines from a landing folder into a DuckDB warehouse.

    Commands work on a project (a dg project whose defs/ declares datasets, marts and
    entities): DATAOPS_PROJECT, else the project around the current folder, else the bundled
    example project. DATAOPS_HOME (or --home) says where everything is written.
    """


@cli.command()
@click.option("--home", type=click.Path(file_okay=False), help="Home folder (else DATAOPS_HOME).")
@click.option("--sample-data/--no-sample-data", default=True, show_default=True,
              help="Land the project's sample_data/ so data flows as soon as the UI is up.")
@click.option("--port", default=3000, show_default=True, help="Port of the Dagster UI.")
@PROFILE_OPTION
@click.option("--prepare-only", is_flag=True,
              help="Only render the home's instance config and check the services; start nothing.")
def up(home: str | None, sample_data: bool, port: int, profile: str | None,
       prepare_only: bool) -> None:
    """Set up the home folder and start the Dagster UI (dagster dev) on it.

    The landing sensor and the automation sensor start running: landed files flow to
    raw, cleaned and curated by themselves. Stop with Ctrl+C; state stays in the home.
    With the production profile, start the workers too (`dataops worker`).
    """
    from dataops_platform.automation.one_pass import prepare_instance

    settings = _settings(home, profile)
    _validate_or_exit(settings)
    _prepare_or_exit(settings)
    if prepare_only:
        click.echo(f"Profile {settings.profile}: instance config in "
                   f"{settings.dagster_home / 'dagster.yaml'}"
                   + (" (PostgreSQL reachable)" if settings.production else ""))
        return
    prepare_instance(settings)
    if sample_data:
        copied = land_sample_data(settings)
        click.echo(f"Landed {len(copied)} sample file(s) in {settings.landing_dir}")
    click.echo(f"Home: {settings.home}\nOpen http://127.0.0.1:{port} (Ctrl+C stops).")
    from dataops_platform.cli.project_commands import write_workspace

    workspace = write_workspace(settings)
    env = _deployment_env(settings)
    command = [sys.executable, "-m", "dagster", "dev", "-w", str(workspace), "-p", str(port)]
    try:
        sys.exit(subprocess.call(command, env=env, cwd=settings.project_dir))
    except KeyboardInterrupt:
        sys.exit(0)


@cli.command()
@click.option("--home", type=click.Path(file_okay=False),
              help="Home folder to run in (default: a new temporary folder).")
@click.option("--rows", type=int, default=None,
              help="Generate this many order rows instead of using the bundled files.")
@click.option("--reset", is_flag=True, help="Empty --home first if it already holds data.")
def demo(home: str | None, rows: int | None, reset: bool) -> None:
    """Run the whole demo headless in a fresh home and print what happened to every row.

    Lands the bundled sample files (or generated ones with --rows), processes every file
    raw -> cleaned with its checks, builds the curated marts, and prints a per-dataset
    summary. Exits 1 if a file failed or an error-severity check failed.
    """
    if home is None:
        home = tempfile.mkdtemp(prefix="dataops-demo-")
    target = Path(home)
    if target.exists() and any(target.iterdir()):
        if not reset:
            _fail(f"{target} is not empty. Use --reset to start it afresh, or choose another "
                  "--home (the demo always starts from a fresh home).")
        shutil.rmtree(target)
    settings = _settings(home)
    if rows is not None and settings.project_dir != example_project().resolve():
        _fail("--rows generates the example project's files (orders, customers, products); "
              f"{settings.project_dir} declares its own datasets: land your files instead.")
    settings.ensure()
    if rows is None:
        land_sample_data(settings)
    else:
        from dataops_platform.samples.generator import generate

        generate(settings.landing_dir, rows=rows)
    click.echo(f"Demo home: {settings.home}")
    _run(settings)


@cli.command()
@click.option("--home", type=click.Path(file_okay=False), help="Home folder (else DATAOPS_HOME).")
@PROFILE_OPTION
def run(home: str | None, profile: str | None) -> None:
    """One pass over whatever has landed: process new files, rebuild marts, run checks.

    Registers new or changed files as partitions (as the sensor does), materializes every
    pending raw/cleaned partition with its checks and then the curated marts, prints the
    summary, and exits 1 if a file failed or an error-severity check failed. With the
    production profile the steps run on the Celery workers (`dataops worker`).
    """
    _run(_settings(home, profile))


@cli.command()
@click.option("--home", type=click.Path(file_okay=False), help="Home folder (else DATAOPS_HOME).")
@click.option("--name", default="dataops", show_default=True,
              help="Worker name (node name NAME@host); give each worker its own.")
def worker(home: str | None, name: str) -> None:
    """Start a Celery worker of the production profile (one step at a time; start several).

    It serves the steps of runs launched by `dataops run --profile production`, the UI and the
    sensors, for this project and home: broker DATAOPS_CELERY_BROKER (default the local
    RabbitMQ), results DATAOPS_CELERY_BACKEND (default the local Redis), the instance from the
    DATAOPS_PG_* variables. Stop with Ctrl+C.
    """
    settings = _settings(home, "production")
    _validate_or_exit(settings)
    _prepare_or_exit(settings)
    from dataops_platform.profiles import celery_urls

    broker, _ = celery_urls()
    click.echo(f"Worker {name}: project {settings.project_dir}, home {settings.home}, broker "
               f"{broker.split('@')[-1]}")  # the host only: the URL may carry a password
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, "-m", "dataops_platform.profiles.worker", name],
              _deployment_env(settings))


def _validate_or_exit(settings: Settings) -> list[Contract]:
    """The project's dataset contracts, or exit 1 listing every problem of its declarations."""
    from dataops_platform.project.validate import load_contracts

    try:
        return load_contracts(settings.project_dir)
    except ContractError as exc:
        _fail(str(exc))
        raise


def _run(settings: Settings) -> None:
    from dataops_platform.automation.pass_lock import pass_lock
    from dataops_platform.factory import build_platform

    _validate_or_exit(settings)
    _prepare_or_exit(settings)
    platform = build_platform(settings)
    with pass_lock(settings.home, lambda m: click.echo(m, err=True)):  # one pass per home
        _locked_run(settings, platform)


def _locked_run(settings: Settings, platform: Platform) -> None:
    from dataops_platform.automation.one_pass import prepare_instance, run_pass
    from dataops_platform.cli.summary import render_summary

    instance = prepare_instance(settings)
    result = run_pass(settings, platform, instance)
    click.echo(render_summary(settings, platform.datasets, result,
                              [e.spec for e in platform.entities]))
    for lake_set in platform.lake_datasets:  # lake-only: files kept and catalogued
        name = lake_set.contract.name
        click.echo(f"lake-only {name}: {len(result.processed.get(name, []))} file(s) kept in "
                   f"the lake and catalogued in lake.{name}")
    click.echo(f"quality report: {_report(settings, platform, instance, result.run_ids)}")
    _alert(settings, platform, instance)
    pending = _pending_failed(instance, platform)
    _report_ignored(settings, platform)
    if not result.ok or pending or _unbalanced(settings, platform):
        sys.exit(1)


def _report_ignored(settings: Settings, platform: Platform) -> None:
    from dataops_platform.collect.landing import ignored
    from dataops_platform.collect.landing_dataset import LandingDataset

    every: list[LandingDataset] = [*platform.datasets, *platform.lake_datasets]
    for dataset in every:
        for relative, reason in ignored(settings.landing_dir, dataset.contract):
            click.secho(f"IGNORED {relative}: {reason}", fg="yellow")


def _unbalanced(settings: Settings, platform: Platform) -> list[str]:
    """Datasets whose ledger does not balance (the summary says ROWS UNACCOUNTED FOR)."""
    from dataops_platform.cli.summary import unbalanced

    return unbalanced(settings, platform.datasets)


def _pending_failed(instance: dg.DagsterInstance, platform: Platform) -> list:
    """Failed deliveries still waiting (retried on every run), each with how to retire it."""
    from dataops_platform.automation.retire import pending_failed, render_pending

    pending = pending_failed(instance, platform.datasets)
    for line in render_pending(pending):
        click.secho(line, fg="yellow")
    return pending


def _alert(settings: Settings, platform: Platform, instance: dg.DagsterInstance) -> None:
    """The same alerts the UI's sensor sends (same channels, cursor and de-duplication)."""
    from dataops_platform.automation.alerts import alertable_check_keys, process_alerts

    sent = process_alerts(instance, alertable_check_keys(platform.definitions),
                          settings.alerts_log, lambda m: click.secho(m, fg="yellow", err=True))
    if sent:
        click.echo(f"alerts: {len(sent)} new (in {settings.alerts_log})")


def _report(settings: Settings, platform: Platform, instance: dg.DagsterInstance,
            run_ids: list[str] | None = None, gate: list[CheckOutcome] | None = None) -> Path:
    """Write the quality report (of a pass's runs, of a gate, or the latest state) and
    refresh latest.html; returns the report's path."""
    from dataops_platform.quality.report import refresh_latest, report_gate, report_pass
    from dataops_platform.quality.report_data import ReportTargets

    targets = ReportTargets.of(platform.definitions)
    if gate is not None:
        return report_gate(settings.reports_dir, instance, targets, gate)
    if run_ids is not None:
        return report_pass(settings.reports_dir, instance, targets, run_ids)
    return refresh_latest(settings.reports_dir, instance, targets)


@cli.command()
@click.option("--home", type=click.Path(file_okay=False), help="Home folder (else DATAOPS_HOME).")
def report(home: str | None) -> None:
    """Write the quality report of the latest state now and print its path.

    One self-contained HTML file, reports/latest.html in the home folder: per file the
    latest row counts, quarantine, profile and schema changes, per check and file the
    latest result. Read from the Dagster instance only, so it is safe while pipelines run.
    """
    from dataops_platform.automation.one_pass import prepare_instance
    from dataops_platform.factory import build_platform

    settings = _settings(home)
    _validate_or_exit(settings)
    instance = prepare_instance(settings)
    click.echo(str(_report(settings, build_platform(settings), instance)))


@cli.command()
@click.option("--home", type=click.Path(file_okay=False), help="Home folder (else DATAOPS_HOME).")
def check(home: str | None) -> None:
    """Re-run every check against the warehouse as it is now: a gate for CI.

    Evaluates each processed file's checks and the curated marts' checks, prints a table
    per asset and every failure, and exits 1 if any error-severity check failed.
    """
    from dataops_platform.automation.one_pass import prepare_instance
    from dataops_platform.cli.summary import render_gate
    from dataops_platform.factory import build_platform
    from dataops_platform.quality.gate import run_gate

    settings = _settings(home)
    _validate_or_exit(settings)
    instance = prepare_instance(settings)
    platform = build_platform(settings)
    outcomes = run_gate(settings, platform, instance)
    click.echo(render_gate(outcomes))
    pending = _pending_failed(instance, platform)
    if not outcomes:
        _fail("Nothing to check yet: no file has been processed in this home (`dataops run`).")
    click.echo(f"quality report: {_report(settings, platform, instance, gate=outcomes)}")
    if pending or any(not o.passed and o.severity == "ERROR" for o in outcomes):
        sys.exit(1)


@cli.command()
@click.argument("target")
@click.option("--where", "conditions", multiple=True, metavar="COLUMN=VALUE",
              help="Trace rows instead of a file: TARGET is then a dataset, the condition one "
                   "of its columns (repeatable).")
@click.option("--home", type=click.Path(file_okay=False), help="Home folder (else DATAOPS_HOME).")
def trace(target: str, conditions: tuple[str, ...], home: str | None) -> None:
    """Where did this come from, where did it go.

    \b
    dataops trace orders_2026-11-01.ndjson         a file (name, landing path or partition
                                                   key): its ledger, quarantined rows per
                                                   rule, warnings, run ids and check results
    dataops trace orders --where order_id=ORD-0000042
                                                   a row: every place it is stored (raw,
                                                   cleaned, quarantine, duplicates, curated
                                                   marts) with source file and row number
    """
    from dataops_platform.automation.one_pass import prepare_instance
    from dataops_platform.cli.summary import render_file_trace, render_row_trace
    from dataops_platform.quality.trace import (
        TraceError,
        known_files,
        landing_relative,
        parse_conditions,
        skipped_delivery,
        trace_file,
        trace_rows,
    )

    settings = _settings(home)
    contracts = _validate_or_exit(settings)
    if not warehouse_exists(settings.warehouse):
        _fail("Nothing to trace yet: no warehouse in this home (`dataops run` processes files).")
    instance = prepare_instance(settings) if not conditions else None
    conn = open_warehouse(settings.warehouse, read_only=True)
    try:
        if conditions:
            by_name = {c.name: c for c in contracts}
            if target not in by_name:
                _fail(f"No dataset '{target}'; --where traces rows of one of: {', '.join(by_name)}.")
            hits = trace_rows(conn, by_name[target], parse_conditions(conditions))
            click.echo(render_row_trace(target, conditions, hits))
            if not hits:
                sys.exit(1)
        else:
            target = landing_relative(settings.landing_dir, target)  # a full landing path too
            traces = trace_file(conn, contracts, instance, target)
            skipped = None if traces else skipped_delivery(conn, contracts,
                                                           settings.landing_dir, target)
            if skipped:
                click.echo(skipped)
                return
            if not traces:
                files = known_files(conn, contracts)
                _fail(f"No stored file matches '{target}'. Files in the warehouse: "
                      + (", ".join(files[:20]) + (" ..." if len(files) > 20 else "") or "none"))
            click.echo(render_file_trace(traces))
    except TraceError as exc:
        _fail(str(exc))
    finally:
        conn.close()


@cli.group()
def quarantine() -> None:
    """Work with quarantined rows."""


@quarantine.command("replay")
@click.argument("dataset")
@click.option("--file", "partition", help="Only this file (its partition key, as `trace` shows).")
@click.option("--home", type=click.Path(file_okay=False), help="Home folder (else DATAOPS_HOME).")
def replay(dataset: str, partition: str | None, home: str | None) -> None:
    """Re-validate DATASET's quarantined rows with the current contract.

    After fixing the contract (e.g. allowing a new country code), re-runs the cleaned step
    of every file holding quarantined rows: rows that now pass move to cleaned, the rest
    stay quarantined with their updated reasons, and every file's ledger still balances.
    Exit 1 if a run or an error-severity check failed.
    """
    from dataops_platform.automation.one_pass import prepare_instance
    from dataops_platform.automation.replay import ReplayError
    from dataops_platform.automation.replay import replay as replay_quarantine
    from dataops_platform.cli.summary import render_replay
    from dataops_platform.factory import build_platform

    settings = _settings(home)
    _validate_or_exit(settings)
    instance = prepare_instance(settings)
    try:
        result = replay_quarantine(settings, build_platform(settings), instance,
                                   dataset, partition)
    except ReplayError as exc:
        _fail(str(exc))
        return
    click.echo(render_replay(result))
    if not result.run.ok or not all(f.balanced for f in result.files):
        sys.exit(1)


@cli.command()
@click.argument("dataset")
@click.option("--home", type=click.Path(file_okay=False), help="Home folder (else DATAOPS_HOME).")
def rebuild(dataset: str, home: str | None) -> None:
    """Rebuild DATASET's tables from the lake alone (the landing folder is not needed).

    Re-registers the files preserved in the lake that the Dagster instance lost, replaces
    the dataset's raw, cleaned, quarantine and duplicates tables by re-running its process
    job for every file in arrival order (same rows, new run ids), rebuilds the marts and
    prints the per-file ledger. Exit 1 if a run or an error-severity check failed.
    """
    from dataops_platform.automation.one_pass import prepare_instance
    from dataops_platform.automation.rebuild import RebuildError, render_rebuild
    from dataops_platform.automation.rebuild import rebuild as rebuild_dataset
    from dataops_platform.factory import build_platform

    settings = _settings(home)
    _validate_or_exit(settings)
    instance = prepare_instance(settings)
    try:
        result = rebuild_dataset(settings, build_platform(settings), instance, dataset)
    except RebuildError as exc:
        _fail(str(exc))
        return
    click.echo(render_rebuild(result))
    if not result.run.ok:
        sys.exit(1)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Only list what would be pruned.")
@click.option("--home", type=click.Path(file_okay=False), help="Home folder (else DATAOPS_HOME).")
def prune(dry_run: bool, home: str | None) -> None:
    """Apply each contract's retention now (what the daily retention schedule does).

    Files whose recorded arrival is older than their contract's `retention` leave the
    warehouse tables (one transaction), the lake and the partition list (and the landing
    folder, if the same file is still there, so it is not taken for a new delivery).
    """
    from dataops_platform.automation.one_pass import prepare_instance
    from dataops_platform.automation.retention import prune as prune_expired
    from dataops_platform.automation.retention import render_prune
    from dataops_platform.storage.warehouse import Warehouse

    settings = _settings(home)
    contracts = _validate_or_exit(settings)
    instance = None if dry_run else prepare_instance(settings)
    warehouse = Warehouse.of(settings.warehouse)
    with warehouse.get_connection() as conn:
        pruned = prune_expired(conn, settings.lake_dir, contracts, instance, dry_run=dry_run,
                               landing_dir=settings.landing_dir)
    click.echo(render_prune(pruned, dry_run))


@cli.command()
@click.argument("table")
@click.option("--home", type=click.Path(file_okay=False), help="Home folder (else DATAOPS_HOME).")
def rollback(table: str, home: str | None) -> None:
    """Restore the previous published version of TABLE, instantly (no recomputation).

    TABLE is e.g. curated.daily_revenue (or daily_revenue, or curated/daily_revenue). The
    version rolled back from is kept as the previous one, so a second rollback restores
    it. The serving copy follows; the rollback is recorded in publish.history and as a
    materialization in Dagster. Exit 1 when there is no previous version.
    """
    from dataops_platform.cli.wap_commands import run_rollback

    settings = _settings(home)
    try:
        click.echo(run_rollback(settings, table))
    except ValueError as exc:
        _fail(str(exc))


@cli.command()
@click.argument("table")
@click.option("--home", type=click.Path(file_okay=False), help="Home folder (else DATAOPS_HOME).")
def versions(table: str, home: str | None) -> None:
    """List the versions of a published TABLE: which is live, which is kept for rollback,
    the latest candidate, row counts and each version's audit verdict (failing checks named).
    """
    from dataops_platform.cli.wap_commands import render_versions

    try:
        click.echo(render_versions(_settings(home), table))
    except ValueError as exc:
        _fail(str(exc))


@cli.command("serve-sql")
@click.option("--home", type=click.Path(file_okay=False), help="Home folder (else DATAOPS_HOME).")
def serve_sql(home: str | None) -> None:
    """Print SQL that makes the published tables queryable from any DuckDB, read-only.

    One view per serving file (serving/<schema>/<table>.parquet, replaced atomically on
    each publish and rollback); the same text is kept in serving/views.sql. Readers never
    open the warehouse, so they never block a pipeline and are never blocked by one.
    """
    from dataops_platform.storage.serving import views_sql

    settings = _settings(home)
    if not any(settings.serving_dir.glob("*/*.parquet")):
        _fail("Nothing is served yet: no table has been published in this home (`dataops run`).")
    click.echo(views_sql(settings.serving_dir), nl=False)


@cli.group()
def contracts() -> None:
    """Work with dataset contracts."""


@contracts.command("validate")
@click.argument("project", required=False, type=click.Path(file_okay=False))
def validate(project: str | None) -> None:
    """Check every declaration of a project (datasets, marts, entities, settings) and report
    every problem with its file and field (exit 1 if any)."""
    from dataops_platform.project.validate import DATASET, ENTITY, MART, declarations, validate_project

    root = Path(project).resolve() if project else current_project()[0]
    try:
        problems = validate_project(root)
        found = declarations(root)
    except ContractError as exc:
        _fail(str(exc))
        return
    if problems.items:
        _fail(str(ContractError(problems.items)))
    counts = {kind: 0 for kind in (DATASET, MART, ENTITY)}
    for d in found:
        if d.type in counts:
            counts[d.type] += 1
            attributes = d.attributes
            click.echo(f"ok    {d.path.relative_to(root)}: {d.type.rsplit('.', 1)[1].lower()} "
                       f"'{attributes['name']}'")
    click.echo(f"{root}: {counts[DATASET]} dataset(s), {counts[MART]} mart(s) and "
               f"{counts[ENTITY]} entit{'y' if counts[ENTITY] == 1 else 'ies'} valid.")


@cli.command()
@click.option("--rows", type=int, default=2000, show_default=True, help="Order rows in total.")
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, same files.")
@click.option("--days", type=int, default=3, show_default=True, help="Daily order files.")
@click.option("--out", type=click.Path(file_okay=False),
              help="Folder to write into (default: the home's landing folder).")
def generate(rows: int, seed: int, days: int, out: str | None) -> None:
    """Generate demo files with realistic dirt (customers CSV, orders NDJSON, products Parquet)."""
    from dataops_platform.samples.generator import generate as write

    target = Path(out) if out else _settings().ensure().landing_dir
    produced = write(target, rows=rows, seed=seed, days=days)
    for path in produced.files:
        click.echo(f"wrote {path}")
    click.echo(f"{len(produced.files)} file(s) in {target}")


cli.add_command(review)
cli.add_command(extract)
cli.add_command(init)
cli.add_command(files)

if __name__ == "__main__":
    cli()
