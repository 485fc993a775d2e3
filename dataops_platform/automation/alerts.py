"""Alerting in open source: failed checks and failed runs become alerts, once each.

Dagster OSS records check failures and run failures but tells nobody. The ``alerts``
sensor reads them from the instance's event log after its cursor (so every failure is
sent exactly once, however often the sensor ticks) and sends them through channels:
always a local JSON-lines log in the home folder, and a Slack-compatible webhook when
``DATAOPS_ALERT_WEBHOOK_URL`` is set.
"""

import json
import os
import re
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

import dagster as dg

ALERT_SENSOR = "alerts"
WEBHOOK_ENV = "DATAOPS_ALERT_WEBHOOK_URL"
HISTORY_PER_CHECK = 100  # newest evaluations looked at per check and tick
RUN_FAILURES_PER_TICK = 100


@dataclass(frozen=True)
class Alert:
    kind: str  # "check" or "run"
    severity: str  # ERROR / WARN
    title: str
    detail: str
    at: str

    @property
    def text(self) -> str:
        return f"[{self.severity}] {self.title}\n{self.detail}"


class Channel(Protocol):
    def send(self, alert: Alert) -> None: ...


@dataclass(frozen=True)
class LocalLog:
    """Appends one JSON object per alert; always on, readable without any server."""

    path: Path

    def send(self, alert: Alert) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(alert)) + "\n")


@dataclass(frozen=True)
class Webhook:
    """POSTs ``{"text": ...}``, the payload Slack (and compatible chat tools) accept."""

    url: str
    timeout_s: float = 5.0

    def send(self, alert: Alert) -> None:
        body = json.dumps({"text": alert.text}).encode("utf-8")
        request = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            response.read()


def channels(alerts_log: Path) -> list[Channel]:
    found: list[Channel] = [LocalLog(alerts_log)]
    url = os.environ.get(WEBHOOK_ENV)
    if url:
        found.append(Webhook(url))
    return found


def human_message(error: object) -> str:
    """A failure's own description (a dg.Failure's text), without Dagster's stack trace;
    for an unexpected exception, the exception underneath Dagster's wrapper."""
    message = (getattr(error, "message", None) or str(error)).split("Stack Trace")[0].strip()
    cause = getattr(error, "cause", None)
    if cause is not None and "DagsterExecutionStepExecutionError" in message:
        message = f"{message} {human_message(cause)}"
    return without_class_paths(message)


_CLASS_PATH = re.compile(r"(?m)(^|\s)(?:[A-Za-z_]\w*\.)+(?=[A-Z]\w*: )")
_DAGSTER_WRAPPER = re.compile(r"(?m)^(?:Failure|DagsterExecutionStepExecutionError): ")


def without_class_paths(message: str) -> str:
    """People read the problem, not ``dagster._core.definitions.events.Failure: ``: module
    paths of exception classes are dropped and Dagster's own wrappers named not at all."""
    return _DAGSTER_WRAPPER.sub("", _CLASS_PATH.sub(r"\1", message)).strip()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def check_alert(record: object) -> Alert | None:
    """An alert for a failed check evaluation record, None for a passing one."""
    event = getattr(record, "event", None)
    evaluation = event.dagster_event.event_specific_data if event and event.dagster_event else None
    if evaluation is None or getattr(evaluation, "passed", True):
        return None
    key = record.key  # type: ignore[attr-defined]
    where = f" for file {record.partition}" if record.partition else ""  # type: ignore[attr-defined]
    numbers = ", ".join(f"{k}={getattr(v, 'value', v)}" for k, v in evaluation.metadata.items()
                        if not k.endswith("sample"))
    return Alert("check", evaluation.severity.value,
                 f"check {key.name} failed on {key.asset_key.to_user_string()}{where}",
                 f"{numbers} (run {record.run_id[:8]})", _now())  # type: ignore[attr-defined]


def run_alert(instance: dg.DagsterInstance, record: object) -> Alert:
    """An alert for a failed run, carrying each failed step's own message (no traces)."""
    event = record.event_log_entry  # type: ignore[attr-defined]
    reasons = []
    for step in instance.all_logs(event.run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        error = step.dagster_event.event_specific_data.error if step.dagster_event else None
        reasons.append(f"{step.step_key}: {human_message(error)}")
    summary = (event.dagster_event.message or "") if event.dagster_event else ""
    return Alert("run", "ERROR", f"run {event.run_id[:8]} of {event.job_name} failed",
                 ("\n".join(reasons) or summary).strip()[:2000], _now())


def collect_alerts(instance: dg.DagsterInstance, check_keys: Sequence[dg.AssetCheckKey],
                   cursor: dict) -> tuple[list[Alert], dict]:
    """Failures recorded after ``cursor``; returns them and the advanced cursor."""
    alerts: list[Alert] = []
    seen_checks = dict(cursor.get("checks", {}))
    for key in check_keys:
        name = key.to_user_string()
        last = int(seen_checks.get(name, 0))
        records = instance.event_log_storage.get_asset_check_execution_history(
            key, limit=HISTORY_PER_CHECK)
        fresh = sorted((r for r in records if r.id > last), key=lambda r: r.id)
        alerts.extend(a for a in map(check_alert, fresh) if a is not None)
        if records:
            seen_checks[name] = max(last, max(r.id for r in records))
    runs = instance.fetch_run_status_changes(
        dg.DagsterEventType.RUN_FAILURE, limit=RUN_FAILURES_PER_TICK,
        cursor=cursor.get("runs"), ascending=True)
    alerts.extend(run_alert(instance, r) for r in runs.records)
    return alerts, {"checks": seen_checks, "runs": runs.cursor or cursor.get("runs")}


def build_alert_sensor(check_keys: Sequence[dg.AssetCheckKey],
                       alerts_log: Path) -> dg.SensorDefinition:
    @dg.sensor(name=ALERT_SENSOR, minimum_interval_seconds=30,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Sends one alert per failed check or failed run to the local "
                           f"alerts log and, if {WEBHOOK_ENV} is set, to that webhook.")
    def alerts_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        cursor = json.loads(context.cursor) if context.cursor else {}
        alerts, advanced = collect_alerts(context.instance, check_keys, cursor)
        for alert in alerts:
            for channel in channels(alerts_log):
                try:
                    channel.send(alert)
                except OSError as exc:  # an unreachable webhook must not stop the local log
                    context.log.warning(f"alert not delivered to {type(channel).__name__}: {exc}")
        return dg.SensorResult(cursor=json.dumps(advanced, sort_keys=True),
                               skip_reason=None if alerts else "no new failures")

    return alerts_sensor
