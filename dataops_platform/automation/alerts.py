"""Alerting in open source: failed checks and failed runs become alerts, once each.

Dagster OSS records check failures and run failures but tells nobody. The ``alerts``
sensor (and ``dataops run``, through the same function) reads them from the instance's event
log after a shared cursor and sends them through channels: always a local JSON-lines log in
the home folder, and a Slack-compatible webhook when ``DATAOPS_ALERT_WEBHOOK_URL`` is set.

Exactly once: only *finished* check evaluations move the cursor (a check planned with its
run and evaluated later is alerted when it fails), every backlog is paged, an alert is
saved to an outbox before it is sent, a channel that fails is retried with backoff and the
alert kept for the next tick, and delivered alert ids are remembered so a re-read failure
is not sent twice (``alert_outbox.py``).
"""

import base64
import json
import os
import re
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import dagster as dg

from dataops_platform.automation import alert_outbox as outbox
from dataops_platform.dagster_internals import (
    COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES,
    AssetCheckExecutionRecord,
)

ALERT_SENSOR = "alerts"
WEBHOOK_ENV = "DATAOPS_ALERT_WEBHOOK_URL"
HISTORY_PAGE = 100  # check records read per query (as many pages as the backlog needs)
RUN_FAILURES_PAGE = 100


@dataclass(frozen=True)
class Alert:
    kind: str  # "check" or "run"
    severity: str  # ERROR / WARN
    title: str
    detail: str
    at: str
    id: str = ""  # what de-duplicates it: check:<record id> or run:<run id>

    @property
    def text(self) -> str:
        return f"[{self.severity}] {self.title}\n{self.detail}"


class Channel(Protocol):
    @property
    def name(self) -> str: ...

    def send(self, alert: Alert) -> None: ...


@dataclass(frozen=True)
class LocalLog:
    """Appends one JSON object per alert; always on, readable without any server."""

    path: Path
    name: str = "log"

    def send(self, alert: Alert) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(alert)) + "\n")


@dataclass(frozen=True)
class Webhook:
    """POSTs ``{"text": ...}``, the payload Slack (and compatible chat tools) accept."""

    url: str
    timeout_s: float = 5.0
    name: str = "webhook"

    def send(self, alert: Alert) -> None:
        body = json.dumps({"text": alert.text}).encode("utf-8")
        url, headers = _without_credentials(self.url)
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json", **headers})
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            response.read()


def _without_credentials(url: str) -> tuple[str, dict[str, str]]:
    """``https://user:pass@host/x`` -> the URL without them plus a Basic auth header (urllib
    does not send credentials written into the URL)."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None:
        return url, {}
    user = urllib.parse.unquote(parts.username)
    password = urllib.parse.unquote(parts.password or "")
    host = parts.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return (urllib.parse.urlunsplit(parts._replace(netloc=netloc)),
            {"Authorization": f"Basic {token}"})


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
    return datetime.now(UTC).isoformat(timespec="seconds")


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
                 f"{numbers} (run {record.run_id[:8]})", _now(),  # type: ignore[attr-defined]
                 id=f"check:{record.id}")  # type: ignore[attr-defined]


def run_alert(instance: dg.DagsterInstance, record: object) -> Alert:
    """An alert for a failed run, carrying each failed step's own message (no traces)."""
    event = record.event_log_entry  # type: ignore[attr-defined]
    reasons = []
    for step in instance.all_logs(event.run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        error = step.dagster_event.step_failure_data.error if step.dagster_event else None
        reasons.append(f"{step.step_key}: {human_message(error)}")
    summary = (event.dagster_event.message or "") if event.dagster_event else ""
    return Alert("run", "ERROR", f"run {event.run_id[:8]} of {event.job_name} failed",
                 ("\n".join(reasons) or summary).strip()[:2000], _now(), id=f"run:{event.run_id}")


def _finished(instance: dg.DagsterInstance, record: AssetCheckExecutionRecord) -> bool:
    """Evaluated (passed or failed), or planned by a run that ended without evaluating it
    (that run's failure is alerted as a run)."""
    if record.status in COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES:
        return True
    run = instance.get_run_by_id(record.run_id)
    return run is None or run.is_finished


def _new_check_records(instance: dg.DagsterInstance, key: dg.AssetCheckKey, upto: int,
                       open_ids: set[int]) -> list[AssetCheckExecutionRecord]:
    """Records after ``upto`` plus the still-open ones at or below it, paged (not cut at
    one page however large the backlog)."""
    floor = min([upto, *open_ids])
    found: list[AssetCheckExecutionRecord] = []
    before: int | None = None
    while True:
        page = instance.event_log_storage.get_asset_check_execution_history(
            key, limit=HISTORY_PAGE, cursor=before)
        found.extend(r for r in page if r.id > upto or r.id in open_ids)
        if len(page) < HISTORY_PAGE or page[-1].id <= floor:
            return sorted(found, key=lambda r: r.id)
        before = page[-1].id


def collect_alerts(instance: dg.DagsterInstance, check_keys: Sequence[dg.AssetCheckKey],
                   cursor: dict) -> tuple[list[Alert], dict]:
    """Failures finished after ``cursor``; returns them and the advanced cursor.

    A check's record is created when its run is *planned* and completed in place when it is
    evaluated, so the cursor keeps, per check, the highest record id seen (``upto``) and the
    ids seen while still planned (``open``): those are looked at again until they finish.
    Run failures are read in pages after Dagster's own cursor.
    """
    alerts: list[Alert] = []
    seen_checks: dict = {}
    for key in check_keys:
        name = key.to_user_string()
        state = cursor.get("checks", {}).get(name, {"upto": 0, "open": []})
        if isinstance(state, int):  # the cursor of earlier versions: a bare id
            state = {"upto": state, "open": []}
        upto, open_ids = int(state["upto"]), set(state["open"])
        for record in _new_check_records(instance, key, upto, open_ids):
            upto = max(upto, record.id)
            if not _finished(instance, record):
                open_ids.add(record.id)
                continue
            open_ids.discard(record.id)
            alert = check_alert(record)
            if alert is not None:
                alerts.append(alert)
        seen_checks[name] = {"upto": upto, "open": sorted(open_ids)}
    runs_cursor = cursor.get("runs")
    while True:
        runs = instance.fetch_run_status_changes(
            dg.DagsterEventType.RUN_FAILURE, limit=RUN_FAILURES_PAGE, cursor=runs_cursor,
            ascending=True)
        alerts.extend(run_alert(instance, r) for r in runs.records)
        runs_cursor = runs.cursor or runs_cursor
        if not runs.has_more or not runs.records:
            break
    return alerts, {"checks": seen_checks, "runs": runs_cursor}


def alertable_check_keys(definitions: dg.Definitions) -> list[dg.AssetCheckKey]:
    """Every check that alerts: all but the per-column rule checks (they count dirt that was
    already quarantined)."""
    from dataops_platform.quality.rule_checks import is_rule_check

    return sorted((k for k in definitions.resolve_asset_graph().asset_check_keys
                   if not is_rule_check(k.name)), key=lambda k: k.to_user_string())


def process_alerts(instance: dg.DagsterInstance, check_keys: Sequence[dg.AssetCheckKey],
                   alerts_log: Path, log: Callable[[str], None] | None = None) -> list[Alert]:
    """Collect new failures and deliver everything undelivered, exactly once per channel.

    The cursor, the outbox of undelivered alerts and the ids of recently delivered ones
    live in one state file beside the alerts log (locked), shared by the sensor and the
    CLI: an alert is first put in the outbox (saved), then delivered; a channel that fails
    after its retries keeps the alert for the next tick or run. Returns the new alerts.
    """
    with outbox.locked_state(alerts_log) as state:
        fresh, state["cursor"] = collect_alerts(instance, check_keys, state["cursor"])
        outbox.enqueue(state, fresh, [c.name for c in channels(alerts_log)])
        state.save()
        outbox.deliver(state, {c.name: c for c in channels(alerts_log)}, log or (lambda _: None))
        state.save()
    return fresh


def build_alert_sensor(check_keys: Sequence[dg.AssetCheckKey],
                       alerts_log: Path) -> dg.SensorDefinition:
    @dg.sensor(name=ALERT_SENSOR, minimum_interval_seconds=30,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Sends one alert per failed check or failed run to the local "
                           f"alerts log and, if {WEBHOOK_ENV} is set, to that webhook; an "
                           "undelivered alert is retried on later ticks.")
    def alerts_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        alerts = process_alerts(context.instance, check_keys, alerts_log, context.log.warning)
        pending = outbox.pending_count(alerts_log)
        return dg.SensorResult(
            cursor=json.dumps({"pending": pending, "new": len(alerts)}),
            skip_reason=None if alerts else "no new failures"
            + (f" ({pending} alert(s) waiting for delivery)" if pending else ""))

    return alerts_sensor
