"""A DuckLake warehouse per test: its own PostgreSQL catalog database and data folder."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG = "host=127.0.0.1 port=5432 user=postgres dbname=test"


def _admin():
    psycopg = pytest.importorskip("psycopg")
    try:
        return psycopg.connect(PG, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:  # pragma: no cover - CI starts PostgreSQL
        pytest.skip(f"PostgreSQL is not running on 127.0.0.1:5432 ({exc})")


def lake_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Create ``dataops_dl_<uuid>``, yield the env vars selecting it, drop it afterwards."""
    pytest.importorskip("duckdb_ext")
    name = f"dataops_dl_{uuid.uuid4().hex[:12]}"
    with _admin() as admin:
        admin.execute(f"create database {name}")
    try:
        yield {"DATAOPS_WAREHOUSE": "ducklake",
               "DATAOPS_DUCKLAKE_CATALOG": f"host=127.0.0.1 port=5432 user=postgres dbname={name}",
               "DATAOPS_DUCKLAKE_DATA_PATH": str(tmp_path / "lake_data")}
    finally:
        from dataops_platform.storage.backends.ducklake import detach_all
        detach_all()
        with _admin() as admin:
            admin.execute(f"drop database if exists {name} with (force)")
