"""Retiring a delivery: `dataops files discard` removes a failed or unwanted file's rows and
partition atomically, keeps (or purges) its lake copy, records it; run and check name
pending failed deliveries with the way out, and the next run is green."""

import json

import dagster as dg
from click.testing import CliRunner

from dataops_platform.cli.main import cli
from dataops_platform.collect import lake
from dataops_platform_tests.hostile_helpers import THINGS, only_contracts, tables
from dataops_platform_tests.project_files import contracts_dir

GOOD = "id,label,price\n1,a,1.50\n2,b,2.25\n"
RAGGED = "id,label,price\n3,c,1\n4,d\n"


def _run(*args):
    return CliRunner().invoke(cli, list(args))


def test_a_failed_delivery_is_named_until_retired_then_the_next_run_is_green(settings, land, query):
    only_contracts(contracts_dir(settings), THINGS)
    land("things/good.csv", GOOD)
    land("things/ragged.csv", RAGGED)
    first = _run("run")
    assert first.exit_code == 1
    pending = [x for x in first.output.splitlines() if x.startswith("PENDING")]
    assert len(pending) == 1 and "ragged.csv@" in pending[0]
    assert "`dataops files discard ragged.csv@" in pending[0]
    (settings.landing_dir / "things" / "ragged.csv").unlink()  # the user deletes it: still pending
    again = _run("run")
    assert again.exit_code == 1 and "PENDING things ragged.csv@" in again.output
    check = _run("check")
    assert check.exit_code == 1 and "PENDING things ragged.csv@" in check.output
    before = tables(query)

    out = _run("files", "discard", "ragged.csv", "--reason", "ragged export")
    assert out.exit_code == 0, out.output
    assert "retired things things/ragged.csv (ragged.csv@" in out.output
    assert "lake copy kept (retired)" in out.output
    assert tables(query) == before  # it had no rows anywhere
    (record,) = [json.loads(x) for x in (settings.home / "retired.jsonl").read_text().splitlines()]
    assert record["dataset"] == "things" and record["reason"] == "ragged export"
    key = record["partition_key"]
    assert not dg.DagsterInstance.get().has_dynamic_partition("things_files", key)
    assert lake.find(settings.lake_dir, "things", key) is None  # not read again ...
    kept = lake.find(settings.lake_dir, "things", key, retired=True)
    assert kept is not None and kept.path.exists()  # ... but kept
    assert [e.partition_key for e in lake.entries(settings.lake_dir, "things")] == [
        next(k for (k,) in query("select distinct _partition from raw.things"))]

    green = _run("run")
    assert green.exit_code == 0, green.output
    assert "PENDING" not in green.output
    assert _run("check").exit_code == 0


def test_discard_removes_a_loaded_files_rows_in_every_table_and_purge_deletes_the_copy(
        settings, land, query):
    only_contracts(contracts_dir(settings), THINGS)
    land("things/good.csv", GOOD)
    land("things/unwanted.csv", "id,label,price\n7,x,9\n8,y,oops\n")
    assert _run("run").exit_code == 0
    assert query("select count(*) from raw.things") == [(4,)]
    landing_file = settings.landing_dir / "things" / "unwanted.csv"
    path = str(landing_file)  # a full landing path is accepted
    out = _run("files", "discard", path, "--purge")
    assert out.exit_code == 0, out.output
    assert "raw.things 2" in out.output and "cleaned.things 1" in out.output
    assert "quarantine.things 1" in out.output and "lake copy purged" in out.output
    assert not landing_file.exists()  # else the next pass would ingest it again
    assert query("select distinct _source_file from raw.things") == [("things/good.csv",)]
    assert query("select count(*) from quarantine.things") == [(0,)]
    assert len(list(lake.entries(settings.lake_dir, "things"))) == 1
    assert _run("run").exit_code == 0
    assert query("select count(*) from raw.things") == [(2,)]


def test_an_unknown_or_ambiguous_name_changes_nothing(settings, land, query):
    only_contracts(contracts_dir(settings), THINGS)
    land("things/good.csv", GOOD)
    assert _run("run").exit_code == 0
    before = tables(query)
    out = _run("files", "discard", "nope.csv")
    assert out.exit_code == 1 and "no delivery named 'nope.csv'" in out.output
    assert "Traceback" not in out.output
    assert tables(query) == before
