"""`dataops files discard FILE`: retire a failed or unwanted delivery (automation/retire.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from dataops_platform.settings import HOME_ENV, Settings


@click.group()
def files() -> None:
    """Deliveries (landed files): retire one that failed or is not wanted."""


@files.command()
@click.argument("file")
@click.option("--purge", is_flag=True, help="Delete the lake copy too (default: keep it, "
                                            "marked retired, never read again).")
@click.option("--reason", default="", help="Why, recorded with the retirement.")
@click.option("--home", type=click.Path(file_okay=False), help="Home folder (else DATAOPS_HOME).")
def discard(file: str, purge: bool, reason: str, home: str | None) -> None:
    """Retire the delivery FILE (file name, landing path or partition key).

    Its rows leave every table of its dataset in one transaction, its partition leaves the
    Dagster instance, the same content leaves the landing folder, its lake copy is kept
    marked retired (or deleted with --purge), and the retirement is recorded in
    <home>/retired.jsonl. The next `dataops run` no longer retries it.
    """
    from dataops_platform.automation.one_pass import prepare_instance
    from dataops_platform.automation.retire import RetireError, render_retired, retire
    from dataops_platform.contracts import ContractError, load_contracts
    from dataops_platform.storage.warehouse import connect

    if home:
        os.environ[HOME_ENV] = str(Path(home).resolve())
    settings = Settings.from_env()
    try:
        contracts = load_contracts(settings.contracts_dir)
    except ContractError as exc:
        click.secho(str(exc), fg="red", err=True)
        sys.exit(1)
    instance = prepare_instance(settings)
    conn = connect(str(settings.warehouse_path), config=settings.duckdb_config)
    try:
        done = retire(conn, instance, settings.home, settings.landing_dir, settings.lake_dir,
                      contracts, file, purge=purge, reason=reason)
    except RetireError as exc:
        click.secho(str(exc), fg="red", err=True)
        sys.exit(1)
    finally:
        conn.close()
    click.echo(render_retired(done))
