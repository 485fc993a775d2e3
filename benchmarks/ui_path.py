"""The path UI users take: `dataops up` on a fresh home with the example project's sample data;
the daemon's sensors and declarative automation do the rest. Prints seconds from start until
the UI answers and until every curated asset has materialized, beside `dataops demo` (the
headless path) measured in the same run, and the machine's load.

    .venv/bin/python benchmarks/ui_path.py [--timeout 1800] [--port 3399]
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
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--port", type=int, default=3399)
    args = parser.parse_args()
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
