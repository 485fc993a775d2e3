"""The path UI users take: `dataops up` on a fresh home with the example project's sample data;
the daemon's sensors and declarative automation do the rest. Prints seconds from start until
the UI answers and until every curated asset has materialized, beside `dataops demo` (the
headless path) measured in the same run, and the machine's load.

    .venv/bin/python benchmarks/ui_path.py [--timeout 1800] [--port 3399]

Two more modes measure the daemon path on files landing into a running `dataops up`:

    --one-row            one customers file of one row: seconds from landing until its
                         cleaned partition and checks are done, and the run's own time
                         (RUN_START to RUN_SUCCESS: the work after the run starts)
    --small-files N      N customers files of --rows rows each, landed at once: seconds
                         until every one is cleaned, runs made, files per minute
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import dagster as dg

CHECKOUT = Path(__file__).resolve().parent.parent
DATAOPS = [sys.executable, "-m", "dataops_platform.cli.main"]
WAIT_S = 2.0  # polling interval of the instance (reads only)


def curated_keys(env: dict[str, str]) -> list[dg.AssetKey]:
    from dataops_platform.project.loading import example_project, load_project

    platform = load_project(example_project(), home=Path(env["DATAOPS_HOME"]))
    graph = platform.definitions.resolve_asset_graph()
    return [k for k in graph.materializable_asset_keys if k.path[0] == "curated"]


def _stop(process: subprocess.Popen) -> None:
    """End `dataops up` and everything it started (UI, daemon, code server, runs)."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def ui_path(timeout: float, port: int) -> dict:
    home = Path(tempfile.mkdtemp(prefix="ui-path-"))
    env = {**os.environ, "DATAOPS_HOME": str(home), "DATAOPS_SETTLE_SECONDS": "0"}
    env.pop("DATAOPS_PROJECT", None)
    keys = curated_keys(env)
    started = time.perf_counter()
    process = subprocess.Popen([*DATAOPS, "up", "--port", str(port)], env=env, cwd=CHECKOUT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    result: dict = {"curated_assets": len(keys)}
    try:
        while time.perf_counter() - started < timeout:
            if "ui_up_s" not in result:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
                    result["ui_up_s"] = round(time.perf_counter() - started, 1)
                except OSError:
                    pass
            config = home / "dagster" / "dagster.yaml"
            if config.exists():
                with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
                    done = [k for k in keys if instance.get_latest_materialization_event(k)]
                    result["runs"] = len(instance.get_run_records())
                if len(done) == len(keys):
                    result["all_curated_s"] = round(time.perf_counter() - started, 1)
                    break
            time.sleep(WAIT_S)
        else:
            result["timed_out_after_s"] = timeout
    finally:
        _stop(process)
        shutil.rmtree(home, ignore_errors=True)
    return result


def cli_path() -> dict:
    home = Path(tempfile.mkdtemp(prefix="cli-path-"))
    env = {**os.environ, "DATAOPS_SETTLE_SECONDS": "0"}
    env.pop("DATAOPS_PROJECT", None)
    env.pop("DATAOPS_HOME", None)
    started = time.perf_counter()
    done = subprocess.run([*DATAOPS, "demo", "--home", str(home), "--reset"], env=env,
                          cwd=CHECKOUT, capture_output=True, text=True, check=False)
    shutil.rmtree(home, ignore_errors=True)
    return {"demo_s": round(time.perf_counter() - started, 1), "exit_code": done.returncode}


CUSTOMERS_HEADER = "Kundennummer;Vorname;Nachname;E-Mail;Ort;Land;Anmeldedatum;Segment\n"


def _customers(file_no: int, rows: int) -> bytes:
    lines = [f"{file_no * 1_000_000 + i};Ann{i};Lee;a{file_no}x{i}@example.de;Köln;DE;"
             f"2024-01-02;consumer\n" for i in range(rows)]
    return (CUSTOMERS_HEADER + "".join(lines)).encode("latin-1")


def _await_files(home: Path, files: int, landed: float, timeout: float) -> dict:
    """Wait until ``files`` files are cleaned or failed and no file run is left; figures."""
    cleaned = dg.AssetKey(["cleaned", "customers"])
    result: dict = {}
    while time.perf_counter() - landed < timeout:
        with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
            done = instance.get_materialized_partitions(cleaned)
            if "landing_to_all_cleaned_s" not in result and len(done) >= files:
                result["landing_to_all_cleaned_s"] = round(time.perf_counter() - landed, 1)
            keys = instance.get_dynamic_partitions("customers_files")
            status = instance.get_status_by_partition(
                cleaned, keys, dg.DynamicPartitionsDefinition(name="customers_files")) or {}
            ended = [k for k in keys if status.get(k) in (
                dg.AssetPartitionStatus.MATERIALIZED, dg.AssetPartitionStatus.FAILED)]
            runs = sorted((r for r in instance.get_run_records()
                           if r.dagster_run.job_name == "process_customers"),
                          key=lambda r: r.create_timestamp)
            if len(ended) >= files and all(r.dagster_run.is_finished for r in runs):
                # every file has been processed or has failed (a failed one is counted, not
                # waited for); a run's own time (RUN_START to its end) is the work after it
                # starts, a run taking one file or a batch of them
                result["landing_to_runs_done_s"] = round(time.perf_counter() - landed, 1)
                own = [r.end_time - r.start_time for r in runs if r.start_time and r.end_time]
                result["runs"] = len(runs)
                result["runs_failed"] = sum(not r.dagster_run.is_success for r in runs)
                result["files_failed"] = len(ended) - len(done)
                result["run_seconds_median"] = round(sorted(own)[len(own) // 2], 2) if own else None
                result["run_seconds_max"] = round(max(own), 2) if own else None
                result["run_seconds_total"] = round(sum(own), 2)
                result["last_run_seconds"] = round(own[-1], 2) if own else None
                return result
        time.sleep(WAIT_S / 4)
    result["timed_out_after_s"] = timeout
    return result


def daemon_files(files: int, rows: int, timeout: float, port: int,
                 then_one: bool = False) -> dict:
    """Land ``files`` files at once into a running `dataops up` (no sample data) and time
    the daemon path until each is cleaned with its checks; with ``then_one``, then land one
    more file of the same size and time its run (a new file among those processed)."""
    home = Path(tempfile.mkdtemp(prefix="daemon-files-"))
    env = {**os.environ, "DATAOPS_HOME": str(home), "DATAOPS_SETTLE_SECONDS": "0"}
    env.pop("DATAOPS_PROJECT", None)
    process = subprocess.Popen([*DATAOPS, "up", "--no-sample-data", "--port", str(port)],
                               env=env, cwd=CHECKOUT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    result: dict = {"files": files, "rows_per_file": rows}
    try:
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:  # the UI and daemon are up
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        result["ui_up_s"] = round(time.perf_counter() - started, 1)
        landing = home / "landing" / "customers"
        landing.mkdir(parents=True, exist_ok=True)

        def deliver(numbers: range) -> float:
            landed = time.perf_counter()
            for i in numbers:  # written under a hidden name, then renamed: whole on arrival
                temporary = landing / f".f{i:04d}.csv"
                temporary.write_bytes(_customers(i, rows))
                temporary.rename(landing / f"f{i:04d}.csv")
            return landed

        result.update(_await_files(home, files, deliver(range(files)), timeout))
        if "landing_to_runs_done_s" in result:
            result["files_per_minute"] = round(60 * files / result["landing_to_runs_done_s"], 1)
        if then_one and "timed_out_after_s" not in result:
            one = _await_files(home, files + 1, deliver(range(files, files + 1)), timeout)
            result["one_more"] = {"landing_to_cleaned_s": one.get("landing_to_all_cleaned_s"),
                                  "run_seconds": one.get("last_run_seconds")}
    finally:
        _stop(process)
        shutil.rmtree(home, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--port", type=int, default=3399)
    parser.add_argument("--one-row", action="store_true")
    parser.add_argument("--small-files", type=int, default=0)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--then-one", action="store_true",
                        help="after --small-files, land one more file and time its run")
    args = parser.parse_args()
    if args.one_row or args.small_files:
        files, rows = (1, 1) if args.one_row else (args.small_files, args.rows)
        before = os.getloadavg()
        figures = {"cpus": os.cpu_count(), "load_before": [round(x, 2) for x in before],
                   "daemon": daemon_files(files, rows, args.timeout, args.port, args.then_one),
                   "load_after": [round(x, 2) for x in os.getloadavg()]}
        print(json.dumps(figures, indent=2))
        return
    load_before = os.getloadavg()
    figures = {"cpus": os.cpu_count(), "load_before": [round(x, 2) for x in load_before],
               "cli": cli_path(), "ui": ui_path(args.timeout, args.port),
               "load_after": [round(x, 2) for x in os.getloadavg()]}
    ui, cli = figures["ui"], figures["cli"]
    if "all_curated_s" in ui:
        figures["ui_to_cli_ratio"] = round(ui["all_curated_s"] / cli["demo_s"], 2)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
