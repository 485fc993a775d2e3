"""Database sources against the real PostgreSQL and MariaDB on this machine: every extraction
is a delivery (Parquet + manifest in the lake), the cursor moves only after it is stored."""

import json
import os
import subprocess
import sys
import uuid

import psycopg
import pymysql
import pytest

from dataops_platform.collect import lake
from dataops_platform_tests.project_files import contracts_dir

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
MY_URL = "mysql://root@127.0.0.1:3306/test"

CONTRACT = """
name: shop_orders
description: Orders from the shop's operational database.
owner: ops
source:
  kind: {kind}
  connection_env: {env}
  table: {table}
  cursor: {{column: {cursor}, initial: '{initial}'}}
schema_policy: {policy}
primary_key: [id]
columns:
  - {{name: id, type: integer, nullable: false}}
  - {{name: status, allowed_values: [new, paid, shipped]}}
  - {{name: amount, type: decimal, min: 0}}
  - {{name: updated_at, type: timestamp, nullable: false}}
write: {{mode: merge, order_by: updated_at}}
"""


class Pg:
    def __init__(self):
        self.conn = psycopg.connect("host=127.0.0.1 port=5432 dbname=test user=postgres", autocommit=True)
        self.table = f"orders_{uuid.uuid4().hex[:10]}"
        self.run(f"create table {self.table} (id int primary key, status text, amount numeric(10,2), "
                 "updated_at timestamp not null)")

    def run(self, sql, *params):
        self.conn.execute(sql, params or None)

    def insert(self, *rows):
        for row in rows:
            self.run(f"insert into {self.table} values (%s, %s, %s, %s)", *row)

    def close(self):
        self.run(f"drop table if exists {self.table}")
        self.conn.close()


@pytest.fixture
def pg(settings, monkeypatch):
    db = Pg()
    monkeypatch.setenv("PG_URL", PG_URL)
    contracts_dir(settings).clear()
    declare(settings, table=db.table)
    yield db
    db.close()


def declare(settings, *, table, kind="postgres", env="PG_URL", cursor="updated_at",
            initial="2026-01-01", policy="evolve"):
    (contracts_dir(settings) / "shop_orders.yaml").write_text(CONTRACT.format(
        kind=kind, env=env, table=table, cursor=cursor, initial=initial, policy=policy))


def ledger(query):
    return query("""
        select r._partition, r.n, coalesce(c.n, 0), coalesce(q.n, 0), coalesce(d.n, 0) from
          (select _partition, count(*) n from raw.shop_orders group by 1) r
          left join (select _partition, count(*) n from cleaned.shop_orders group by 1) c
            using (_partition)
          left join (select _partition, count(*) n from quarantine.shop_orders group by 1) q
            using (_partition)
          left join (select _partition, count(*) n from quarantine.shop_orders__duplicates group by 1) d
            using (_partition) order by 1""")


def state(settings):
    return json.loads((settings.home / "extract_state" / "shop_orders.json").read_text())


def test_full_then_incremental_load_after_inserts_and_updates(settings, pg, one_pass, query):
    pg.insert((1, "new", 10, "2026-02-01 10:00"), (2, "paid", 20, "2026-02-01 11:00"),
              (3, "new", 30, "2026-02-01 12:00"))
    result = one_pass()
    assert result.ok, result.failures
    assert [e.rows for e in result.extracted] == [3]
    assert query("select id, status from current.shop_orders order by id") == [
        (1, "new"), (2, "paid"), (3, "new")]
    assert state(settings)["cursor"] == "2026-02-01 12:00:00"

    pg.insert((4, "new", 40, "2026-02-02 09:00"), (5, "new", 50, "2026-02-02 09:30"))
    pg.run(f"update {pg.table} set status = 'shipped', updated_at = '2026-02-02 10:00' where id = 1")
    result = one_pass()
    assert result.ok, result.failures
    assert [e.rows for e in result.extracted] == [3]  # two inserts and one update, once each
    assert query("select id, status from current.shop_orders order by id") == [
        (1, "shipped"), (2, "paid"), (3, "new"), (4, "new"), (5, "new")]
    rows = ledger(query)
    assert [r[1:] for r in rows] == [(3, 3, 0, 0), (3, 3, 0, 0)]  # balanced, nothing doubled
    assert query("select count(*), count(distinct (id, updated_at)) from raw.shop_orders") == [(6, 6)]

    result = one_pass()  # nothing new: no delivery, the cursor stays
    assert result.ok and result.extracted[0].file is None
    assert len(ledger(query)) == 2
    # each extraction is an immutable Parquet file in the lake with its manifest
    entries = list(lake.entries(settings.lake_dir, "shop_orders"))
    assert [e.file_name for e in entries] == ["extract-000001.parquet", "extract-000002.parquet"]
    second = entries[1].details
    assert second["rows"] == 3 and second["cursor_from"] == "2026-02-01 12:00:00"
    assert second["cursor_to"] == "2026-02-02 10:00:00"
    assert "where updated_at > '2026-02-01 12:00:00'" in second["query"]
    assert "postgres@" not in json.dumps(second)  # no credentials in the manifest


def _extract_in_subprocess(fault=None):
    env = {**os.environ, **({"DATAOPS_FAULT": fault} if fault else {})}
    env.pop("DATAOPS_FAULT", None) if fault is None else None
    return subprocess.run([sys.executable, "-c", "from dataops_platform.cli.main import cli; cli()",
                           "extract", "shop_orders"], env=env, capture_output=True, text=True,
                          timeout=300)


def test_an_extraction_killed_midway_is_redone_without_loss_or_duplicates(settings, pg, one_pass, query):
    pg.insert((1, "new", 10, "2026-02-01 10:00"), (2, "paid", 20, "2026-02-01 11:00"))
    killed = _extract_in_subprocess("extract-after-write")  # killed while writing
    assert killed.returncode == 75, killed.stderr
    folder = settings.landing_dir / "shop_orders"
    assert not list(folder.glob("*.parquet"))  # only a hidden partial file
    assert not (settings.home / "extract_state" / "shop_orders.json").exists()

    pg.insert((3, "new", 30, "2026-02-01 12:00"))
    killed = _extract_in_subprocess("extract-after-store")  # stored, killed before the cursor moved
    assert killed.returncode == 75, killed.stderr
    assert [p.name for p in folder.glob("*.parquet")] == ["extract-000001.parquet"]
    assert not list(folder.glob(".*.tmp-*"))  # the partial file was cleared, not delivered

    again = _extract_in_subprocess()
    assert again.returncode == 0, again.stderr
    assert "recovered a stored extraction" in again.stdout
    assert state(settings)["cursor"] == "2026-02-01 12:00:00"
    assert [p.name for p in folder.glob("*.parquet")] == ["extract-000001.parquet"]

    result = one_pass()
    assert result.ok, result.failures
    assert result.extracted[0].file is None  # the recovered extraction already had every row
    assert query("select id from raw.shop_orders order by id") == [("1",), ("2",), ("3",)]


def test_the_source_down_fails_clearly_and_the_cursor_does_not_move(settings, pg, one_pass, monkeypatch):
    pg.insert((1, "new", 10, "2026-02-01 10:00"))
    assert one_pass().ok
    before = state(settings)
    monkeypatch.setenv("PG_URL", "postgresql://postgres@127.0.0.1:1/test")  # nothing listens there
    pg.insert((2, "new", 20, "2026-02-02 10:00"))
    result = one_pass()
    assert not result.ok
    (failure,) = result.failures
    assert "postgres source of 'shop_orders'" in failure and "is down" in failure
    assert "cannot reach 127.0.0.1:1" in failure and "cursor stays at '2026-02-01 10:00:00'" in failure
    assert state(settings) == before
    assert len(list((settings.landing_dir / "shop_orders").glob("*.parquet"))) == 1

    monkeypatch.delenv("PG_URL")
    result = one_pass()
    assert any("environment variable PG_URL" in f for f in result.failures)
    monkeypatch.setenv("PG_URL", PG_URL)  # back up: the missed row comes now
    result = one_pass()
    assert result.ok and result.extracted[0].rows == 1


def test_a_contract_violation_is_quarantined_with_its_source_row(settings, pg, one_pass, query):
    pg.insert((1, "new", 10, "2026-02-01 10:00"), (2, "lost", 20, "2026-02-01 11:00"),
              (3, "paid", -5, "2026-02-01 12:00"))
    assert one_pass().ok
    rows = query("""select "column", rule, value, _source_file, _row_number,
                           json_extract_string(original_record, '$.id')
                    from quarantine.shop_orders order by _row_number""")
    assert rows == [("status", "allowed_values", "lost", "shop_orders/extract-000001.parquet", 2, "2"),
                    ("amount", "min", "-5.0000000000", "shop_orders/extract-000001.parquet", 3, "3")]
    assert [r[1:] for r in ledger(query)] == [(3, 1, 2, 0)]


@pytest.mark.parametrize("policy", ["evolve", "discard", "freeze"])
def test_a_schema_change_in_the_source_table_under_each_policy(settings, pg, one_pass, query, policy):
    declare(settings, table=pg.table, policy=policy)
    pg.insert((1, "new", 10, "2026-02-01 10:00"))
    assert one_pass().ok
    pg.run(f"alter table {pg.table} add column channel text")
    pg.run(f"insert into {pg.table} values (2, 'paid', 20, '2026-02-02 10:00', 'web')")
    result = one_pass()
    columns = [r[0] for r in query("select column_name from duckdb_columns() "
                                   "where schema_name = 'raw' and table_name = 'shop_orders'")]
    assert state(settings)["cursor"] == "2026-02-02 10:00:00"  # the delivery is stored either way
    if policy == "evolve":
        assert result.ok and "channel" in columns
        assert query("select channel from raw.shop_orders where id = '2'") == [("web",)]
    elif policy == "discard":
        assert result.ok and "channel" not in columns
        assert query("select id from cleaned.shop_orders order by id") == [(1,), (2,)]
    else:
        assert not result.ok
        (failure,) = result.failures
        assert "channel" in failure and "extract-000002.parquet" in failure
        assert query("select id from cleaned.shop_orders") == [(1,)]


def test_mysql_table_by_a_monotonic_id_and_a_query(settings, one_pass, query, monkeypatch):
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", database="test",
                           autocommit=True)
    table = f"orders_{uuid.uuid4().hex[:10]}"
    try:
        with conn.cursor() as cur:
            cur.execute(f"create table {table} (id int primary key, status varchar(20), "
                        "amount decimal(10,2), updated_at datetime not null)")
            cur.execute(f"insert into {table} values (1, 'new', 10, '2026-02-01 10:00:00'), "
                        "(2, 'paid', 20, '2026-02-01 11:00:00')")
        monkeypatch.setenv("MY_URL", MY_URL)
        contracts_dir(settings).clear()
        declare(settings, table=table, kind="mysql", env="MY_URL", cursor="id", initial="0")
        result = one_pass()
        assert result.ok, result.failures
        assert state(settings)["cursor"] == 2
        with conn.cursor() as cur:
            cur.execute(f"insert into {table} values (3, 'shipped', 30, '2026-02-02 10:00:00')")
        result = one_pass()
        assert result.ok and result.extracted[0].rows == 1
        assert query("select id, status from current.shop_orders order by id") == [
            (1, "new"), (2, "paid"), (3, "shipped")]
        assert [r[1:] for r in ledger(query)] == [(2, 2, 0, 0), (1, 1, 0, 0)]

        # the same source as a query, in full mode: a snapshot each time
        text = (contracts_dir(settings) / "shop_orders.yaml").read_text()
        text = text.replace(f"table: {table}", f"query: select * from {table} where status <> 'new'")
        text = text.replace("  cursor: {column: id, initial: '0'}\n", "  mode: full\n")
        text = text.replace("write: {mode: merge, order_by: updated_at}", "write: {mode: replace}")
        (contracts_dir(settings) / "shop_orders.yaml").write_text(text)
        result = one_pass()
        assert result.ok, result.failures
        assert query("select id from current.shop_orders order by id") == [(2,), (3,)]
    finally:
        with conn.cursor() as cur:
            cur.execute(f"drop table if exists {table}")
        conn.close()
