"""The DuckDB warehouse: one file, one schema per layer, one writer at a time.

DuckDB lets a single process hold the file for writing. Writers are serialized by the
``duckdb`` concurrency pool (limit 1 in the instance config), and every connection
retries while another process holds the lock, so a run that starts while a notebook or a
check is finishing waits instead of failing.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

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


class Warehouse(DuckDBResource):
    """DuckDBResource with a time-bounded lock retry and the layer schemas created."""

    lock_timeout_s: float = Field(default=120.0, description="How long to wait for the lock.")

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        conn = connect(self.database, timeout_s=self.lock_timeout_s,
                       config=dict(self.connection_config))
        try:
            for layer in LAYERS:
                conn.execute(f"create schema if not exists {layer}")
            yield conn
        finally:
            conn.close()
