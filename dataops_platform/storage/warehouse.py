"""The DuckDB warehouse: one file, one schema per layer, one writer at a time.

DuckDB lets a single process hold the file for writing. Writers are serialized by the
``duckdb`` concurrency pool (limit 1 in the instance config), and every connection
retries while another process holds the lock, so a run that starts while a notebook or a
check is finishing waits instead of failing.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

from dataops_platform.storage.backends import (
    CATALOG_ENV,
    WarehouseTarget,
    open_warehouse,
    retry_conflicts,
)

LAYERS = ("raw", "cleaned", "curated", "quarantine", "staging")
POOL = "duckdb"  # the Dagster concurrency pool every warehouse writer belongs to


class WarehouseLockedError(Exception):
    """Another process kept the warehouse file locked for longer than the retry budget."""


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text or "conflicting" in text or "already open" in text


def connect(database: str, *, timeout_s: float = 120.0,
            config: dict | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, retrying with jittered backoff while another process holds it."""
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        try:
            return duckdb.connect(database, read_only=read_only, config=config or {})
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            if not _is_lock_error(exc) or time.monotonic() >= deadline:
                if _is_lock_error(exc):
                    raise WarehouseLockedError(
                        f"the warehouse {database} stayed locked by another process for "
                        f"{timeout_s:.0f}s. Close other programs that hold it open (a notebook, "
                        "a BI tool) or wait for the running pipeline to finish."
                    ) from exc
                raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 2.0)


class WarehouseBackendConfig(dg.Config):
    """Which backend the resource opens; no secret (the DuckLake catalog stays in its env var)."""

    backend: str = Field(default="duckdb", description="duckdb | ducklake")
    catalog_env: str = Field(default=CATALOG_ENV,
                             description="Environment variable holding the DuckLake catalog.")
    data_path: str = Field(default="", description="Where DuckLake writes its Parquet files.")


def target_of(database: str, connection_config: dict, backend: dict | None,
              ) -> WarehouseTarget:
    chosen = dict(backend or {})
    return WarehouseTarget(backend=str(chosen.get("backend") or "duckdb"), database=database,
                           catalog_env=str(chosen.get("catalog_env") or CATALOG_ENV),
                           data_path=str(chosen.get("data_path") or ""),
                           config=tuple(sorted((str(k), str(v))
                                               for k, v in (connection_config or {}).items())))


_SCHEMAS_READY: set[WarehouseTarget] = set()


def ensure_layers(conn: duckdb.DuckDBPyConnection, target: WarehouseTarget) -> None:
    """The layer schemas exist (checked once per process on DuckLake: each check is a
    catalog transaction there, and concurrent creators conflict)."""
    if target.backend == "ducklake" and target in _SCHEMAS_READY:
        return
    for layer in LAYERS:
        if target.backend == "ducklake" and layer == "staging":
            continue  # a process-local catalog there (backends.ducklake)
        if target.backend == "ducklake":
            retry_conflicts(conn, functools.partial(
                conn.execute, f"create schema if not exists {layer}"))
        else:
            conn.execute(f"create schema if not exists {layer}")
    _SCHEMAS_READY.add(target)


class Warehouse(DuckDBResource):
    """DuckDBResource with a time-bounded lock retry and the layer schemas created; opens
    the configured backend (the DuckDB file by default, or a DuckLake)."""

    lock_timeout_s: float = Field(default=120.0, description="How long to wait for the lock.")
    backend: WarehouseBackendConfig = Field(default_factory=WarehouseBackendConfig)

    @classmethod
    def of(cls, target: WarehouseTarget) -> Warehouse:
        return cls(database=target.database, connection_config=dict(target.config),
                   backend=WarehouseBackendConfig(backend=target.backend,
                                                  catalog_env=target.catalog_env,
                                                  data_path=target.data_path))

    @property
    def target(self) -> WarehouseTarget:
        return target_of(self.database, dict(self.connection_config), self.backend.model_dump())

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        target = self.target
        conn = open_warehouse(target, timeout_s=self.lock_timeout_s)
        try:
            ensure_layers(conn, target)
            yield conn
        finally:
            conn.close()
