"""Static quality reports: one self-contained HTML file per run (or pass, or gate) plus
``latest.html``, the latest state, in ``$DATAOPS_HOME/reports/``.

They are read from the Dagster event log only (see ``report_data``), rendered without any
script or external resource (see ``report_html``), and written atomically (temp file +
``os.replace``) so a reader — a browser, a CI upload — never sees half a file.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path

import dagster as dg

from dataops_platform.quality.report_data import (
    CheckRow,
    ReportData,
    ReportTargets,
    latest_report_data,
    run_report_data,
)
from dataops_platform.quality.report_html import render

LATEST = "latest.html"


def write_atomic(path: Path, text: str) -> Path:
    """Write next to the target, then rename over it: readers see the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a report is meant to be shared
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_report(reports_dir: Path, data: ReportData, label: str) -> Path:
    """``<UTC yyyymmddTHHMMSSZ>-<label>.html``; never overwrites an earlier report."""
    stamp = data.generated_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"{stamp}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', label)}"
    path, n = reports_dir / f"{name}.html", 2
    while path.exists():
        path, n = reports_dir / f"{name}-{n}.html", n + 1
    return write_atomic(path, render(data))


def refresh_latest(reports_dir: Path, instance: dg.DagsterInstance, targets: ReportTargets) -> Path:
    """Rewrite ``latest.html`` from the instance as it is now."""
    return write_atomic(reports_dir / LATEST, render(latest_report_data(instance, targets)))


def report_runs(reports_dir: Path, instance: dg.DagsterInstance, run_ids: Sequence[str],
                label: str, title: str, only_if_recorded: bool = False) -> Path | None:
    """The report of these runs; with ``only_if_recorded``, none for runs that neither
    materialized nor checked anything (a failed load, a sensor's empty run)."""
    data = run_report_data(instance, run_ids, title=title)
    if only_if_recorded and not data.materializations and not data.checks:
        return None
    return write_report(reports_dir, data, label)


def report_pass(reports_dir: Path, instance: dg.DagsterInstance, targets: ReportTargets,
                run_ids: Sequence[str], label: str = "run") -> Path:
    """After `dataops run` / `dataops demo`: the pass's report (if it ran anything) and a
    fresh latest.html; returns the pass's report, or latest.html when nothing ran."""
    latest = refresh_latest(reports_dir, instance, targets)
    if not run_ids:
        return latest
    return report_runs(reports_dir, instance, run_ids, label,
                       title=f"Quality report: one pass of `dataops {label}`") or latest


def report_gate(reports_dir: Path, instance: dg.DagsterInstance, targets: ReportTargets,
                outcomes: Sequence[object]) -> Path:
    """After `dataops check`: the gate's fresh results with the latest-state sections."""
    data = latest_report_data(instance, targets, checks=[CheckRow.of(o) for o in outcomes],
                              title="Quality report: CI gate (dataops check)")
    data.scope = ("Check results re-evaluated now against the warehouse by `dataops check`; "
                  "quarantine, profiles and schemas of the latest materializations.")
    path = write_report(reports_dir, data, "check")
    refresh_latest(reports_dir, instance, targets)
    return path
