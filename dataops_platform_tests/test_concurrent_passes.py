"""Concurrent headless passes on one home (hostile corpus, issue 16): four ``dataops run``
started at once process every file exactly once and all exit 0.

The handshake: the test holds the home's pass lock itself, starts the four processes and
reads each one's stderr until it says it is waiting for the lock (naming the test's pid) —
so all four are provably contending — then releases it. No sleeps.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from dataops_platform.automation.pass_lock import holder_pid, lock_path, pass_lock
from dataops_platform.cli.project_commands import write_declared_project
from dataops_platform.profiles.execution import RANGE_END_TAG, RANGE_START_TAG
from dataops_platform.settings import Settings
from dataops_platform_tests.hostile_helpers import THINGS

PASSES = 4
FILES = 3
ROWS = 20


def _cli(home: Path, project: Path) -> subprocess.Popen:
    env = {**os.environ, "DATAOPS_HOME": str(home), "DATAOPS_PROJECT": str(project),
           "DATAOPS_SETTLE_SECONDS": "0", "DAGSTER_HOME": str(home / "dagster")}
    return subprocess.Popen(
        [sys.executable, "-c", "from dataops_platform.cli.main import cli; cli()", "run"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_until_waiting(proc: subprocess.Popen) -> str:
    """Read ``proc``'s stderr up to its 'waiting' line (it is blocked on the lock then)."""
    seen = []
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if "waiting for it to finish" in line:
            return line
    raise AssertionError(f"the pass never waited for the lock (exit {proc.wait()}): "
                         + "".join(seen)[-3000:])


@pytest.mark.slow
def test_four_passes_at_once_process_every_file_exactly_once(tmp_path, monkeypatch):
    home = tmp_path / "home"
    project = write_declared_project(tmp_path / "project",
                                     {"things": yaml.safe_dump(THINGS, sort_keys=False)})
    landing = home / "landing" / "things"
    landing.mkdir(parents=True)
    for f in range(FILES):
        rows = "".join(f"{f * 100 + i},label {i},{i}.50\n" for i in range(ROWS))
        path = landing / f"things_{f}.csv"
        path.write_text("id,label,price\n" + rows, encoding="utf-8")
        os.utime(path, (path.stat().st_mtime - 3600,) * 2)

    lock = lock_path(home)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        procs = [_cli(home, project) for _ in range(PASSES)]
        for proc in procs:  # every pass is blocked on the lock, and says who holds it
            line = _wait_until_waiting(proc)
            assert f"pid {os.getpid()}" in line, line
        os.ftruncate(fd, 0)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    outputs = [proc.communicate(timeout=600) for proc in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out[-2000:] + err[-3000:]
        assert "Traceback" not in err
        # the lock is announced once per pass, not once per retry
        assert err.count("waiting for it to finish") == 0  # read by the handshake already

    monkeypatch.setenv("DATAOPS_HOME", str(home))
    settings = Settings.resolve(project)
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    try:
        keys = instance.get_dynamic_partitions("things_files")
        assert len(keys) == FILES
        for layer in ("raw", "cleaned"):
            for key in keys:  # processed exactly once: one materialization per file and layer
                records = instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=dg.AssetKey([layer, "things"]),
                                          asset_partitions=[key]), limit=10).records
                assert len(records) == 1, (layer, key, len(records))
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dataops/trigger": "cli"}))
        assert all(r.status is dg.DagsterRunStatus.SUCCESS for r in runs)
        # one run for the files (they landed together): the passes that waited found
        # nothing left to do
        (files_run,) = [r for r in runs if r.job_name == "process_things"]
        assert (files_run.tags[RANGE_START_TAG], files_run.tags[RANGE_END_TAG]) == \
            (keys[0], keys[-1])
    finally:
        instance.dispose()
    conn = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:  # the ledger balances: every row once
        assert conn.execute("select count(*), count(distinct id) from raw.things").fetchall() \
            == [(FILES * ROWS, FILES * ROWS)]
        assert conn.execute("select count(*), count(distinct id) from cleaned.things") \
            .fetchall() == [(FILES * ROWS, FILES * ROWS)]
    finally:
        conn.close()
    assert not lock.read_text().strip()  # released: no holder recorded
    assert holder_pid(lock) is None


def test_the_pass_lock_names_its_holder_and_is_released_on_exit(tmp_path):
    said: list[str] = []
    with pass_lock(tmp_path, said.append):
        assert holder_pid(lock_path(tmp_path)) == os.getpid()
        fd = os.open(lock_path(tmp_path), os.O_RDWR)
        try:  # held: a second taker would have to wait
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    assert said == []  # nobody held it: nothing said
    with pass_lock(tmp_path, said.append):  # released: taken again at once
        pass
    assert said == []
