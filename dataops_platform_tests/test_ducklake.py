"""The warehouse on DuckLake (catalog in the local PostgreSQL, Parquet under a data path):
the pipeline end to end, concurrent writers, a killed writer and a reader during publishes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dataops_platform.samples.generator import generate
from dataops_platform.settings import Settings
from dataops_platform.storage.backends import open_warehouse
from dataops_platform_tests.ducklake_fixtures import lake_env

pytestmark = pytest.mark.production


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Iterator[Settings]:
    """The test's home, its warehouse on a fresh DuckLake."""
    for env in lake_env(tmp_path):
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        yield Settings.resolve(settings.project_dir).ensure()


@pytest.fixture
def lake_query(lake: Settings) -> Callable[[str], list[tuple]]:
    def _query(sql: str) -> list[tuple]:
        conn = open_warehouse(lake.warehouse, read_only=True)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()
    return _query


def _ledger(query: Callable[[str], list[tuple]], dataset: str) -> dict[str, tuple[int, ...]]:
    rows = query(f"""
        select r._partition, r.n, coalesce(c.n, 0), coalesce(q.n, 0), coalesce(d.n, 0)
        from (select _partition, count(*) n from raw.{dataset} group by 1) r
        left join (select _partition, count(*) n from cleaned.{dataset} group by 1) c using (_partition)
        left join (select _partition, count(*) n from quarantine.{dataset} group by 1) q using (_partition)
        left join (select _partition, count(*) n from quarantine.{dataset}__duplicates group by 1) d
               using (_partition)""")
    return {k: (n, c, q, d) for k, n, c, q, d in rows}


def test_pipeline_end_to_end_on_ducklake_balances_every_ledger(lake, one_pass, lake_query):
    truth = generate(lake.landing_dir, rows=300, seed=11, days=2).expected
    result = one_pass()
    assert result.ok, result.failures + [c.check for c in result.failed_error_checks]
    assert lake_query("select count(*) from duckdb_databases() where type = 'ducklake'")[0][0] == 1
    for dataset in ("customers", "orders", "products"):
        ledger = _ledger(lake_query, dataset)
        assert ledger, dataset
        for key, (rows_in, cleaned, quarantined, dups) in ledger.items():
            assert rows_in == cleaned + quarantined + dups, (dataset, key)
    orders = _ledger(lake_query, "orders")
    assert sum(v[0] for v in orders.values()) == truth["orders"]["rows"]
    assert lake_query("select count(*) from curated.enriched_orders")[0][0] > 0
    # the data is Parquet under the data path, not in the DuckDB file
    assert list((Path(lake.ducklake_data_path) if lake.ducklake_data_path else lake.home / "lake_data")
                .rglob("*.parquet"))
    assert not lake.warehouse_path.exists()
