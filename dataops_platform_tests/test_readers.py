"""The reader on real files: what it stages must not depend on how DuckDB schedules the scan."""

import json
from pathlib import Path

import duckdb

from dataops_platform.collect.readers import DELIVERED_COLUMNS, stage_file
from dataops_platform_tests.project_files import example_contract


def test_json_keys_are_in_order_of_first_appearance_however_the_scan_is_split(
        tmp_path: Path) -> None:
    """A key first seen deep in a large file comes after the first object's keys, and the
    first object's keys keep their order: the staged layout and ``_delivered_columns`` (and
    so a rebuild from the lake) are the same on every run."""
    contract = example_contract("orders")
    path = tmp_path / "orders.ndjson"
    with path.open("w") as out:  # large enough for DuckDB to scan it in several chunks
        for i in range(50_000):
            record = {"order_id": f"ORD-{i}", "sku": "ABC-1", "qty": "1"}
            if i == 40_000:
                record = {"note": "late key", "order_id": f"ORD-{i}"}
            out.write(json.dumps(record) + "\n")
    conn = duckdb.connect()
    conn.execute("set threads = 4")  # a parallel scan: chunks finish in varying order

    for _ in range(8):  # the earlier reader got this wrong in about half of such scans
        delivered = stage_file(conn, contract, path, "staged", {"_partition": "'p'"})
        assert delivered == ["order_id", "sku", "qty", "note"]
    assert conn.execute(f"select distinct {DELIVERED_COLUMNS} from staged").fetchall() == [
        (json.dumps(delivered),)]
    assert conn.execute("select count(*), count(note) from staged").fetchone() == (50_000, 1)
