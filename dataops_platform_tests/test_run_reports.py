"""`dataops run` says what it skipped and fails on an unbalanced ledger."""

import os

import duckdb
from click.testing import CliRunner

from dataops_platform.cli.main import cli
from dataops_platform_tests.hostile_helpers import THINGS, only_contracts
from dataops_platform_tests.project_files import contracts_dir

HEADER = "id,label,price\n"


def test_skipped_paths_are_named_never_silent_and_symlinks_are_not_followed(
        settings, land, tmp_path):
    only_contracts(contracts_dir(settings), THINGS)
    land("things/good.csv", HEADER + "1,a,1\n")
    land("things/.draft.csv", HEADER + "2,b,2\n")
    (settings.landing_dir / "things" / "folder.csv").mkdir()
    secret = tmp_path / "secret.csv"
    secret.write_text(HEADER + "3,TOP-SECRET,3\n")
    os.symlink(secret, settings.landing_dir / "things" / "link.csv")
    out = CliRunner().invoke(cli, ["run"])
    assert out.exit_code == 0, out.output
    lines = [x for x in out.output.splitlines() if x.startswith("IGNORED")]
    assert lines == ["IGNORED things/.draft.csv: a hidden file (a name starting with '.' is taken "
                     "for one still being written; rename it to deliver it)",
                     "IGNORED things/folder.csv: a folder, not a file",
                     "IGNORED things/link.csv: a symbolic link (never followed)"]
    assert "TOP-SECRET" not in out.output


def test_run_exits_1_when_rows_are_unaccounted_for(settings, land):
    only_contracts(contracts_dir(settings), THINGS)
    land("things/good.csv", HEADER + "1,a,1\nx,b,2\n")
    assert CliRunner().invoke(cli, ["run"]).exit_code == 0
    conn = duckdb.connect(str(settings.warehouse_path))
    conn.execute("delete from quarantine.things")  # behind the platform's back
    conn.close()
    out = CliRunner().invoke(cli, ["run"])
    assert out.exit_code == 1 and "ROWS UNACCOUNTED FOR in: things" in out.output


def test_earlier_content_delivered_again_under_the_same_name_is_loaded_again(settings, land, query):
    only_contracts(contracts_dir(settings), THINGS)
    a, b = HEADER + "1,first,1\n", HEADER + "1,second,2\n"
    for content, expected in ((a, "first"), (b, "second"), (a, "first")):  # A -> B -> A
        path = land("things/t.csv", content)
        os.utime(path, (path.stat().st_mtime + len(expected),) * 2)  # a new delivery: new mtime
        out = CliRunner().invoke(cli, ["run"])
        assert out.exit_code == 0, out.output
        assert "nothing new landed" not in out.output
        assert query("select label from cleaned.things") == [(expected,)]
        assert query("select count(*) from raw.things") == [(1,)]


def test_dataops_run_gives_a_fresh_file_its_settle_time(settings, land, monkeypatch):
    from dataops_platform.automation import one_pass
    from dataops_platform.factory import build_platform

    only_contracts(contracts_dir(settings), THINGS)
    path = land("things/t.csv", HEADER + "1,a,1\n")
    datasets = build_platform(settings).datasets
    monkeypatch.setenv("DATAOPS_SETTLE_SECONDS", "10")
    mtime = path.stat().st_mtime_ns
    assert one_pass.settle_wait_s(datasets, settings.landing_dir, now_ns=mtime + 4 * 10**9) == 6.0
    assert one_pass.settle_wait_s(datasets, settings.landing_dir, now_ns=mtime + 60 * 10**9) == 0.0
    monkeypatch.setenv("DATAOPS_SETTLE_SECONDS", "0")
    assert one_pass.settle_wait_s(datasets, settings.landing_dir, now_ns=mtime) == 0.0


def test_a_value_that_does_not_fit_its_type_exactly_is_a_type_violation(settings, land, query):
    only_contracts(contracts_dir(settings), THINGS)  # id integer, price decimal(12,2)
    land("things/t.csv", HEADER + "1,a,1.5\n2.7,b,1\n3,c,1.23456\n4,d,2.0\n5.0,e,1e2\n")
    assert CliRunner().invoke(cli, ["run"]).exit_code == 0
    assert query("select id, cast(price as varchar) from cleaned.things order by id") == [
        (1, "1.50"), (4, "2.00"), (5, "100.00")]
    assert query('select "column", rule, value from quarantine.things order by _row_number') == [
        ("id", "type", "2.7"), ("price", "type", "1.23456")]


def test_run_prints_each_files_time_and_steps_and_names_skipped_redeliveries(settings, land):
    import dagster as dg

    from dataops_platform.automation.one_pass import SECONDS_TAG

    only_contracts(contracts_dir(settings), THINGS)
    land("things/a.csv", HEADER + "1,a,1\n")
    land("things/copy of a.csv", HEADER + "1,a,1\n")
    out = CliRunner().invoke(cli, ["run"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    (skipped,) = [x for x in lines if x.startswith("skipped ")]
    assert skipped.startswith("skipped things things/copy of a.csv: same content as a.csv@")
    (timed,) = [x for x in lines if x.startswith("time: process_things [a.csv@")]
    assert "slowest steps: things_files " in timed
    seconds = float(timed.split("] ")[1].split(" s")[0])
    assert seconds > 0
    assert any(x.startswith("time: 1 run(s)") or x.startswith("time: 2 run(s)") for x in lines)
    # the same figure is kept on the run, where the UI shows it
    instance = dg.DagsterInstance.from_config(str(settings.dagster_home))
    (run,) = instance.get_runs(filters=dg.RunsFilter(job_name="process_things"))
    assert float(run.tags[SECONDS_TAG]) == seconds
    instance.dispose()

    again = CliRunner().invoke(cli, ["run"])  # nothing new: the copy is still named, no runs
    assert [x for x in again.output.splitlines() if x.startswith("skipped ")] == [skipped]
    assert not [x for x in again.output.splitlines() if x.startswith("time: process")]


def test_a_damaged_automation_cursor_is_started_afresh_not_a_traceback(settings, land):
    from dataops_platform.automation.one_pass import AUTOMATION_CURSOR

    only_contracts(contracts_dir(settings), THINGS)
    land("things/a.csv", HEADER + "1,a,1\n")
    assert CliRunner().invoke(cli, ["run"]).exit_code == 0
    cursor = settings.dagster_home / AUTOMATION_CURSOR
    assert cursor.exists()  # kept after the pass's runs
    cursor.write_text("{not a cursor", encoding="utf-8")
    land("things/b.csv", HEADER + "2,b,2\n")
    out = CliRunner().invoke(cli, ["run"])
    assert out.exit_code == 0, out.output
    assert "Traceback" not in out.output
    assert cursor.read_text(encoding="utf-8").startswith("{\"")  # a readable cursor again
