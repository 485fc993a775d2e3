"""`dataops extract [DATASET]`: pull new rows from database and API sources into the landing
folder (each extraction one delivery); `dataops run` then ingests them (it also extracts)."""

from __future__ import annotations

import sys

import click

from dataops_platform.collect.extract import extract_all


@click.command()
@click.argument("dataset", required=False)
@click.option("--home", type=click.Path(file_okay=False), help="Home folder (else DATAOPS_HOME).")
def extract(dataset: str | None, home: str | None) -> None:
    """Extract DATASET (default: every database/API source) into the landing folder.

    The cursor advances only after the extraction is stored; a failed source leaves it where
    it was and exits 1. Run `dataops run` (or let the landing sensor) ingest the deliveries.
    """
    from dataops_platform.cli.main import _settings, _validate_or_exit

    settings = _settings(home)
    contracts = _validate_or_exit(settings)
    extracted = [c for c in contracts if c.source.extracted]
    if dataset is not None and dataset not in {c.name for c in extracted}:
        names = ", ".join(sorted(c.name for c in extracted)) or "none"
        click.echo(f"'{dataset}' is not a database or API source (these are: {names})", err=True)
        sys.exit(1)
    done, failures = extract_all(contracts, settings.landing_dir, settings.landing_dir.parent
                                 / "extract_state", settings.lake_dir, only=dataset)
    for item in done:
        click.echo(item.describe())
    for failure in failures:
        click.echo(f"FAILED {failure}", err=True)
    if failures:
        sys.exit(1)
