"""Benchmark the platform's raw -> cleaned path against a DuckDB-only baseline.

For each ``--rows`` size an orders CSV is generated once (cached in ``--workdir``), then
measured twice in the same invocation, each in a fresh child process so that a peak RSS
belongs to that run alone:

- platform: the file lands in a fresh ``DATAOPS_HOME``, ``evaluate_landing`` registers its
  partition (as the landing sensor does) and ``dagster.materialize`` runs raw, cleaned and
  the contract's asset checks on an ephemeral test instance;
- baseline: one DuckDB connection to a fresh file, ``read_csv`` (all varchar) into a table,
  then hand-written SQL applying the same contract rules, splitting the rows into
  cleaned / quarantine / duplicates.

It prints figures and writes ``benchmarks/results/pipeline-<rows>.json``; it asserts nothing
about time (the targets are printed as PASS/MISS, the exit code does not depend on them).

    python benchmarks/pipeline_benchmark.py --rows 1000000 [--rows 5000000] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import platform as py_platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
DEFAULT_WORKDIR = BENCH_DIR / ".data"
EXAMPLE_PROJECT = PROJECT_DIR / "examples" / "webshop"
EXAMPLE_ORDERS = EXAMPLE_PROJECT / "webshop" / "defs" / "datasets" / "orders" / "defs.yaml"

DATASET = "orders_csv"
SEED = 7
TARGET_ROWS = 5_000_000  # the size the project's targets are set at
TARGET_RATIO = 1.5  # platform end-to-end <= 1.5x the lean DuckDB script (issue 12)
TARGET_RSS_MB = 1024.0  # platform peak RSS <= 1 GB

# The baseline mirrors the contract's reading of text: same whitespace set, same null markers.
WHITESPACE = " \t\r\n\u00a0"
NULL_MARKERS = ["", "NA", "N/A", "null", "NULL", "None"]
ORDERED_AT_FORMATS = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M"]


# --- shared helpers ---------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB (Linux reports ru_maxrss in KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return max(own, children) / scale


def current_rss_mb() -> float:
    """Resident set size right now (Linux /proc), or NaN where unavailable."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def link_or_copy(source: Path, target: Path) -> str:
    """Hard-link ``source`` to ``target`` (copy across file systems); return which was done."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
        return "hard link"
    except OSError:
        shutil.copyfile(source, target)
        return "copy"


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")


# --- the benchmark's contract -----------------------------------------------------------------


def write_contract(folder: Path) -> Path:
    """A project with one dataset: the example's orders contract, re-pointed at comma-delimited
    UTF-8 CSV files (the example's package and platform settings, none of its other defs)."""
    import yaml

    shutil.copytree(EXAMPLE_PROJECT, folder, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", ".dataops", "sample_data"))
    defs = folder / "webshop" / "defs"
    for kind in ("datasets", "marts", "entities"):
        shutil.rmtree(defs / kind, ignore_errors=True)
    declaration = yaml.safe_load(EXAMPLE_ORDERS.read_text(encoding="utf-8"))
    data = declaration["attributes"]
    data["name"] = DATASET
    data["description"] = "Benchmark: web-shop orders delivered as one large CSV file."
    for column in data.get("columns", []):  # one dataset here: no customers to refer to
        column.pop("references", None)
    data["source"] = {
        "format": "csv",
        "landing": f"{DATASET}/*.csv",
        "options": {"delimiter": ",", "encoding": "utf-8", "header": True},
    }
    path = defs / "datasets" / DATASET / "defs.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(declaration, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


# --- child: generate the CSV ------------------------------------------------------------------


def child_generate(rows: int, out: Path) -> None:
    """Write the orders CSV to a temp name and rename it, so a cached file is always whole."""
    from dataops_platform.samples.generator import write_orders_csv

    partial = out.with_name(out.name + ".partial")
    write_orders_csv(partial, rows, SEED)
    partial.replace(out)


# --- child: the platform run ------------------------------------------------------------------


def _step_timings(instance: Any, run_id: str) -> dict[str, Any]:
    """Per-step wall time from the run's event log, split into compute and IO-manager time."""
    steps: dict[str, dict[str, float]] = {}
    run: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        kind = event.event_type.name  # RUN_START (its value is the legacy PIPELINE_START)
        if event.step_key is None:
            run.setdefault(kind, entry.timestamp)
            continue
        marks = steps.setdefault(event.step_key, {})
        # keep the first occurrence of each event type (a step emits one output here)
        marks.setdefault(kind, entry.timestamp)
    out: dict[str, Any] = {}
    for step_key, marks in steps.items():
        start = marks.get("STEP_START")
        end = marks.get("STEP_SUCCESS") or marks.get("STEP_FAILURE")
        if start is None or end is None:
            continue
        row: dict[str, float] = {"start": start, "seconds": end - start}
        inputs = marks.get("LOADED_INPUT")
        produced = marks.get("STEP_OUTPUT") or marks.get("ASSET_CHECK_EVALUATION")
        handled = marks.get("HANDLED_OUTPUT")
        if produced is not None:
            row["compute_seconds"] = produced - (inputs or start)
            if inputs is not None:
                row["load_input_seconds"] = inputs - start
        if produced is not None and handled is not None:
            row["io_manager_seconds"] = handled - produced
        out[step_key] = row
    first = min((s["start"] for s in out.values()), default=None)
    last = max((s["start"] + s["seconds"] for s in out.values()), default=None)
    run_start = run.get("RUN_START")
    run_end = run.get("RUN_SUCCESS") or run.get("RUN_FAILURE")
    summary: dict[str, Any] = {"steps": dict(sorted(out.items(), key=lambda kv: kv[1]["start"]))}
    if None not in (first, last, run_start, run_end):
        summary["run_seconds"] = run_end - run_start
        summary["before_first_step_seconds"] = first - run_start
        summary["after_last_step_seconds"] = run_end - last
    return summary


def warehouse_ledger(database: Path) -> dict[str, int]:
    """Rows in every table a landed row can end up in."""
    import duckdb

    tables = {
        "rows_in": f"raw.{DATASET}",
        "cleaned": f"cleaned.{DATASET}",
        "quarantined": f"quarantine.{DATASET}",
        "duplicates": f"quarantine.{DATASET}__duplicates",
    }
    conn = duckdb.connect(str(database), read_only=True)
    try:
        existing = {f"{s}.{t}" for s, t in conn.execute(
            "select schema_name, table_name from duckdb_tables()").fetchall()}
        return {name: int(conn.execute(f"select count(*) from {rel}").fetchall()[0][0])
                if rel in existing else -1 for name, rel in tables.items()}
    finally:
        conn.close()


def _error_chain(error: object) -> str:
    """A step failure's message and the messages of its causes (the first line says only
    which step failed)."""
    lines, stack = [], []
    while error is not None:
        lines.append(str(getattr(error, "message", error)).strip())
        stack = list(getattr(error, "stack", None) or stack)
        error = getattr(error, "cause", None)
    return " <- ".join(lines) + ("\n  where: " + "".join(stack[-4:]).strip() if stack else "")


def child_platform(csv_path: Path, result_path: Path) -> None:
    """One platform measurement; DATAOPS_* are already set by the parent."""
    started = time.perf_counter()
    import dagster as dg

    from dataops_platform.automation.sensors import evaluate_landing
    from dataops_platform.factory import build_dataset, resources
    from dataops_platform.project.loading import project_settings
    from dataops_platform.project.validate import load_contracts

    imported = time.perf_counter()
    rss_after_imports = current_rss_mb()
    settings = project_settings(Path(os.environ["DATAOPS_PROJECT"])).ensure()
    (contract,) = load_contracts(settings.project_dir)
    dataset = build_dataset(contract)
    how = link_or_copy(csv_path, settings.landing_dir / DATASET / csv_path.name)
    built = time.perf_counter()

    with dg.instance_for_test() as instance:
        t0 = time.perf_counter()
        runs, partition_requests, _cursor, _decisions = evaluate_landing(
            [dataset], settings.landing_dir, None, registered={})
        for request in partition_requests:
            instance.add_dynamic_partitions(request.partitions_def_name,
                                            list(request.partition_keys))
        t1 = time.perf_counter()
        if len(runs) != 1:
            raise RuntimeError(f"expected one run request for the landed file, got {len(runs)}")
        key = runs[0].partition_key
        result = dg.materialize(
            [dataset.raw, dataset.cleaned, *dataset.checks],
            partition_key=key, instance=instance, resources=resources(settings),
            raise_on_error=False)
        t2 = time.perf_counter()
        timings = _step_timings(instance, result.run_id)
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        failures = [_error_chain(e.event_specific_data.error)
                    for e in result.all_events if e.is_step_failure]

    write_json(result_path, {
        "success": bool(result.success),
        "failures": failures,
        "partition_key": key,
        "landing": how,
        "import_seconds": imported - started,
        "setup_seconds": built - imported,
        "register_seconds": t1 - t0,
        "materialize_seconds": t2 - t1,
        "seconds": t2 - t0,
        "rss_after_imports_mb": rss_after_imports,
        "peak_rss_mb": peak_rss_mb(),
        "checks": checks,
        "timings": timings,
        "ledger": warehouse_ledger(settings.warehouse_path),
    })


# --- child: the DuckDB-only baseline ----------------------------------------------------------


def baseline_sql(csv_path: Path, lean: bool = False) -> tuple[str, list[str]]:
    """(load statement, cleaning statements) applying the orders contract's rules by hand.

    ``lean`` is what a skilled DuckDB user would write for the same contract: no stored copy
    of the raw rows, the file scanned once into a temporary table from which cleaned,
    quarantine and duplicates are written.
    """
    scan = (f"select *, row_number() over () as _row_number "
            f"from read_csv({sql_text(str(csv_path))}, all_varchar = true, header = true)")
    load = "select 1" if lean else f"create table raw as {scan}"
    ws = sql_text(WHITESPACE)
    markers = ", ".join(sql_text(m) for m in NULL_MARKERS)
    formats = "[" + ", ".join(sql_text(f) for f in ORDERED_AT_FORMATS) + "]"
    macro = (f"create or replace macro std(x) as "
             f"case when x is null or trim(x, {ws}) in ({markers}) then null "
             f"else trim(x, {ws}) end")
    # First failing error rule, in the contract's column and rule order.
    evaluate = f"""
        create {'temp ' if lean else ''}table evaluated as
        with s as (
            select _row_number, order_id as raw_order_id, customer_id as raw_customer_id,
                   sku as raw_sku, qty as raw_qty, amount as raw_amount,
                   currency as raw_currency, ordered_at as raw_ordered_at, status as raw_status,
                   upper(std(order_id)) as order_id,
                   std(customer_id) as customer_id_s,
                   upper(std(sku)) as product_sku,
                   std(qty) as qty_s,
                   std(amount) as amount_s,
                   upper(std(currency)) as currency,
                   std(ordered_at) as ordered_at_s,
                   lower(std(status)) as status
            from {f'({scan})' if lean else 'raw'}
        ), t as (
            select *, try_cast(customer_id_s as bigint) as customer_id,
                   try_cast(qty_s as bigint) as quantity,
                   try_cast(amount_s as decimal(12,2)) as amount,
                   cast(try_strptime(ordered_at_s, {formats}) as timestamp) as ordered_at
            from s
        ), e as (
            select *, case
                when order_id is null then 'order_id:not_null'
                when not regexp_matches(order_id, '^ORD-[0-9]{{7}}$') then 'order_id:pattern'
                when customer_id_s is null then 'customer_id:not_null'
                when customer_id is null then 'customer_id:type'
                when product_sku is null then 'product_sku:not_null'
                when qty_s is null then 'quantity:not_null'
                when quantity is null then 'quantity:type'
                when quantity < 1 then 'quantity:min'
                when quantity > 1000 then 'quantity:max'
                when amount_s is null then 'amount:not_null'
                when amount is null then 'amount:type'
                when amount < 0 then 'amount:min'
                when currency not in ('EUR', 'USD', 'GBP') then 'currency:allowed_values'
                when ordered_at_s is null then 'ordered_at:not_null'
                when ordered_at is null then 'ordered_at:type'
            end as _error
            from t
        )
        select *,
               row_number() over w as _occurrence,
               min(_row_number) over w as _kept_row
        from e
        window w as (partition by order_id, _error is not null order by _row_number)
    """
    cleaned = """
        create table cleaned as
        select order_id, customer_id, product_sku, quantity, amount, currency, ordered_at,
               status, _row_number,
               case when status not in ('placed', 'shipped', 'delivered', 'cancelled',
                                        'returned')
                    then ['status:allowed_values'] end as _warnings
        from evaluated where _error is null and _occurrence = 1
    """
    quarantine = """
        create table quarantine as
        select _row_number, split_part(_error, ':', 1) as "column",
               split_part(_error, ':', 2) as rule,
               raw_order_id, raw_customer_id, raw_sku, raw_qty, raw_amount, raw_currency,
               raw_ordered_at, raw_status
        from evaluated where _error is not null
    """
    duplicates = """
        create table duplicates as
        select _row_number, _kept_row as duplicate_of_row,
               raw_order_id, raw_customer_id, raw_sku, raw_qty, raw_amount, raw_currency,
               raw_ordered_at, raw_status
        from evaluated where _error is null and _occurrence > 1
    """
    count = "create table rows_in as select count(*) as n from evaluated"
    return load, [macro, evaluate, cleaned, quarantine, duplicates,
                  *([count] if lean else []), "drop table evaluated"]


def child_baseline(csv_path: Path, database: Path, result_path: Path, lean: bool = False) -> None:
    """One baseline measurement: load, then clean, on one connection to a fresh file."""
    import duckdb

    rss_after_imports = current_rss_mb()
    load, cleaning = baseline_sql(csv_path, lean)
    t0 = time.perf_counter()
    conn = duckdb.connect(str(database))
    conn.execute(load)
    t1 = time.perf_counter()
    for statement in cleaning:
        conn.execute(statement)
    conn.execute("checkpoint")
    t2 = time.perf_counter()
    ledger = {name: int(conn.execute(f"select count(*) from {table}").fetchall()[0][0])
              for name, table in (("cleaned", "cleaned"), ("quarantined", "quarantine"),
                                  ("duplicates", "duplicates"))}
    ledger["rows_in"] = int(conn.execute(
        "select n from rows_in" if lean else "select count(*) from raw").fetchall()[0][0])
    threads = conn.execute("select current_setting('threads')").fetchall()[0][0]
    conn.close()
    write_json(result_path, {
        "load_seconds": t1 - t0,
        "clean_seconds": t2 - t1,
        "seconds": t2 - t0,
        "rss_after_imports_mb": rss_after_imports,
        "peak_rss_mb": peak_rss_mb(),
        "duckdb_threads": int(threads),
        "ledger": ledger,
    })


# --- parent: orchestration --------------------------------------------------------------------


def busy_cpu_seconds() -> float | None:
    """CPU time all processes on this machine have used since boot (Linux /proc/stat)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def sample_rss(child: subprocess.Popen, every: float = 0.05) -> list[tuple[float, float]]:
    """(epoch seconds, RSS MB) of ``child`` until it exits, to place the peak in a step."""
    status = Path(f"/proc/{child.pid}/status")
    samples: list[tuple[float, float]] = []
    while child.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    samples.append((time.time(), int(line.split()[1]) / 1024))
                    break
        except (OSError, ValueError):
            pass
        time.sleep(every)
    return samples


def run_child(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run this script in a fresh interpreter; show its stderr only if it failed.

    Returns the child's wall and CPU seconds and the CPU seconds *other* processes used
    meanwhile (machine-wide busy time minus the child's), to flag a noisy measurement.
    """
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    before_busy = busy_cpu_seconds()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(command, env=env, cwd=PROJECT_DIR, stdout=out, stderr=err,
                                 text=True)
        samples = sample_rss(child)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        after_busy = busy_cpu_seconds()
        if child.returncode != 0:
            out.seek(0)
            err.seek(0)
            sys.stderr.write(out.read()[-4000:] + err.read()[-8000:])
            raise SystemExit(f"child {args[:2]} failed with exit code {child.returncode}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    usage: dict[str, Any] = {"child_wall_seconds": wall, "child_cpu_seconds": cpu,
                             "rss_samples": samples}
    if before_busy is not None and after_busy is not None:
        usage["other_cpu_seconds"] = max(0.0, after_busy - before_busy - cpu)
    return usage


def ensure_csv(workdir: Path, rows: int) -> tuple[Path, float | None]:
    """The cached CSV for this size and seed; (path, generation seconds or None if cached)."""
    path = workdir / f"orders-{rows}-seed{SEED}.csv"
    if path.exists():
        return path, None
    t0 = time.perf_counter()
    run_child(["--child", "generate", "--rows", str(rows), "--out", str(path)])
    return path, time.perf_counter() - t0


def measure_platform(csv_path: Path, contracts_dir: Path, run_dir: Path) -> dict[str, Any]:
    home = run_dir / "home"
    result = run_dir / "platform.json"
    env = {**os.environ, "DATAOPS_HOME": str(home), "DATAOPS_PROJECT": str(contracts_dir),
           "DATAOPS_SETTLE_SECONDS": "0"}
    env.pop("DAGSTER_HOME", None)  # instance_for_test makes its own
    usage = run_child(["--child", "platform", "--csv", str(csv_path), "--result", str(result)],
                      env)
    measured = json.loads(result.read_text(encoding="utf-8"))
    samples = usage.pop("rss_samples")
    for step in measured.get("timings", {}).get("steps", {}).values():
        during = [mb for t, mb in samples if step["start"] <= t <= step["start"] + step["seconds"]]
        if during:
            step["max_rss_mb"] = max(during)
    return {**measured, **usage}


def measure_baseline(csv_path: Path, run_dir: Path, child: str = "baseline") -> dict[str, Any]:
    result = run_dir / f"{child}.json"
    database = run_dir / f"{child}.duckdb"
    usage = run_child(["--child", child, "--csv", str(csv_path), "--database",
                       str(database), "--result", str(result)])
    usage.pop("rss_samples")
    return {**json.loads(result.read_text(encoding="utf-8")), **usage}


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median end-to-end time (peak RSS: the maximum over all runs)."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["all_seconds"] = [r["seconds"] for r in runs]
    chosen["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return chosen


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": py_platform.python_version()}
    for name in ("dagster", "duckdb", "pandas", "pandera", "pyarrow"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "?"
    return out


def platform_revision() -> str:
    """The checkout's commit, marked '+dirty' when the platform package has local edits."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=PROJECT_DIR, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+dirty" if git("status", "--porcelain", "--", "dataops_platform") else "")


def _mark(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _step_label(step_key: str) -> str:
    return step_key.replace(f"__{DATASET}", "").replace(f"{DATASET}_", "")


def report(rows: int, csv_path: Path, platform: dict[str, Any], baseline: dict[str, Any],
           revision: str, lean: dict[str, Any], load: tuple[tuple[float, ...], ...]) -> str:
    """The printed table and breakdown for one size."""
    size_mb = csv_path.stat().st_size / 1e6
    p_s, b_s, l_s = platform["seconds"], baseline["seconds"], lean["seconds"]
    ratio = p_s / l_s if l_s else float("inf")
    rss_ratio = platform["peak_rss_mb"] / baseline["peak_rss_mb"]
    lines = [
        f"== {rows:,} rows ({size_mb:.1f} MB CSV, seed {SEED}, {os.cpu_count()} CPUs, "
        f"platform at {revision}) ==",
        f"{'rows':>10} {'plat s':>8} {'plat rows/s':>12} {'plat RSS MB':>12} "
        f"{'base s':>8} {'base rows/s':>12} {'base RSS MB':>12} {'ratio':>7}",
        f"{rows:>10,} {p_s:>8.2f} {rows / p_s:>12,.0f} {platform['peak_rss_mb']:>12.0f} "
        f"{b_s:>8.2f} {rows / b_s:>12,.0f} {baseline['peak_rss_mb']:>12.0f} "
        f"{p_s / b_s if b_s else float('inf'):>6.2f}x",
        f"lean DuckDB script (one scan, no raw copy): {l_s:.2f} s, peak RSS "
        f"{lean['peak_rss_mb']:.0f} MB; platform / lean = {ratio:.2f}x",
        f"load average (1, 5, 15 min) before {', '.join(f'{x:.1f}' for x in load[0])}; "
        f"after {', '.join(f'{x:.1f}' for x in load[1])} on {os.cpu_count()} CPUs",
        "",
        f"platform  success={platform['success']}  end-to-end {p_s:.2f} s = register "
        f"(scan + sha256) {platform['register_seconds']:.2f} s + materialize "
        f"{platform['materialize_seconds']:.2f} s   [not timed: imports "
        f"{platform['import_seconds']:.2f} s, RSS after imports "
        f"{platform['rss_after_imports_mb']:.0f} MB]",
    ]
    timings = platform.get("timings", {})
    if "run_seconds" in timings:
        lines.append(
            f"  run {timings['run_seconds']:.2f} s: before first step "
            f"{timings['before_first_step_seconds']:.2f} s, after last step "
            f"{timings['after_last_step_seconds']:.2f} s")
    for step_key, step in timings.get("steps", {}).items():
        share = 100 * step["seconds"] / p_s if p_s else 0.0
        parts = []
        if "compute_seconds" in step:
            parts.append(f"compute {step['compute_seconds']:5.2f} s")
        if "io_manager_seconds" in step:
            parts.append(f"publish (IO manager) {step['io_manager_seconds']:5.2f} s")
        if "max_rss_mb" in step:
            parts.append(f"RSS up to {step['max_rss_mb']:.0f} MB")
        lines.append(f"  step {_step_label(step_key):<24} {step['seconds']:6.2f} s {share:3.0f}%  "
                     + ", ".join(parts))
    if platform["checks"]:
        lines.append("  checks: " + ", ".join(f"{k}={'passed' if v else 'FAILED'}"
                                              for k, v in platform["checks"].items()))
    for failure in platform.get("failures", []):
        lines.append(f"  FAILURE: {failure[:300]}")
    lines += [
        f"baseline  load (read_csv) {baseline['load_seconds']:.2f} s + clean "
        f"{baseline['clean_seconds']:.2f} s = {b_s:.2f} s   [duckdb threads "
        f"{baseline['duckdb_threads']}, RSS after imports {baseline['rss_after_imports_mb']:.0f} MB]",
        "ledger        rows_in    cleaned  quarantined  duplicates",
    ]
    for name, ledger in (("platform", platform["ledger"]), ("baseline", baseline["ledger"]),
                         ("lean", lean["ledger"])):
        lines.append(f"  {name:<9} {ledger['rows_in']:>10,} {ledger['cleaned']:>10,} "
                     f"{ledger['quarantined']:>12,} {ledger['duplicates']:>11,}")
    same = platform["ledger"] == baseline["ledger"] == lean["ledger"]
    lines.append(f"  ledgers {'match' if same else 'DIFFER'} (equivalent cleaning: "
                 f"{'yes' if same else 'check the baseline SQL against the contract'})")
    for name, run in (("platform", platform), ("baseline", baseline)):
        other = run.get("other_cpu_seconds")
        if other is not None and other > 0.1 * run["child_wall_seconds"]:
            lines.append(f"WARNING: other processes used {other:.1f} CPU-s during the {name} "
                         f"run ({run['child_wall_seconds']:.1f} s wall); its figures may be inflated.")
    scope = "" if rows == TARGET_ROWS else f"  (targets are set at {TARGET_ROWS:,} rows)"
    lines += [
        f"targets{scope}",
        f"  end-to-end <= {TARGET_RATIO:.1f}x lean     : {ratio:6.2f}x     {_mark(ratio <= TARGET_RATIO)}",
        f"  peak RSS   <= {TARGET_RSS_MB:.0f} MB     : {platform['peak_rss_mb']:6.0f} MB  "
        f"{_mark(platform['peak_rss_mb'] <= TARGET_RSS_MB)}   (RSS ratio {rss_ratio:.2f}x)",
    ]
    return "\n".join(lines)


def bench_size(rows: int, workdir: Path, contracts_dir: Path, repeat: int, keep: bool) -> None:
    csv_path, generated = ensure_csv(workdir, rows)
    gen = f"generated in {generated:.1f} s" if generated is not None else "cached"
    print(f"[{rows:,} rows] {csv_path} ({gen})", file=sys.stderr)
    revision = platform_revision()
    platform_runs: list[dict[str, Any]] = []
    baseline_runs: list[dict[str, Any]] = []
    lean_runs: list[dict[str, Any]] = []
    load_before = os.getloadavg()
    for i in range(repeat):
        run_dir = Path(tempfile.mkdtemp(prefix=f"run-{rows}-{i}-", dir=workdir))
        try:
            print(f"[{rows:,} rows] baseline run {i + 1}/{repeat}", file=sys.stderr)
            baseline_runs.append(measure_baseline(csv_path, run_dir))
            print(f"[{rows:,} rows] lean script run {i + 1}/{repeat}", file=sys.stderr)
            lean_runs.append(measure_baseline(csv_path, run_dir, "lean"))
            print(f"[{rows:,} rows] platform run {i + 1}/{repeat}", file=sys.stderr)
            platform_runs.append(measure_platform(csv_path, contracts_dir, run_dir))
        finally:
            if keep:
                print(f"[{rows:,} rows] kept {run_dir}", file=sys.stderr)
            else:
                shutil.rmtree(run_dir, ignore_errors=True)
    platform, baseline = _median_run(platform_runs), _median_run(baseline_runs)
    lean = _median_run(lean_runs)
    load = (load_before, os.getloadavg())
    after = platform_revision()
    if after != revision:
        revision = f"{revision} -> {after}: the platform changed during the measurement"
    print(report(rows, csv_path, platform, baseline, revision, lean, load), flush=True)
    print(flush=True)
    ratio = platform["seconds"] / lean["seconds"] if lean["seconds"] else None
    write_json(RESULTS_DIR / f"pipeline-{rows}.json", {
        "rows": rows,
        "seed": SEED,
        "csv_bytes": csv_path.stat().st_size,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "system": py_platform.platform()},
        "versions": versions(),
        "platform_revision": revision,
        "repeat": repeat,
        "load_average_before_after": load,
        "platform": platform,
        "baseline": baseline,
        "lean": lean,
        "ratio_seconds": ratio,  # to the lean script
        "ratio_seconds_to_baseline": (platform["seconds"] / baseline["seconds"]
                                      if baseline["seconds"] else None),
        "ratio_peak_rss": platform["peak_rss_mb"] / baseline["peak_rss_mb"],
        "targets": {
            "applies_at_rows": TARGET_ROWS,
            "max_ratio": TARGET_RATIO,
            "ratio_ok": ratio is not None and ratio <= TARGET_RATIO,
            "max_peak_rss_mb": TARGET_RSS_MB,
            "peak_rss_ok": platform["peak_rss_mb"] <= TARGET_RSS_MB,
        },
    })


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, action="append",
                        help="rows in the generated CSV; repeat for several sizes "
                             "(default 1000000)")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                        help="cache for generated CSVs and per-run folders (default %(default)s)")
    parser.add_argument("--keep", action="store_true",
                        help="keep each run's DATAOPS_HOME and baseline database in --workdir")
    parser.add_argument("--repeat", type=int, default=1,
                        help="measurements per size; the median run is reported (default 1)")
    # internal: what the child processes are told to do
    parser.add_argument("--child", choices=["generate", "platform", "baseline", "lean"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--database", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child == "generate":
        child_generate(args.rows[0], args.out)
        return
    if args.child == "platform":
        child_platform(args.csv, args.result)
        return
    if args.child in ("baseline", "lean"):
        child_baseline(args.csv, args.database, args.result, lean=args.child == "lean")
        return
    sizes = args.rows or [1_000_000]
    if any(n < 1 for n in sizes) or args.repeat < 1:
        raise SystemExit("--rows and --repeat must be positive")
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    contracts_dir = Path(tempfile.mkdtemp(prefix="project-", dir=workdir))
    try:
        write_contract(contracts_dir)
        for rows in sizes:
            bench_size(rows, workdir, contracts_dir, args.repeat, args.keep)
    finally:
        shutil.rmtree(contracts_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
