"""The DuckDB-file backend: one file, one writer process at a time (lock retried)."""

from __future__ import annotations

import duckdb

from dataops_platform.storage.backends import WarehouseTarget


def connect_file(target: WarehouseTarget, *, read_only: bool = False,
                 timeout_s: float = 120.0) -> duckdb.DuckDBPyConnection:
    from dataops_platform.storage.warehouse import connect
    return connect(target.database, timeout_s=timeout_s, config=dict(target.config),
                   read_only=read_only)
