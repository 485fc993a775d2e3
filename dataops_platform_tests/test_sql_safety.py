"""SQL safety: partition keys are validated wherever they meet SQL, filters carry parameters,
and literal() renders every float DuckDB can read back."""

import math

import dagster as dg
import duckdb
import pandas as pd
import pytest

from dataops_platform.collect.raw_asset import same_file_versions
from dataops_platform.factory import build_platform
from dataops_platform.storage.io_manager import StagedTables, TableRef, WarehouseIOManager
from dataops_platform.storage.partition_keys import (
    UnsafePartitionKey,
    is_partition_key,
    partition_filter,
    validate_partition_key,
)
from dataops_platform.storage.sql import literal
from dataops_platform.storage.warehouse import POOL, Warehouse
from dataops_platform_tests.hostile_helpers import THINGS, only_contracts, tables
from dataops_platform_tests.project_files import contracts_dir

HOSTILE = "x'); drop table t; select ('x"
GOOD = "things.csv@0123456789ab"
BAD_KEYS = [HOSTILE, "a.csv@0123456789AB", "a.csv@0123", "a b.csv@0123456789ab", "@0123456789ab",
            "a.csv@0123456789ab; drop table t", "a.csv@0123456789ab\n", "", "a'b@0123456789ab"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_a_key_off_the_rule_is_rejected_with_the_rule_named(key):
    assert not is_partition_key(key)
    with pytest.raises(UnsafePartitionKey, match=r"not a landed-file key .*nothing was read"):
        validate_partition_key(key)
    with pytest.raises(UnsafePartitionKey):
        partition_filter("_partition", [GOOD, key])
    with pytest.raises(UnsafePartitionKey):
        TableRef.of_partitions("raw", "things", "_partition", [key])
    with pytest.raises(UnsafePartitionKey):
        same_file_versions(key)


def test_keys_made_by_the_sensor_pass_and_filters_are_sql_plus_parameters():
    assert validate_partition_key(GOOD) == GOOD
    assert is_partition_key("a_b-c.d-1f2e3d4c@abcdef012345")
    sql, params = partition_filter("_partition", [GOOD, "b.csv@aaaaaaaaaaaa"])
    assert (sql, params) == ('"_partition" in (?, ?)', [GOOD, "b.csv@aaaaaaaaaaaa"])
    assert partition_filter("_partition", []) == ("false", [])
    conn = duckdb.connect()
    conn.execute("create table t (_partition varchar)")
    conn.execute("insert into t values (?), ('other@aaaaaaaaaaaa')", [GOOD])
    assert conn.execute(f"select * from t where {sql}", params).fetchall() == [(GOOD,)]


@pytest.mark.parametrize(("value", "expected"), [
    (math.nan, None), (math.inf, math.inf), (-math.inf, -math.inf), (1.5, 1.5), (3, 3),
    (None, None), ("it's", "it's"), (True, True)])
def test_literal_renders_values_duckdb_reads_back(value, expected):
    ((got,),) = duckdb.sql(f"select {literal(value)}").fetchall()
    if isinstance(value, float) and math.isnan(value):
        assert math.isnan(got)
    else:
        assert got == expected


def test_the_io_manager_rejects_a_hostile_key_and_drops_nothing(tmp_path):
    """Straight through the IO manager: a partitions definition that admits any key."""
    db = str(tmp_path / "w.duckdb")
    parts = dg.DynamicPartitionsDefinition(name="parts")
    conn = duckdb.connect(db)
    conn.execute("create schema cleaned; create table cleaned.things (part varchar, n int)")
    conn.execute("create table t (x int); insert into t values (1)")
    conn.execute("insert into cleaned.things values (?, 1)", [GOOD])
    conn.close()

    @dg.asset(key=["cleaned", "things"], partitions_def=parts, pool=POOL,
              metadata={"partition_expr": "part"})
    def things(context: dg.AssetExecutionContext) -> pd.DataFrame:
        return pd.DataFrame({"part": [context.partition_key], "n": [2]})

    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("parts", [HOSTILE, GOOD])
    resources = {"io_manager": WarehouseIOManager(database=db), "warehouse": Warehouse(database=db)}
    bad = dg.materialize([things], partition_key=HOSTILE, instance=instance,
                         resources=resources, raise_on_error=False)
    assert not bad.success
    (failure,) = [e for e in bad.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "not a landed-file key" in failure.event_specific_data.error.message
    good = dg.materialize([things], partition_key=GOOD, instance=instance, resources=resources)
    assert good.success
    conn = duckdb.connect(db)
    assert conn.execute("select * from t").fetchall() == [(1,)]
    assert conn.execute("select * from cleaned.things").fetchall() == [(GOOD, 2)]
    conn.close()


def test_staged_tables_and_table_refs_reject_a_hostile_key(tmp_path):
    db = str(tmp_path / "w.duckdb")
    parts = dg.DynamicPartitionsDefinition(name="parts")

    @dg.asset(key=["raw", "things"], partitions_def=parts, pool=POOL,
              metadata={"partition_expr": "part"})
    def raw(context: dg.AssetExecutionContext, warehouse: Warehouse) -> StagedTables:
        with warehouse.get_connection() as conn:
            conn.execute("create or replace table staging.s as select ? as part, 1 as n",
                         [context.partition_key])
        return StagedTables(main="staging.s")

    @dg.asset(key=["cleaned", "things"], partitions_def=parts, pool=POOL,
              ins={"raw": dg.AssetIn(key=raw.key)}, metadata={"partition_expr": "part"})
    def cleaned(raw: TableRef) -> pd.DataFrame:
        return pd.DataFrame({"part": [raw.where], "n": [1]})

    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("parts", [HOSTILE, GOOD])
    resources = {"io_manager": WarehouseIOManager(database=db), "warehouse": Warehouse(database=db)}
    assert dg.materialize([raw, cleaned], partition_key=GOOD, instance=instance,
                          resources=resources).success
    result = dg.materialize([raw, cleaned], partition_key=HOSTILE, instance=instance,
                            resources=resources, raise_on_error=False)
    assert not result.success
    conn = duckdb.connect(db)
    assert conn.execute("select * from raw.things").fetchall() == [(GOOD, 1)]
    assert conn.execute("select part from cleaned.things").fetchall() == [
        ("(\"part\" in ('things.csv@0123456789ab'))",)]
    conn.close()


def test_a_hostile_partition_added_by_hand_is_rejected_and_no_table_is_dropped(
        settings, land, one_pass, query):
    only_contracts(contracts_dir(settings), THINGS)
    land("things/things.csv", "id,label,price\n1,a,1.50\n2,b,2.25\n")
    first = one_pass()
    assert not first.failures
    before = tables(query)
    assert ("raw", "things", 2) in before and ("cleaned", "things", 2) in before

    instance = dg.DagsterInstance.get()
    instance.add_dynamic_partitions("things_files", [HOSTILE.replace("t;", "raw.things;")])
    job = build_platform(settings).definitions.resolve_job_def("process_things")
    result = job.execute_in_process(instance=instance, partition_key=HOSTILE.replace(
        "t;", "raw.things;"), raise_on_error=False)
    assert not result.success
    messages = [e.event_specific_data.error.message for e in result.all_events
                if e.event_type_value == "STEP_FAILURE"]
    assert messages and all("not a landed-file key" in m for m in messages), messages
    assert tables(query) == before

    second = one_pass()  # the CLI pass meets the same key among the pending ones
    assert second.failures and all("not a landed-file key" in f for f in second.failures)
    assert "Traceback" not in "\n".join(second.failures)
    assert tables(query) == before
