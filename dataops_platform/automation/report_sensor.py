"""The ``quality_report`` sensor: one quality report per finished run launched from the UI
or by automation, and a fresh ``latest.html``.

Like the alerts sensor it reads the instance's event log after a cursor (here: over run
success and run failure events), so each run gets exactly one report however often the
sensor ticks. Runs of `dataops run` are skipped: that command writes its pass's report.
"""

import json
from pathlib import Path

import dagster as dg

from dataops_platform.quality.report import refresh_latest, report_runs
from dataops_platform.quality.report_data import ReportTargets

REPORT_SENSOR = "quality_report"
RUNS_PER_TICK = 20  # a backlog (first start on an old instance) drains over a few ticks
# the tag `dataops run` puts on its runs (one_pass.TRIGGER_TAG; not imported: one_pass
# imports the factory, which imports this module)
TRIGGER_TAG, CLI_TRIGGER = "dataops/trigger", "cli"
FINISHED = {"success": dg.DagsterEventType.RUN_SUCCESS, "failure": dg.DagsterEventType.RUN_FAILURE}


def finished_runs(instance: dg.DagsterInstance, cursor: dict) -> tuple[list[str], dict]:
    """Ids of runs that finished after ``cursor`` (oldest first) and the advanced cursor."""
    found: list[tuple[float, str]] = []
    advanced = dict(cursor)
    for name, event_type in FINISHED.items():
        result = instance.fetch_run_status_changes(event_type, limit=RUNS_PER_TICK,
                                                   cursor=cursor.get(name), ascending=True)
        found.extend((r.timestamp, r.run_id) for r in result.records)
        advanced[name] = result.cursor or cursor.get(name)
    return [run_id for _, run_id in sorted(found)], advanced


def build_report_sensor(reports_dir: Path) -> dg.SensorDefinition:
    @dg.sensor(name=REPORT_SENSOR, minimum_interval_seconds=30,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Writes one static HTML quality report per finished run (checks, "
                           "quarantine, profiles, schema changes) into the home's reports/ "
                           "folder and refreshes reports/latest.html.")
    def quality_report(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        if context.repository_def is None:  # latest.html covers the code location's assets
            raise dg.DagsterInvariantViolationError(
                f"the {REPORT_SENSOR} sensor needs its code location's definitions")
        cursor = json.loads(context.cursor) if context.cursor else {}
        run_ids, advanced = finished_runs(context.instance, cursor)
        written = []
        for run_id in run_ids:
            run = context.instance.get_run_by_id(run_id)
            if run is None or run.tags.get(TRIGGER_TAG) == CLI_TRIGGER:
                continue
            path = report_runs(reports_dir, context.instance, [run_id], f"run-{run_id[:8]}",
                               f"Quality report: run {run_id[:8]} of {run.job_name}",
                               only_if_recorded=True)
            if path is not None:
                context.log.info(f"quality report of run {run_id[:8]}: {path}")
                written.append(path)
        if written:
            refresh_latest(reports_dir, context.instance, ReportTargets.of(context.repository_def))
        return dg.SensorResult(cursor=json.dumps(advanced, sort_keys=True),
                               skip_reason=None if written else "no finished run to report")

    return quality_report
