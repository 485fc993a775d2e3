"""Profiles: where the Dagster instance keeps its state and where steps run.

- ``local`` (default): ``local.yaml`` — SQLite storage in ``<home>/dagster``, runs of the CLI
  execute their steps in their own process (``in_process_executor``).
- ``production``: ``production.yaml`` — run, event-log and schedule storage on PostgreSQL
  (connection from the DATAOPS_PG_* variables, referenced with ``env:`` and never written or
  printed), a ``QueuedRunCoordinator`` with run and tag limits, run monitoring and pools;
  steps run on Celery workers (``dataops worker``) through ``dagster-celery``, broker
  RabbitMQ (DATAOPS_CELERY_BROKER), results in Redis (DATAOPS_CELERY_BACKEND).

The chosen profile's template is rendered into ``<home>/dagster/dagster.yaml`` by every
command that opens the instance; every process of one deployment (UI, daemon, CLI, workers)
must use the same home and profile.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from dataops_platform.settings import PACKAGE_DIR, Settings

PROFILES_DIR = PACKAGE_DIR / "profiles"
PG_ENV = ("DATAOPS_PG_HOST", "DATAOPS_PG_PORT", "DATAOPS_PG_USER", "DATAOPS_PG_PASSWORD",
          "DATAOPS_PG_DB")
BROKER_ENV, BACKEND_ENV = "DATAOPS_CELERY_BROKER", "DATAOPS_CELERY_BACKEND"
DEFAULT_BROKER = "amqp://guest:guest@127.0.0.1:5672//"
DEFAULT_BACKEND = "redis://127.0.0.1:6379/0"
# Celery settings shared by the executor (the run's process) and `dataops worker`. A step is
# acknowledged when it ends, not when a worker takes it: a worker killed mid-step leaves it on
# the broker, which hands it to another worker (the step's writes are idempotent per file).
# Each worker reserves only the step it runs (dagster-celery's default of 4 let one worker
# hoard a run's steps while another sat idle).
CELERY_CONFIG: dict[str, object] = {
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "worker_prefetch_multiplier": 1,
}
PG_CONNECT_TIMEOUT_S = 5


class ProfileError(Exception):
    """A production profile that cannot work as configured: said in one sentence, naming the
    environment variable to fix (never its value when it may be a secret)."""


def instance_template(profile: str) -> Path:
    return PROFILES_DIR / f"{profile}.yaml"


def render_instance(settings: Settings) -> Path:
    """Write the profile's instance config into the home's Dagster folder. The local one is
    written once (a user may have edited it) unless the file is the production template; the
    production one follows its template (it holds no values, only ``env:`` references)."""
    settings.ensure()
    config = settings.dagster_home / "dagster.yaml"
    template = instance_template(settings.profile)
    if settings.production:
        if not config.exists() or config.read_bytes() != template.read_bytes():
            shutil.copyfile(template, config)
    elif not config.exists() or config.read_bytes() == instance_template("production").read_bytes():
        shutil.copyfile(template, config)  # a home used with production before: back to local
    return config


def missing_pg_env(environ: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    return [name for name in PG_ENV if name not in env]


def check_postgres(environ: Mapping[str, str] | None = None) -> None:
    """Connect to the production instance's PostgreSQL once, or raise ``ProfileError`` naming
    the variables to check. DATAOPS_PG_PASSWORD may be empty (trust auth) but must be set."""
    env = os.environ if environ is None else environ
    missing = missing_pg_env(env)
    if missing:
        raise ProfileError(
            "the production profile keeps the Dagster instance in PostgreSQL: set "
            + ", ".join(missing) + " (DATAOPS_PG_PASSWORD may be empty for trust auth)")
    import psycopg

    host, port, user, db = (env["DATAOPS_PG_HOST"], env["DATAOPS_PG_PORT"],
                            env["DATAOPS_PG_USER"], env["DATAOPS_PG_DB"])
    if not port.isdigit():
        raise ProfileError(f"DATAOPS_PG_PORT is {port!r}: it must be a port number")
    try:
        with psycopg.connect(host=host, port=int(port), user=user, dbname=db,
                             password=env["DATAOPS_PG_PASSWORD"] or None,
                             connect_timeout=PG_CONNECT_TIMEOUT_S):
            pass
    except psycopg.OperationalError as exc:
        text = str(exc)
        if f'database "{db}" does not exist' in text:
            raise ProfileError(f"PostgreSQL at {host}:{port} has no database {db!r} "
                               "(DATAOPS_PG_DB): create it (createdb) or name another") from None
        if "password authentication failed" in text or "authentication" in text:
            raise ProfileError(f"PostgreSQL at {host}:{port} refused user {user!r}: check "
                               "DATAOPS_PG_USER and DATAOPS_PG_PASSWORD") from None
        raise ProfileError(f"cannot reach PostgreSQL at {host}:{port} (DATAOPS_PG_HOST, "
                           "DATAOPS_PG_PORT): is it running and accepting connections?") from None


def celery_urls(environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(broker, result backend) for the executor and the workers."""
    env = os.environ if environ is None else environ
    return env.get(BROKER_ENV) or DEFAULT_BROKER, env.get(BACKEND_ENV) or DEFAULT_BACKEND


def prepare(settings: Settings) -> Path:
    """Render the instance config and, for production, check PostgreSQL is reachable."""
    if settings.production:
        check_postgres()
    return render_instance(settings)
