"""The production profile against the machine's real services: the Dagster instance on
PostgreSQL (a database per test), steps on Celery workers (`dataops worker` processes, broker
RabbitMQ in a vhost per test, results in Redis). Run them alone with `pytest -m production`."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import psycopg
import pytest
import yaml

from dataops_platform.automation.one_pass import prepare_instance, run_pass
from dataops_platform.cli.summary import unbalanced
from dataops_platform.factory import build_platform
from dataops_platform.profiles import PG_ENV, ProfileError, check_postgres
from dataops_platform.settings import Settings
from dataops_platform_tests.project_files import contracts_dir, copy_example, only_own_datasets

pytestmark = pytest.mark.production

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
DATAOPS = Path(sys.executable).parent / "dataops"
METERS = {
    "name": "meters", "description": "Meter readings.", "owner": "tests@example.com",
    "source": {"format": "csv"}, "primary_key": ["reading_id"],
    "columns": [{"name": "reading_id", "type": "integer", "nullable": False},
                {"name": "meter", "nullable": False},
                {"name": "kwh", "type": "float"}],
}


def _create_database() -> str:
    name = f"dataops_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def _drop_database(name: str) -> None:
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_env(database: str) -> dict[str, str]:
    return dict(zip(PG_ENV, ("127.0.0.1", "5432", "postgres", "", database), strict=True))


@pytest.fixture
def pg_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A database of its own for the test's Dagster instance, named by DATAOPS_PG_*."""
    name = _create_database()
    for var, value in _pg_env(name).items():
        monkeypatch.setenv(var, value)
    yield name
    _drop_database(name)


@dataclass
class Deployment:
    settings: Settings
    database: str
    workers: list[subprocess.Popen]
    app: object  # the Celery app, to ping workers


def _rabbitmqctl(*args: str, check: bool = True) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=check, capture_output=True)


def _start_worker(settings: Settings, name: str, **extra_env: str) -> subprocess.Popen:
    """A `dataops worker` process (its pid is the worker's: the command execs)."""
    log = settings.home.parent / f"{name}.log"
    return subprocess.Popen([str(DATAOPS), "worker", "--name", name],
                            env={**os.environ, **extra_env}, stderr=subprocess.STDOUT,
                            stdout=log.open("w"))


def _await_workers(app: object, procs: list[subprocess.Popen], settings: Settings) -> None:
    """Return once as many workers answer a ping as there are live worker processes."""
    for _ in range(120):
        if len(app.control.ping(timeout=0.5)) >= len(procs):  # type: ignore[attr-defined]
            return
        for proc in procs:
            assert proc.poll() is None, _worker_log(settings, proc)
    pytest.fail("the workers did not answer")


def _worker_log(settings: Settings, proc: subprocess.Popen) -> str:
    return (settings.home.parent / f"{proc.args[-1]}.log").read_text()[-3000:]


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def _deployed(tmp: Path, workers: int) -> Iterator[Deployment]:
    """A production deployment: a project with one small dataset, a PostgreSQL database for
    the instance, a RabbitMQ vhost as the broker, a Redis database for results, and
    ``workers`` `dataops worker` processes, returned once they all answer a ping."""
    from dataops_platform.profiles.worker import make_worker_app

    project = copy_example(tmp / "project")
    database = _create_database()
    vhost = f"dataops_t_{uuid.uuid4().hex[:12]}"
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    env = {"DATAOPS_HOME": str(tmp / "home"), "DATAOPS_PROJECT": str(project),
           "DAGSTER_HOME": str(tmp / "home" / "dagster"), "DATAOPS_PROFILE": "production",
           "DATAOPS_SETTLE_SECONDS": "0", **_pg_env(database),
           "DATAOPS_CELERY_BROKER": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
           "DATAOPS_CELERY_BACKEND": f"redis://127.0.0.1:6379/{random.randint(1, 15)}",
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}  # celery_target
    deployment: Deployment | None = None
    with pytest.MonkeyPatch.context() as patch:
        for var, value in env.items():
            patch.setenv(var, value)
        settings = Settings.resolve(project)
        only_own_datasets(settings)
        (contracts_dir(settings) / "meters.yaml").write_text(yaml.safe_dump(METERS), encoding="utf-8")
        app = make_worker_app()
        try:
            deployment = Deployment(settings, database, [], app)
            deployment.workers.extend(_start_worker(settings, f"w{i}") for i in range(workers))
            _await_workers(app, deployment.workers, settings)
            patch.setattr("dataops_platform.automation.one_pass.OBSERVE_GAP_S", 0.0)
            yield deployment
        finally:
            if deployment is not None:
                _stop(deployment.workers)
            app.close()
            _rabbitmqctl("delete_vhost", vhost, check=False)
            _drop_database(database)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One production deployment with two workers for the module's tests."""
    with _deployed(tmp_path_factory.mktemp("production"), workers=2) as deployed:
        yield deployed


def _land(settings: Settings, relative: str, text: str) -> None:
    path = settings.landing_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    old = path.stat().st_mtime - 3600  # landed a while ago: settled
    os.utime(path, (old, old))


def test_two_steps_run_on_two_celery_workers_at_once(deployment, tmp_path):
    from dataops_platform_tests import celery_target

    folder = tmp_path / "meet"
    folder.mkdir()
    instance = prepare_instance(deployment.settings)
    try:
        recon = dg.reconstructable(celery_target.two_steps)
        config = {"ops": {n: {"config": {"folder": str(folder)}} for n in ("left", "right")}}
        with dg.execute_job(recon, instance, run_config=config) as result:
            assert result.success
            pids = {result.output_for_node("left"), result.output_for_node("right")}
    finally:
        instance.dispose()
    # each step waited for the other: they ran at the same time, on the two worker processes
    assert pids == {p.pid for p in deployment.workers}


def test_pipeline_end_to_end_on_postgres_instance_and_celery_workers(deployment):
    production = deployment.settings
    _land(production, "meters/m1.csv", "reading_id,meter,kwh\n1,M1,1.5\n2,M2,2.5\n2,M2,2.5\nx,M3,1\n")
    _land(production, "meters/m2.csv", "reading_id,meter,kwh\n3,M1,0.5\n4,,1\n")
    instance = prepare_instance(production)
    try:
        platform = build_platform(production)
        result = run_pass(production, platform, instance)
        assert result.ok, result.failures
        assert len(result.processed["meters"]) == 2
        assert unbalanced(production, platform.datasets) == []
        assert len(result.run_ids) >= 2  # the 2 files (one run, they landed together) + curated
    finally:
        instance.dispose()
    with psycopg.connect(**{**PG, "dbname": deployment.database}) as conn:  # the runs are in PostgreSQL
        runs = conn.execute("select count(*) from runs where status = 'SUCCESS' and run_id = any(%s)",
                            [result.run_ids]).fetchone()
        on_workers = conn.execute(
            "select count(*) from event_logs where run_id = any(%s) and event like %s",
            [result.run_ids, "%in celery worker%"]).fetchone()
    assert runs is not None and runs[0] == len(result.run_ids)
    assert on_workers is not None and on_workers[0] > 0  # steps ran on the Celery workers
    totals = {c.check: c for c in result.checks if c.check == "row_conservation"}
    assert totals and all(c.passed for c in totals.values())


def _rows(settings: Settings, table: str) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        return conn.execute(f"select reading_id, meter, kwh from {table} order by all").fetchall()


def test_a_worker_killed_mid_write_changes_nothing_and_another_worker_finishes_the_step(tmp_path):
    with _deployed(tmp_path, workers=1) as deployment:
        settings = deployment.settings
        _land(settings, "meters/m1.csv", "reading_id,meter,kwh\n1,M1,1.5\n2,M2,2.5\n")
        first = subprocess.run([str(DATAOPS), "run"], capture_output=True, text=True, check=False)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        before = {t: _rows(settings, t) for t in ("raw.meters", "cleaned.meters")}
        assert len(before["cleaned.meters"]) == 2

        _stop(deployment.workers)  # from now on the only worker pauses inside its first write
        deployment.workers.clear()
        marker = tmp_path / "paused-in-write"
        victim = _start_worker(settings, "victim", DATAOPS_FAULT_POINT="partition_write",
                               DATAOPS_FAULT_MARKER=str(marker))
        deployment.workers.append(victim)
        _await_workers(deployment.app, deployment.workers, settings)
        _land(settings, "meters/m2.csv", "reading_id,meter,kwh\n3,M3,0.5\n3,M3,0.5\nx,M4,1\n")
        run = subprocess.Popen([str(DATAOPS), "run"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        try:
            while not marker.exists():  # handshake: the worker is inside the write transaction
                assert run.poll() is None, run.communicate()[0][-3000:]
                assert victim.poll() is None, _worker_log(settings, victim)
                time.sleep(0.05)
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=30)
            deployment.workers.remove(victim)
            # the killed transaction left the published tables as they were
            assert {t: _rows(settings, t) for t in before} == before

            deployment.workers.append(_start_worker(settings, "rescuer"))
            output, _ = run.communicate(timeout=300)  # the broker hands the step to the rescuer
        finally:
            if run.poll() is None:
                run.kill()
        assert run.returncode == 0, output[-3000:]
        assert "every row accounted for" in output
        after = {t: _rows(settings, t) for t in before}
        assert after["cleaned.meters"] == [*before["cleaned.meters"], (3, "M3", 0.5)]  # once
        assert len(after["raw.meters"]) == len(before["raw.meters"]) + 3  # m2 once, not twice
        assert unbalanced(settings, build_platform(settings).datasets) == []


def test_unreachable_postgres_is_a_sentence_naming_the_variables(settings, monkeypatch):
    for var, value in zip(PG_ENV, ("127.0.0.1", "1", "postgres", "", "x"), strict=True):
        monkeypatch.setenv(var, value)
    with pytest.raises(ProfileError, match="DATAOPS_PG_HOST, DATAOPS_PG_PORT"):
        check_postgres()
    monkeypatch.delenv("DATAOPS_PG_USER")
    with pytest.raises(ProfileError, match="set DATAOPS_PG_USER"):
        check_postgres()
    # the command: `dataops up --profile production --prepare-only` exits 1 with the sentence
    monkeypatch.setenv("DATAOPS_PG_USER", "postgres")
    monkeypatch.setenv("DATAOPS_PG_PASSWORD", "do-not-print-me")
    done = subprocess.run([str(DATAOPS), "up", "--profile", "production", "--prepare-only"],
                          capture_output=True, text=True, env=os.environ.copy(), check=False)
    assert done.returncode == 1
    assert "Cannot start the production profile: cannot reach PostgreSQL at 127.0.0.1:1 " \
           "(DATAOPS_PG_HOST, DATAOPS_PG_PORT)" in done.stderr
    assert "do-not-print-me" not in done.stdout + done.stderr
    assert not (settings.dagster_home / "dagster.yaml").exists()  # nothing rendered


def test_prepare_only_renders_the_production_instance(settings, pg_database, monkeypatch):
    monkeypatch.setenv("DATAOPS_PG_PASSWORD", "")
    done = subprocess.run([str(DATAOPS), "up", "--profile", "production", "--prepare-only"],
                          capture_output=True, text=True, env=os.environ.copy(), check=False)
    assert done.returncode == 0, done.stderr
    config = (settings.dagster_home / "dagster.yaml").read_text(encoding="utf-8")
    assert "QueuedRunCoordinator" in config and "env: DATAOPS_PG_HOST" in config
