"""The ``dataops`` entry point: people read sentences, not stack traces.

``main`` runs the click group. An unexpected exception is printed as one sentence (without
Dagster's or Python's class paths) plus where its full trace was written
(``<home>/logs/cli-errors.log``); ``dataops --debug ...`` (or ``DATAOPS_DEBUG=1``) shows the
trace instead, and the Dagster console log at debug level.
"""

from __future__ import annotations

import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click

DEBUG_FLAG = "--debug"
DEBUG_ENV = "DATAOPS_DEBUG"  # same name as automation.one_pass.DEBUG_ENV (kept import-free)


def _error_log() -> Path | None:
    """Where the trace goes: the home's logs folder (None if it cannot be written)."""
    from dataops_platform.project.loading import current_project, project_settings

    try:
        project, default_home = current_project()
        logs = project_settings(project, default_home).home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        return logs / "cli-errors.log"
    except Exception:  # the home itself may be the problem
        return None


def sentence(exc: BaseException) -> str:
    from dataops_platform.automation.alerts import without_class_paths

    text = without_class_paths(str(exc).split("Stack Trace")[0]).strip()
    return text or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in args or bool(os.environ.get(DEBUG_ENV))
    if DEBUG_FLAG in args:
        args.remove(DEBUG_FLAG)
        os.environ[DEBUG_ENV] = "1"  # read by one_pass.QUIET when it is imported below
    if not debug:  # Dagster's beta/preview notices are for platform developers, not CLI users
        warnings.filterwarnings("ignore", message=r".* is currently in (beta|preview)")
    from dataops_platform.cli.main import cli

    try:
        cli.main(args=args, prog_name="dataops", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (SystemExit, KeyboardInterrupt):
        raise
    except Exception as exc:
        if debug:
            raise
        log = _error_log()
        where = ""
        if log is not None:
            with log.open("a", encoding="utf-8") as handle:
                handle.write(f"--- {datetime.now(UTC).isoformat(timespec='seconds')} "
                             f"dataops {' '.join(args)}\n{traceback.format_exc()}\n")
            where = f" The full trace is in {log}."
        click.secho(f"error: {sentence(exc)}", fg="red", err=True)
        click.echo(f"This is a problem the platform did not expect.{where} Run again with "
                   "`dataops --debug ...` to see it here.", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
