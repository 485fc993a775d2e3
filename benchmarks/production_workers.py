"""Many small files on the production profile with 1 and then 2 Celery workers.

Each round gets a fresh project (one small dataset), home, PostgreSQL database, RabbitMQ vhost,
Redis database and warehouse (``--warehouse ducklake``, the default: a DuckLake whose catalog is
one more fresh PostgreSQL database, several writers at once; ``duckdb``: the DuckDB file, whose
one writer at a time (pool of 1) leaves a second worker nothing to do), starts N `dataops
worker` processes, lands FILES small CSV files, registers them as `dataops run` does and then
processes them with CONCURRENCY runs in flight at once (as the daemon's queue would), each
run's steps on the workers. Prints files/s per round, the
2-vs-1 ratio and the load average (the machine is shared: read the figures with it).

    .venv/bin/python benchmarks/production_workers.py [--files 12] [--rows 20] [--concurrency 4]
        [--warehouse ducklake|duckdb]

Needs the local PostgreSQL, RabbitMQ (rabbitmqctl as root) and Redis, like the production tests.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psycopg
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import dagster as dg  # noqa: E402

from dataops_platform.automation.one_pass import QUIET, cli_tags, prepare_instance, register_landed  # noqa: E402
from dataops_platform.collect.landing import partitions_def_name  # noqa: E402
from dataops_platform.factory import build_platform  # noqa: E402
from dataops_platform.profiles.execution import execute  # noqa: E402
from dataops_platform.profiles.worker import make_worker_app  # noqa: E402
from dataops_platform.settings import Settings  # noqa: E402
from dataops_platform_tests.project_files import contracts_dir, copy_example, only_own_datasets  # noqa: E402

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
METERS = {
    "name": "meters", "description": "Meter readings.", "owner": "bench@example.com",
    "source": {"format": "csv"}, "primary_key": ["reading_id"],
    "columns": [{"name": "reading_id", "type": "integer", "nullable": False},
                {"name": "meter", "nullable": False}, {"name": "kwh", "type": "float"}],
}


_CHILD: dict = {}


def _child_init() -> None:
    """Each orchestrating process (Dagster's logging set-up is not thread-safe: runs in
    threads of one process deadlock) builds the definitions and opens the instance once."""
    settings = Settings.resolve(Path(os.environ["DATAOPS_PROJECT"]))
    _CHILD.update(settings=settings, platform=build_platform(settings),
                  instance=dg.DagsterInstance.from_config(str(settings.dagster_home)))


def _ready(_: int) -> int:
    return os.getpid()


def _run_key(key: str) -> bool:
    platform = _CHILD["platform"]
    (dataset,) = platform.datasets
    return execute(_CHILD["settings"], platform.definitions, dataset.process_job.name,
                   _CHILD["instance"], partition_key=key, run_config=QUIET, tags=cli_tags()).success


def one_round(workers: int, files: int, rows: int, concurrency: int, warehouse: str) -> float:
    tmp = Path(tempfile.mkdtemp(prefix=f"prod-bench-{workers}w-"))
    database, vhost = f"dataops_b_{uuid.uuid4().hex[:10]}", f"dataops_b_{uuid.uuid4().hex[:10]}"
    catalog = f"{database}_lake"
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
        conn.execute(f'CREATE DATABASE "{catalog}"')
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
                   check=True)
    project = copy_example(tmp / "project")
    os.environ.update({
        "DATAOPS_HOME": str(tmp / "home"), "DATAOPS_PROJECT": str(project),
        "DAGSTER_HOME": str(tmp / "home" / "dagster"), "DATAOPS_PROFILE": "production",
        "DATAOPS_SETTLE_SECONDS": "0", "DATAOPS_PG_HOST": "127.0.0.1", "DATAOPS_PG_PORT": "5432",
        "DATAOPS_PG_USER": "postgres", "DATAOPS_PG_PASSWORD": "", "DATAOPS_PG_DB": database,
        "DATAOPS_CELERY_BROKER": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        "DATAOPS_CELERY_BACKEND": "redis://127.0.0.1:6379/14", "DATAOPS_WAREHOUSE": warehouse,
        "DATAOPS_DUCKLAKE_CATALOG": f"host=127.0.0.1 port=5432 user=postgres dbname={catalog}",
        "DATAOPS_DUCKLAKE_DATA_PATH": str(tmp / "lake_data")})
    settings = Settings.resolve(project)
    only_own_datasets(settings)
    (contracts_dir(settings) / "meters.yaml").write_text(yaml.safe_dump(METERS), encoding="utf-8")
    for i in range(files):
        path = settings.landing_dir / "meters" / f"m{i:03d}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("reading_id,meter,kwh\n" + "".join(
            f"{i * 10_000 + j},M{j % 7},{j * 0.5}\n" for j in range(rows)), encoding="utf-8")
        old = time.time() - 3600
        os.utime(path, (old, old))
    dataops = Path(sys.executable).parent / "dataops"
    procs = [subprocess.Popen([str(dataops), "worker", "--name", f"b{i}"],
                              stdout=(tmp / f"worker{i}.log").open("w"), stderr=subprocess.STDOUT)
             for i in range(workers)]
    print(f"round with {workers} worker(s): {tmp}, database {database}", flush=True)
    app = make_worker_app()
    try:
        while len(app.control.ping(timeout=0.5)) < workers:
            pass
        instance = prepare_instance(settings)
        platform = build_platform(settings)
        (dataset,) = platform.datasets
        register_landed(instance, platform.datasets, settings.landing_dir)
        keys = instance.get_dynamic_partitions(partitions_def_name(dataset.contract))
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(concurrency, mp_context=spawn, initializer=_child_init) as pool:
            list(pool.map(_ready, range(concurrency)))  # start-up is not timed
            started = time.perf_counter()
            results = list(pool.map(_run_key, keys))
            elapsed = time.perf_counter() - started
        assert all(results) and len(results) == files, results
        instance.dispose()
        return files / elapsed
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        app.close()
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False)
        with psycopg.connect(**PG, autocommit=True) as conn:
            for name in (database, catalog):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument("--rows", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--warehouse", choices=["ducklake", "duckdb"], default="ducklake")
    args = parser.parse_args()
    rates = {}
    for workers in (1, 2):
        rates[workers] = one_round(workers, args.files, args.rows, args.concurrency,
                                   args.warehouse)
        print(f"{workers} worker(s), {args.warehouse}: {args.files} files x {args.rows} rows, "
              f"{args.concurrency} runs in flight: {rates[workers]:.2f} files/s "
              f"(load average {os.getloadavg()[0]:.1f})",
              flush=True)
    print(f"2 workers / 1 worker: {rates[2] / rates[1]:.2f}x "
          f"(load average 1/5/15 min: {' '.join(f'{x:.1f}' for x in os.getloadavg())}, "
          f"{os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
