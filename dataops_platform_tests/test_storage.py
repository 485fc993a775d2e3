"""The IO manager closes the stock pandas handler's traps, on a real DuckDB file."""

import dagster as dg
import duckdb
import pandas as pd
import pytest

from dataops_platform.storage.io_manager import StagedTables, TableRef, WarehouseIOManager
from dataops_platform.storage.warehouse import POOL, Warehouse

A, B = "a.csv@00000000000a", "b.csv@00000000000b"  # file keys: <name>@<hash12>
parts = dg.StaticPartitionsDefinition([A, B])


def _frame_asset(frames):
    """A partitioned asset whose output per partition is taken from ``frames``."""

    @dg.asset(key=["cleaned", "things"], partitions_def=parts, pool=POOL,
              metadata={"partition_expr": "part"})
    def things(context: dg.AssetExecutionContext) -> pd.DataFrame:
        return frames[context.partition_key]

    return things


def _materialize(asset, db, key, **kwargs):
    return dg.materialize([asset], partition_key=key, raise_on_error=False,
                          resources={"io_manager": WarehouseIOManager(database=str(db)),
                                     "warehouse": Warehouse(database=str(db))}, **kwargs)


def _rows(db, sql):
    conn = duckdb.connect(str(db))
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_frames_are_inserted_by_column_name_not_position(tmp_path):
    db = tmp_path / "w.duckdb"
    frames = {A: pd.DataFrame({"part": [A], "name": ["Ann"], "city": ["Köln"]}),
              B: pd.DataFrame({"city": ["Lyon"], "part": [B], "name": ["Bo"]})}
    asset = _frame_asset(frames)
    assert _materialize(asset, db, A).success
    assert _materialize(asset, db, B).success
    assert _rows(db, "select part, name, city from cleaned.things order by part") == [
        (A, "Ann", "Köln"), (B, "Bo", "Lyon")]


def test_an_empty_frame_creates_the_table_and_empties_the_partition(tmp_path):
    db = tmp_path / "w.duckdb"
    empty = pd.DataFrame({"part": pd.Series([], dtype=str), "n": pd.Series([], dtype="int64")})
    assert _materialize(_frame_asset({A: empty}), db, A).success
    assert _rows(db, "select count(*) from cleaned.things") == [(0,)]
    assert _rows(db, "select column_name from information_schema.columns "
                     "where table_name = 'things' order by ordinal_position") == [("part",), ("n",)]

    full = pd.DataFrame({"part": [A, A], "n": [1, 2]})
    assert _materialize(_frame_asset({A: full}), db, A).success
    assert _materialize(_frame_asset({A: empty}), db, A).success
    assert _rows(db, "select count(*) from cleaned.things") == [(0,)]


def test_rerunning_a_partition_replaces_it_and_leaves_others(tmp_path):
    db = tmp_path / "w.duckdb"
    frames = {A: pd.DataFrame({"part": [A] * 3, "n": [1, 2, 3]}),
              B: pd.DataFrame({"part": [B], "n": [9]})}
    asset = _frame_asset(frames)
    for key in (A, B, A, A):
        assert _materialize(asset, db, key).success
    assert _rows(db, "select part, count(*) from cleaned.things group by 1 order by 1") == [
        (A, 3), (B, 1)]


def test_a_failed_write_leaves_the_previous_partition_intact(tmp_path):
    """Delete and insert are one transaction: a failing insert rolls the delete back."""
    db = tmp_path / "w.duckdb"
    good = pd.DataFrame({"part": [A, A], "n": [1, 2]})
    assert _materialize(_frame_asset({A: good}), db, A).success
    bad = pd.DataFrame({"part": [A], "n": ["not a number"]})  # cannot go into a BIGINT column
    result = _materialize(_frame_asset({A: bad}), db, A)
    assert not result.success
    assert _rows(db, "select n from cleaned.things order by n") == [(1,), (2,)]


def test_new_columns_are_added_to_the_table(tmp_path):
    db = tmp_path / "w.duckdb"
    asset = _frame_asset({A: pd.DataFrame({"part": [A], "n": [1]}),
                          B: pd.DataFrame({"part": [B], "n": [2], "extra": ["x"]})})
    assert _materialize(asset, db, A).success
    assert _materialize(asset, db, B).success
    assert _rows(db, "select part, extra from cleaned.things order by part") == [(A, None), (B, "x")]


def test_staged_tables_publish_main_and_side_tables_together(tmp_path):
    db = tmp_path / "w.duckdb"

    @dg.asset(key=["cleaned", "things"], partitions_def=parts, pool=POOL,
              metadata={"partition_expr": "part"})
    def things(context: dg.AssetExecutionContext, warehouse: Warehouse) -> StagedTables:
        key = context.partition_key
        name = key[0]
        with warehouse.get_connection() as conn:
            conn.execute(f"create or replace table staging.m_{name} as select '{key}' as part, 1 as n")
            conn.execute(f"create or replace table staging.s_{name} as "
                         f"select '{key}' as part, 'why' as reason")
        return StagedTables(main=f"staging.m_{name}", side={"quarantine.things": f"staging.s_{name}"})

    @dg.asset(key=["curated", "summary"], ins={"things": dg.AssetIn(key=things.key)})
    def summary(things: TableRef, warehouse: Warehouse) -> pd.DataFrame:
        with warehouse.get_connection() as conn:
            return conn.execute(things.select("count(*) as n")).fetchdf()

    resources = {"io_manager": WarehouseIOManager(database=str(db)),
                 "warehouse": Warehouse(database=str(db))}
    for key in (A, B, A):
        assert dg.materialize([things], partition_key=key, resources=resources).success
    assert _rows(db, "select part from quarantine.things order by part") == [(A,), (B,)]
    assert _rows(db, "select count(*) from duckdb_tables() where schema_name = 'staging'") == [(0,)]
    assert dg.materialize([things, summary], selection=[summary.key], resources=resources).success
    assert _rows(db, "select n from curated.summary") == [(2,)]


def test_connections_wait_for_another_process_lock_then_give_up_clearly(tmp_path):
    import subprocess
    import sys

    db = tmp_path / "w.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); c.execute('create table t(x int)');"
        "print('locked', flush=True); time.sleep(float(sys.argv[2]))"), str(db), "1.5"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with Warehouse(database=str(db), lock_timeout_s=30).get_connection() as conn:  # waits ~1.5 s
            assert conn.execute("select count(*) from t").fetchone() == (0,)
    finally:
        holder.wait(timeout=30)

    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]);"
        "print('locked', flush=True); time.sleep(30)"), str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        from dataops_platform.storage.warehouse import WarehouseLockedError
        with pytest.raises(WarehouseLockedError, match="stayed locked by another process"), \
                Warehouse(database=str(db), lock_timeout_s=0.5).get_connection():
            pass
    finally:
        holder.kill()
        holder.wait()
