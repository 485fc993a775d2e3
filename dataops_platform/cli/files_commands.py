"""`dataops files discard FILE`: retire a failed or unwanted delivery (automation/retire.py)."""

from __future__ import annotations

import sys

import click

from dataops_platform.storage.backends import open_warehouse


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
    from dataops_platform.cli.main import _settings, _validate_or_exit

    settings = _settings(home)
    contracts = _validate_or_exit(settings)
    instance = prepare_instance(settings)
    conn = open_warehouse(settings.warehouse)
    try:
        done = retire(conn, instance, settings.home, settings.landing_dir, settings.lake_dir,
                      contracts, file, purge=purge, reason=reason)
    except RetireError as exc:
        click.secho(str(exc), fg="red", err=True)
        sys.exit(1)
    finally:
        conn.close()
    click.echo(render_retired(done))
