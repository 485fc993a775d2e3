"""The DuckLake backend: catalog in PostgreSQL, Parquet data files under a data path.

Each process attaches the lake once (loading the ``ducklake`` and ``postgres`` extensions
from the ``duckdb-ext`` wheel: DuckDB cannot download extensions here) and hands out
cursors on that database, each with the lake as its default catalog. Data inlining is off:
every committed row is in a Parquet file, so readers of the data path see all of it.
DuckLake has no primary keys or indexes; writers commit optimistically and a conflicting
commit is retried by ``retry_conflicts``. Staging tables live in a process-local in-memory
catalog named ``staging`` (the lake has no ``staging`` schema), so ``staging."x"`` means the
same SQL on both backends.
"""

from __future__ import annotations

import os
import random
import threading
import time

import duckdb

from dataops_platform.storage.backends import (
    WarehouseConfigError,
    WarehouseTarget,
    scrub,
)
from dataops_platform.storage.sql import literal

ALIAS = "wh"
INIT_ATTEMPTS = 8
STAGING = "staging"  # a process-local in-memory catalog: staging."x" resolves to it
_LOCK = threading.Lock()
_ATTACHED: dict[tuple[int, WarehouseTarget, bool], duckdb.DuckDBPyConnection] = {}


def catalog_dsn(target: WarehouseTarget) -> str:
    dsn = os.environ.get(target.catalog_env, "").strip()
    if not dsn:
        raise WarehouseConfigError(
            f"the warehouse backend is ducklake but ${target.catalog_env} is not set; set it to "
            "the PostgreSQL catalog, e.g. 'dbname=lake host=127.0.0.1 user=dataops'")
    return dsn.removeprefix("ducklake:").removeprefix("postgres:")


def _attach(target: WarehouseTarget, read_only: bool) -> duckdb.DuckDBPyConnection:
    if not target.data_path:
        raise WarehouseConfigError("the ducklake warehouse needs a data path "
                                   "(warehouse.data_path or $DATAOPS_DUCKLAKE_DATA_PATH)")
    dsn = catalog_dsn(target)
    import duckdb_ext  # the extensions as a wheel, for DuckDB 1.4 LTS

    conn = duckdb.connect(config=dict(target.config))
    duckdb_ext.init(conn)
    os.makedirs(target.data_path, exist_ok=True)
    options = ["READ_ONLY"] if read_only else [
        f"DATA_PATH {literal(target.data_path)}", "DATA_INLINING_ROW_LIMIT 0"]
    attach = (f"attach {literal('ducklake:postgres:' + dsn)} as {ALIAS} "
              f"({', '.join(options)})")
    try:
        conn.execute("load ducklake; load postgres")
        # staging tables (``staging.<name>``) stay in this process: never written to the
        # lake, never a commit another writer can conflict with, gone if the process dies
        conn.execute(f"attach ':memory:' as {STAGING}")
        for attempt in range(1, INIT_ATTEMPTS + 1):
            try:
                conn.execute(attach)
                break
            except duckdb.Error as exc:
                # the first attach creates the catalog's tables: processes starting at
                # once race on that; the loser attaches the catalog the winner created
                if "initialize DuckLake" not in str(exc) or attempt == INIT_ATTEMPTS:
                    raise
                time.sleep(0.1 * attempt * (0.5 + random.random()))
    except duckdb.Error as exc:
        conn.close()
        raise type(exc)(scrub(str(exc), dsn)) from None
    return conn


def connect_ducklake(target: WarehouseTarget, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A new cursor on this process's attached lake (attached on first use)."""
    key = (os.getpid(), target, read_only)
    with _LOCK:
        base = _ATTACHED.get(key)
        if base is None:
            base = _ATTACHED[key] = _attach(target, read_only)
        cursor = base.cursor()
    cursor.execute(f"use {ALIAS}")
    return cursor


def detach_all() -> None:
    """Close this process's attached lakes (tests; a process exiting does it anyway)."""
    with _LOCK:
        for conn in _ATTACHED.values():
            conn.close()
        _ATTACHED.clear()
