"""Warehouse backends: one interface, two implementations, one SQL codebase.

- ``duckdb`` (default): one DuckDB file under the home folder, one writer at a time
  (serialized by the ``duckdb`` concurrency pool, limit 1).
- ``ducklake``: a DuckLake — its catalog in PostgreSQL (connection string read from an
  environment variable, never stored or printed), its data as Parquet files under a data
  path. Several processes write at once; readers see a committed snapshot and never block.

Both hand out an ordinary ``duckdb.DuckDBPyConnection`` whose default catalog is the
warehouse, so the compiled SQL (``raw.orders``, ``cleaned.orders``, ...) is the same on both.
``open_warehouse(target)`` is the one way the platform opens the warehouse.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import duckdb

BACKENDS = ("duckdb", "ducklake")
CATALOG_ENV = "DATAOPS_DUCKLAKE_CATALOG"
T = TypeVar("T")


class WarehouseConfigError(ValueError):
    """The warehouse settings cannot work (unknown backend, catalog variable unset, ...)."""


@dataclass(frozen=True)
class WarehouseTarget:
    """Where the warehouse is: everything needed to open it, no secret in it (the DuckLake
    catalog's connection string stays in the environment variable ``catalog_env``)."""

    backend: str = "duckdb"
    database: str = ""                # the DuckDB file (backend duckdb)
    catalog_env: str = CATALOG_ENV    # env var holding the DuckLake catalog (backend ducklake)
    data_path: str = ""               # where DuckLake writes its Parquet files
    config: tuple[tuple[str, str], ...] = ()   # DuckDB settings (memory_limit, ...)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise WarehouseConfigError(
                f"warehouse backend {self.backend!r} is unknown; use one of {', '.join(BACKENDS)}")

    @property
    def describe(self) -> str:
        if self.backend == "duckdb":
            return self.database
        return f"ducklake (catalog from ${self.catalog_env}, data under {self.data_path})"


def open_warehouse(target: WarehouseTarget, *, read_only: bool = False,
                   timeout_s: float = 120.0) -> duckdb.DuckDBPyConnection:
    """A connection whose default catalog is the warehouse; close it when done."""
    if target.backend == "ducklake":
        from dataops_platform.storage.backends.ducklake import connect_ducklake
        return connect_ducklake(target, read_only=read_only)
    from dataops_platform.storage.backends.duckdb_file import connect_file
    return connect_file(target, read_only=read_only, timeout_s=timeout_s)


def warehouse_exists(target: WarehouseTarget) -> bool:
    """Whether anything was ever written (a DuckLake catalog is assumed to exist: it is
    created on first attach)."""
    if target.backend == "duckdb":
        return os.path.exists(target.database)
    return bool(os.environ.get(target.catalog_env))


def is_ducklake(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether this connection's default catalog is a DuckLake (no primary keys there)."""
    rows = conn.execute("select type from duckdb_databases() "
                        "where database_name = current_database()").fetchall()
    return bool(rows) and rows[0][0] == "ducklake"


# DuckLake 1.4.4 reports some lost races (two first commits creating the same table's
# siblings) as "Failed to commit DuckLake transaction. Failed to parse catalog entry"
# rather than as a conflict; any failed DuckLake commit is retried (bounded) like one.
_CONFLICT = re.compile(r"conflict|concurrent|write-write|serializ|failed to commit ducklake",
                       re.IGNORECASE)


def is_conflict(exc: BaseException) -> bool:
    """A commit lost to another writer's (DuckLake's optimistic concurrency): safe to retry."""
    return isinstance(exc, duckdb.Error) and bool(_CONFLICT.search(str(exc)))


@contextlib.contextmanager
def table_locks(conn: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> Iterator[None]:
    """On DuckLake, hold a PostgreSQL advisory lock per table written (sorted: no deadlock)
    for the duration of the block; nothing on the DuckDB file (one writer anyway).

    DuckLake's optimistic commits detect conflicting deletes and DDL, but two transactions
    that both find no rows for a partition (or a merge key) and both insert them commit
    fine: the rows would be doubled. Writers of the same table therefore take turns for
    the short publish transaction (the expensive reading and evaluating runs in parallel).
    The lock lives in the session: a killed process releases it with its connection."""
    if not tables or not is_ducklake(conn):
        yield
        return
    rows = conn.execute("select path from duckdb_databases() "
                        "where database_name = '__ducklake_metadata_' || current_database()"
                        ).fetchall()
    if not rows or not rows[0][0]:
        yield
        return
    import psycopg

    with psycopg.connect(rows[0][0], autocommit=True) as pg:
        for name in sorted(set(tables)):
            pg.execute("select pg_advisory_lock(hashtext(%s))", [f"dataops:{name}"])
        yield


def retry_conflicts(conn: duckdb.DuckDBPyConnection, write: Callable[[], T], *,
                    attempts: int = 8, lock: Sequence[str] = ()) -> T:
    """Run ``write`` in one transaction, re-running the whole transaction (bounded, with
    jittered backoff) when its commit conflicts with a concurrent writer. On the DuckDB file
    there is one writer, so the first attempt always stands. ``lock`` names the tables
    written, serialized across processes on DuckLake (``table_locks``)."""
    with table_locks(conn, lock):
        return _retrying(conn, write, attempts)


def _retrying(conn: duckdb.DuckDBPyConnection, write: Callable[[], T], attempts: int) -> T:
    delay = 0.05
    for attempt in range(1, attempts + 1):
        conn.execute("begin transaction")
        try:
            result = write()
            conn.execute("commit")
            return result
        except BaseException as exc:
            with contextlib.suppress(duckdb.Error):  # a failed commit already ended it
                conn.execute("rollback")
            if not is_conflict(exc) or attempt == attempts:
                raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 2.0)
    raise AssertionError("unreachable")


def scrub(text: str, secret: str | None) -> str:
    """An error message without the catalog's connection string (it may hold a password)."""
    out = text.replace(secret, f"${CATALOG_ENV}") if secret else text
    return re.sub(r"password\s*=\s*\S+", "password=***", out, flags=re.IGNORECASE)
