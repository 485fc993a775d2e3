"""Where the platform keeps its state: resolved once, from the project and the environment.

Everything the platform writes lives under one *home* folder so a laptop run is one
`rm -rf` away from clean and tests can use a temporary home. What a project declares in its
``Platform`` component (``defs/platform/defs.yaml``) is the default; these environment
variables override it (so CI and a production deployment can redirect a checked-in project):

- ``DATAOPS_HOME``      the home folder (default: the component's ``home``, ``.dataops``
  relative to the project)
- ``DATAOPS_PROJECT``   the project the CLI and the generic code location load (default: the
  current folder when it is a project, else the bundled example project)
- ``DATAOPS_DUCKDB_MEMORY_LIMIT`` DuckDB's memory cap per process (default 1GB; it spills
  to disk beyond it, which keeps a 5M-row file under 2 GB of RSS)
- ``DATAOPS_KEEP_VERSIONS`` published versions kept per write-audit-publish table, with
  their serving files (default 5, at least 2: the live one and the rollback target)
- ``DATAOPS_PROFILE``   ``local`` (default: SQLite instance, in-process executor) or
  ``production`` (Dagster on PostgreSQL, queued runs, steps on Celery workers); see
  ``dataops_platform/profiles``
- ``DATAOPS_WAREHOUSE``  the warehouse backend: ``duckdb`` (default, one file under the home)
  or ``ducklake`` (catalog in PostgreSQL, Parquet data files under a data path)
- ``DATAOPS_DUCKLAKE_CATALOG`` the DuckLake catalog's PostgreSQL connection string (read
  when connecting, never stored in settings or printed)
- ``DATAOPS_DUCKLAKE_DATA_PATH`` where DuckLake writes its Parquet files (default
  ``<home>/lake_data``)
- ``DATAOPS_WAREHOUSE_POOL_LIMIT`` how many warehouse writers run at once (the ``duckdb``
  pool's limit; always 1 for the DuckDB file, default 8 for DuckLake)

Resolving settings has no side effects: nothing is created until a command or a run writes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path

from dataops_platform.storage.backends import BACKENDS, WarehouseConfigError, WarehouseTarget

HOME_ENV = "DATAOPS_HOME"
PROJECT_ENV = "DATAOPS_PROJECT"
MEMORY_LIMIT_ENV = "DATAOPS_DUCKDB_MEMORY_LIMIT"
KEEP_VERSIONS_ENV = "DATAOPS_KEEP_VERSIONS"
PROFILE_ENV = "DATAOPS_PROFILE"
PROFILES = ("local", "production")
WAREHOUSE_ENV = "DATAOPS_WAREHOUSE"
DATA_PATH_ENV = "DATAOPS_DUCKLAKE_DATA_PATH"
POOL_LIMIT_ENV = "DATAOPS_WAREHOUSE_POOL_LIMIT"
DEFAULT_DUCKLAKE_POOL_LIMIT = 8

PACKAGE_DIR = Path(__file__).resolve().parent

# `dataops <command> --home X` for the definitions it loads in this process: scoped, never
# written into os.environ (subprocesses get DATAOPS_HOME in their own environment instead)
_HOME_OVERRIDE: ContextVar[Path | None] = ContextVar("dataops_home_override", default=None)
# `dataops up/run --profile X`: the same, for the profile
_PROFILE_OVERRIDE: ContextVar[str | None] = ContextVar("dataops_profile_override", default=None)


@contextmanager
def home_override(home: Path | None) -> Iterator[None]:
    token = _HOME_OVERRIDE.set(home)
    try:
        yield
    finally:
        _HOME_OVERRIDE.reset(token)


@contextmanager
def profile_override(profile: str | None) -> Iterator[None]:
    token = _PROFILE_OVERRIDE.set(profile)
    try:
        yield
    finally:
        _PROFILE_OVERRIDE.reset(token)


def use_profile(profile: str) -> None:
    """``--profile`` for the rest of a command's process (its definitions and runs)."""
    _PROFILE_OVERRIDE.set(check_profile(profile, "--profile"))


def check_profile(profile: str, origin: str) -> str:
    if profile not in PROFILES:
        raise ValueError(f"{origin} is {profile!r}: the profile is one of {', '.join(PROFILES)}")
    return profile


@dataclass(frozen=True)
class Settings:
    """Resolved locations; derived paths are properties so nothing can disagree."""

    home: Path
    project_dir: Path
    duckdb_memory_limit: str = "1GB"
    keep_versions: int = 5
    profile: str = "local"  # local | production (instance template and executor)
    warehouse_backend: str = "duckdb"
    ducklake_data_path: str = ""       # empty: <home>/lake_data
    warehouse_pool_limit: int = 1

    @classmethod
    def resolve(cls, project_dir: Path, *, home: str | Path | None = None,
                duckdb_memory_limit: str = "1GB", keep_versions: int = 5,
                profile: str = "local", warehouse: Mapping[str, object] | None = None,
                environ: Mapping[str, str] | None = None) -> Settings:
        """The project's declared settings, overridden by the environment (``environ``,
        default ``os.environ``, only read). A relative ``home`` is relative to the project.
        The profile: ``--profile`` (scoped override), else DATAOPS_PROFILE, else ``profile``.
        ``warehouse`` is the declared ``warehouse:`` block (backend, data_path, pool_limit)."""
        env = os.environ if environ is None else environ
        chosen = Path(_HOME_OVERRIDE.get() or env.get(HOME_ENV) or home or ".dataops").expanduser()
        if not chosen.is_absolute():
            chosen = project_dir / chosen
        declared = dict(warehouse or {})
        backend = str(env.get(WAREHOUSE_ENV) or declared.get("backend") or "duckdb").strip().lower()
        if backend not in BACKENDS:
            raise WarehouseConfigError(f"${WAREHOUSE_ENV} / warehouse.backend is {backend!r}; "
                                       f"use one of {', '.join(BACKENDS)}")
        data_path = str(env.get(DATA_PATH_ENV) or declared.get("data_path") or "")
        if data_path and not Path(data_path).expanduser().is_absolute() and "://" not in data_path:
            data_path = str((project_dir / data_path).resolve())
        pool = env.get(POOL_LIMIT_ENV) or declared.get("pool_limit") or DEFAULT_DUCKLAKE_POOL_LIMIT
        return cls(home=chosen.resolve(), project_dir=project_dir.resolve(),
                   duckdb_memory_limit=env.get(MEMORY_LIMIT_ENV) or duckdb_memory_limit,
                   keep_versions=max(2, int(env.get(KEEP_VERSIONS_ENV) or keep_versions)),
                   profile=_chosen_profile(env, profile),
                   warehouse_backend=backend, ducklake_data_path=data_path,
                   # the DuckDB file has one writer: its pool stays at 1 whatever is set
                   warehouse_pool_limit=1 if backend == "duckdb" else max(1, int(str(pool))))

    @property
    def production(self) -> bool:
        return self.profile == "production"

    def with_home(self, home: Path) -> Settings:
        return replace(self, home=home.expanduser().resolve())

    @property
    def landing_dir(self) -> Path:
        """Files land here, one sub-folder per dataset by default."""
        return self.home / "landing"

    @property
    def lake_dir(self) -> Path:
        """Every landed file, preserved immutably by dataset and arrival date (rebuilds)."""
        return self.home / "lake"

    @property
    def warehouse_path(self) -> Path:
        """The DuckDB file holding the raw, cleaned, curated and quarantine schemas."""
        return self.home / "warehouse.duckdb"

    @property
    def warehouse(self) -> WarehouseTarget:
        """How to open the warehouse (backend, file or lake); holds no secret."""
        return WarehouseTarget(
            backend=self.warehouse_backend, database=str(self.warehouse_path),
            data_path=self.ducklake_data_path or str(self.home / "lake_data"),
            config=tuple(sorted(self.duckdb_config.items())))

    @property
    def alerts_log(self) -> Path:
        """One JSON object per alert (failed check or run), appended by the alerts sensor."""
        return self.home / "alerts.jsonl"

    @property
    def reports_dir(self) -> Path:
        """Static HTML quality reports: one per run/pass/gate, and latest.html."""
        return self.home / "reports"

    @property
    def serving_dir(self) -> Path:
        """Published tables as Parquet (and views.sql) for readers that must not block runs."""
        return self.home / "serving"

    @property
    def duckdb_config(self) -> dict[str, str]:
        """Connection settings every warehouse connection of a process must share."""
        return {"memory_limit": self.duckdb_memory_limit}

    @property
    def dagster_home(self) -> Path:
        """The Dagster instance (run history, sensor cursors, concurrency pools)."""
        return self.home / "dagster"

    def ensure(self) -> Settings:
        """Create the folders the platform writes to; idempotent. Called by commands that
        write (never by loading definitions)."""
        for path in (self.home, self.landing_dir, self.lake_dir, self.dagster_home):
            path.mkdir(parents=True, exist_ok=True)
        return self


def _chosen_profile(env: Mapping[str, str], declared: str) -> str:
    override = _PROFILE_OVERRIDE.get()
    if override:
        return check_profile(override, "--profile")
    if env.get(PROFILE_ENV):
        return check_profile(env[PROFILE_ENV], PROFILE_ENV)
    return check_profile(declared, "the platform's `profile` setting")
