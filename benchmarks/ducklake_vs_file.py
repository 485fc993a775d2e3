"""One large orders file through the pipeline on both warehouse backends.

The same generated CSV (cached, seed 7) runs raw -> cleaned -> the contract's checks, each
backend in a fresh child process: the DuckDB file, then DuckLake (catalog in a fresh
PostgreSQL database, Parquet under a fresh data path). Prints wall time, peak RSS, the
DuckLake/file ratio and the load average; asserts nothing about time (target: DuckLake
<= 1.3x the file, printed as PASS/MISS).

    python benchmarks/ducklake_vs_file.py [--rows 1000000] [--pg "host=127.0.0.1 user=postgres"]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pipeline_benchmark as pb  # the CSV generator, contract copy and child-process plumbing

TARGET_RATIO = 1.3


def child_run(csv_path: Path, result_path: Path) -> None:
    """The platform's raw + cleaned + checks on one file; DATAOPS_* set by the parent."""
    import dagster as dg

    from dataops_platform.automation.sensors import evaluate_landing
    from dataops_platform.factory import build_dataset, resources
    from dataops_platform.project.loading import project_settings
    from dataops_platform.project.validate import load_contracts
    from dataops_platform.storage.backends import open_warehouse

    settings = project_settings(Path(os.environ["DATAOPS_PROJECT"])).ensure()
    (contract,) = load_contracts(settings.project_dir)
    dataset = build_dataset(contract)
    pb.link_or_copy(csv_path, settings.landing_dir / pb.DATASET / csv_path.name)
    with dg.instance_for_test() as instance:
        t0 = time.perf_counter()
        runs, requests, _cursor, _decisions = evaluate_landing([dataset], settings.landing_dir, None,
                                                            registered={})
        for request in requests:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        result = dg.materialize([dataset.raw, dataset.cleaned, *dataset.checks],
                                partition_key=runs[0].partition_key, instance=instance,
                                resources=resources(settings), raise_on_error=False)
        seconds = time.perf_counter() - t0
        failures = [str(e.event_specific_data.error.message).strip()[:500]
                    for e in result.all_events if e.is_step_failure]
    conn = open_warehouse(settings.warehouse, read_only=True)
    ledger = {}
    try:
        for name, rel in (("rows_in", "raw"), ("cleaned", "cleaned"), ("quarantined", "quarantine"),
                          ("duplicates", "quarantine")):
            suffix = "__duplicates" if name == "duplicates" else ""
            try:
                ledger[name] = conn.execute(
                    f"select count(*) from {rel}.{pb.DATASET}{suffix}").fetchall()[0][0]
            except Exception:  # the step failed: the failures say why
                ledger[name] = -1
    finally:
        conn.close()
    pb.write_json(result_path, {"success": bool(result.success), "failures": failures,
                                "seconds": seconds, "peak_rss_mb": pb.peak_rss_mb(),
                                "backend": settings.warehouse_backend, "ledger": ledger})


def run_child(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """This script in a fresh interpreter (its peak RSS is its own); wall and CPU seconds."""
    import resource
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    child = subprocess.run([sys.executable, "-W", "ignore", str(Path(__file__).resolve()), *args],
                           env=env, cwd=pb.PROJECT_DIR, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if child.returncode != 0:
        sys.stderr.write(child.stdout[-4000:] + child.stderr[-8000:])
        raise SystemExit(f"child {args[:2]} failed with exit code {child.returncode}")
    return {"child_wall_seconds": wall,
            "child_cpu_seconds": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)}


def _pg_database(pg: str, name: str, create: bool) -> None:
    import psycopg

    with psycopg.connect(f"{pg} dbname=postgres", autocommit=True) as admin:
        admin.execute(f"create database {name}" if create
                      else f"drop database if exists {name} with (force)")


def measure(backend: str, csv_path: Path, project: Path, run_dir: Path, pg: str) -> dict[str, Any]:
    env = {**os.environ, "DATAOPS_HOME": str(run_dir / "home"), "DATAOPS_PROJECT": str(project),
           "DATAOPS_SETTLE_SECONDS": "0", "DATAOPS_WAREHOUSE": backend}
    env.pop("DAGSTER_HOME", None)
    catalog = None
    if backend == "ducklake":
        catalog = f"dataops_bench_{uuid.uuid4().hex[:10]}"
        _pg_database(pg, catalog, create=True)
        env["DATAOPS_DUCKLAKE_CATALOG"] = f"{pg} dbname={catalog}"
        env["DATAOPS_DUCKLAKE_DATA_PATH"] = str(run_dir / "lake_data")
    result = run_dir / "result.json"
    try:
        usage = run_child(["--child", "ducklake-run", "--csv", str(csv_path),
                           "--result", str(result)], env)
    finally:
        if catalog:
            _pg_database(pg, catalog, create=False)
    return {**json.loads(result.read_text(encoding="utf-8")), **usage}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=pb.DEFAULT_WORKDIR)
    parser.add_argument("--pg", default="host=127.0.0.1 port=5432 user=postgres",
                        help="libpq settings of the PostgreSQL holding the catalog (no dbname)")
    parser.add_argument("--child")
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--result", type=Path)
    args = parser.parse_args(argv)
    if args.child == "ducklake-run":
        child_run(args.csv, args.result)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    csv_path, _ = pb.ensure_csv(args.workdir, args.rows)
    figures: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="dataops-dl-bench-") as tmp:
        project = pb.write_contract(Path(tmp) / "project")
        text = project.read_text(encoding="utf-8")
        # one dataset only: the copied contract's foreign keys would name absent datasets
        import yaml
        declaration = yaml.safe_load(text)
        for column in declaration["attributes"]["columns"]:
            column.pop("references", None)
        project.write_text(yaml.safe_dump(declaration, sort_keys=False), encoding="utf-8")
        project_dir = Path(tmp) / "project"
        for backend in ("duckdb", "ducklake"):
            run_dir = Path(tmp) / backend
            run_dir.mkdir()
            load_before = os.getloadavg()
            figures[backend] = measure(backend, csv_path, project_dir, run_dir, args.pg)
            figures[backend]["load_before"] = load_before
            figures[backend]["load_after"] = os.getloadavg()
    print(f"rows: {args.rows:,}  file: {csv_path.name}")
    for backend, f in figures.items():
        print(f"{backend:9s} ok={f['success']}  {f['seconds']:7.1f} s pipeline  "
              f"{f['child_wall_seconds']:7.1f} s wall  {f['child_cpu_seconds']:6.1f} CPU-s  "
              f"peak RSS {f['peak_rss_mb']:7.0f} MB  load {f['load_before'][0]:.2f} -> "
              f"{f['load_after'][0]:.2f}  ledger {f['ledger']}")
        for failure in f["failures"]:
            print(f"   failure: {failure}")
    ratio = figures["ducklake"]["seconds"] / figures["duckdb"]["seconds"]
    verdict = "PASS" if ratio <= TARGET_RATIO else "MISS"
    print(f"ducklake / file: {ratio:.2f}x (target <= {TARGET_RATIO}x: {verdict}); "
          f"ledgers equal: {figures['ducklake']['ledger'] == figures['duckdb']['ledger']}")
    pb.write_json(pb.RESULTS_DIR / f"ducklake-vs-file-{args.rows}.json",
                  {"rows": args.rows, "figures": figures, "ratio": ratio})


if __name__ == "__main__":
    main()
