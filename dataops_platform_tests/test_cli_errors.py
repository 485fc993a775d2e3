"""People-only output: no stack trace and no `dagster._core...` class path on the CLI unless
`--debug`; the full trace is kept (run log / home logs)."""

import os
import subprocess
import sys

import pytest

from dataops_platform.automation.alerts import human_message, without_class_paths
from dataops_platform.cli import errors
from dataops_platform_tests.hostile_helpers import THINGS, only_contracts
from dataops_platform_tests.project_files import contracts_dir


def test_class_paths_are_dropped_from_messages():
    assert without_class_paths(
        "dagster._core.definitions.events.Failure: t.csv cannot be read") == "t.csv cannot be read"
    assert without_class_paths(
        'dagster._core.errors.DagsterExecutionStepExecutionError: Error in "x": '
        "_duckdb.BinderException: Binder Error: y") == 'Error in "x": BinderException: Binder Error: y'
    assert without_class_paths("see /data/v1.2/a.csv: fine") == "see /data/v1.2/a.csv: fine"
    assert human_message("dagster._core.definitions.events.Failure: bad\n\nStack Trace:\n  File") == "bad"


def _dataops(settings, *args):
    env = {**os.environ, "DATAOPS_HOME": str(settings.home),
           "DATAOPS_PROJECT": str(settings.project_dir), "DATAOPS_SETTLE_SECONDS": "0"}
    env.pop("DATAOPS_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "dataops_platform.cli.errors", *args],
                          capture_output=True, text=True, env=env, timeout=600)


def test_a_failing_file_gives_sentences_and_no_trace(settings, land):
    only_contracts(contracts_dir(settings), THINGS)
    land("things/ragged.csv", "id,label,price\n1,a,1\n2,b\n")
    out = _dataops(settings, "run")
    assert out.returncode == 1
    assert "Traceback" not in out.stderr + out.stdout and "Stack Trace" not in out.stderr + out.stdout
    assert "dagster._core" not in out.stderr + out.stdout
    (failed,) = [x for x in out.stdout.splitlines() if x.startswith("FAILED")]
    assert failed.startswith("FAILED raw/things [ragged.csv@") and "ragged.csv cannot be read" in failed
    assert "Line: 3" in failed


def test_debug_shows_the_trace(settings, land):
    only_contracts(contracts_dir(settings), THINGS)
    land("things/ragged.csv", "id,label,price\n1,a,1\n2,b\n")
    out = _dataops(settings, "--debug", "run")
    assert out.returncode == 1
    assert "Stack Trace" in out.stderr


def test_an_unexpected_error_is_one_sentence_and_its_trace_goes_to_the_home(
        settings, monkeypatch, capsys):
    def boom(_settings):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr("dataops_platform.cli.main._run", boom)
    monkeypatch.setenv("DATAOPS_DEBUG", "")  # restored after the test (main(--debug) sets it)
    with pytest.raises(SystemExit) as exit_info:
        errors.main(["run"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "error: the disk is full" in err and "Traceback" not in err
    log = settings.home / "logs" / "cli-errors.log"
    assert str(log) in err and "Traceback" in log.read_text() and "the disk is full" in log.read_text()
    with pytest.raises(RuntimeError):
        errors.main(["--debug", "run"])


def test_click_usage_errors_keep_their_exit_code(capsys):
    with pytest.raises(SystemExit) as exit_info:
        errors.main(["no-such-command"])
    assert exit_info.value.code == 2
    assert "No such command" in capsys.readouterr().err
