"""Alerts exactly once and at least once: planned checks, long backlogs, a webhook that is
down for two ticks, and the CLI path sharing the sensor's cursor and de-duplication."""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest
from click.testing import CliRunner

from dataops_platform.automation import alert_outbox
from dataops_platform.automation.alerts import (
    ALERT_SENSOR,
    WEBHOOK_ENV,
    build_alert_sensor,
    process_alerts,
)
from dataops_platform.cli.main import cli
from dataops_platform_tests.hostile_helpers import THINGS, only_contracts
from dataops_platform_tests.project_files import contracts_dir

CHECK = dg.AssetCheckKey(dg.AssetKey(["cleaned", "things"]), "quality")


@pytest.fixture
def pauses(monkeypatch):
    """Backoff pauses are recorded, not slept: no timing in these tests."""
    slept: list[float] = []
    monkeypatch.setattr(alert_outbox, "_sleep", slept.append)
    return slept


@pytest.fixture
def hook(monkeypatch):
    """A local loopback webhook that can be switched down (HTTP 503) and up."""
    state = {"down": False, "received": [], "refused": 0, "auth": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if state["down"]:
                state["refused"] += 1
                self.send_response(503)
                self.end_headers()
                return
            state["received"].append(body["text"])
            state["auth"].append(self.headers.get("Authorization"))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(WEBHOOK_ENV, f"http://127.0.0.1:{server.server_port}/hook")
    state["url"] = f"http://127.0.0.1:{server.server_port}/hook"
    yield state
    server.shutdown()
    server.server_close()


def _fail_check(instance, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        instance.report_runless_asset_event(dg.AssetCheckEvaluation(
            asset_key=CHECK.asset_key, check_name=CHECK.name, passed=False,
            severity=dg.AssetCheckSeverity.WARN, metadata={"case": i}))


def _logged(alerts_log):
    return [json.loads(x) for x in alerts_log.read_text().splitlines()] if alerts_log.exists() else []


def test_a_check_planned_long_before_it_fails_is_alerted_once(tmp_path, pauses):
    alerts_log = tmp_path / "alerts.jsonl"
    instance = dg.DagsterInstance.ephemeral()
    seen_while_planned: list = []

    @dg.asset(key=CHECK.asset_key)
    def things() -> int:
        return 1

    @dg.asset_check(asset=things, name=CHECK.name)
    def quality(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        # a tick while this very check is planned (its record exists, not yet evaluated)
        (record,) = context.instance.event_log_storage.get_asset_check_execution_history(
            CHECK, limit=5)
        seen_while_planned.append(record.status.value)
        seen_while_planned.append(process_alerts(context.instance, [CHECK], alerts_log))
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR,
                                   metadata={"bad_rows": 3})

    result = dg.materialize([things, quality], instance=instance, raise_on_error=False)
    assert seen_while_planned == ["PLANNED", []]  # planned: not passing, not alerted, kept open
    assert not result.get_asset_check_evaluations()[0].passed
    first = process_alerts(instance, [CHECK], alerts_log)
    assert [a.title for a in first] == ["check quality failed on cleaned/things"]
    assert process_alerts(instance, [CHECK], alerts_log) == []
    assert [a["title"] for a in _logged(alerts_log)] == ["check quality failed on cleaned/things"]
    assert pauses == []


def test_a_backlog_beyond_one_page_is_alerted_whole(tmp_path, pauses):
    alerts_log = tmp_path / "alerts.jsonl"
    instance = dg.DagsterInstance.ephemeral()
    _fail_check(instance, 250)
    assert len(process_alerts(instance, [CHECK], alerts_log)) == 250
    _fail_check(instance, 3, start=250)
    assert len(process_alerts(instance, [CHECK], alerts_log)) == 3
    cases = sorted(int(a["detail"].split("case=")[1].split()[0]) for a in _logged(alerts_log))
    assert cases == list(range(253))


def test_a_webhook_down_for_two_ticks_then_up_gets_every_alert_once(tmp_path, hook, pauses):
    alerts_log = tmp_path / "alerts.jsonl"
    instance = dg.DagsterInstance.ephemeral()
    sensor = build_alert_sensor([CHECK], alerts_log)
    defs = dg.Definitions(sensors=[sensor])

    def tick():
        context = dg.build_sensor_context(instance=instance, definitions=defs)
        return defs.resolve_sensor_def(ALERT_SENSOR)(context)

    hook["down"] = True
    _fail_check(instance, 2)
    tick()  # down: 3 tries with backoff, then kept
    assert pauses == [0.5, 1.0] and hook["refused"] == 3
    _fail_check(instance, 1, start=2)
    second = tick()  # still down: the old and the new alert wait
    assert "3 alert(s) waiting for delivery" in (second.skip_reason or "") or \
        alert_outbox.pending_count(alerts_log) == 3
    assert hook["received"] == []
    assert len(_logged(alerts_log)) == 3  # the local log got each at once, once

    hook["down"] = False
    tick()
    tick()
    assert sorted(t.split("case=")[1].split()[0] for t in hook["received"]) == ["0", "1", "2"]
    assert alert_outbox.pending_count(alerts_log) == 0
    assert len(_logged(alerts_log)) == 3


def test_the_cli_path_alerts_with_the_sensors_cursor(settings, land, hook, pauses):
    only_contracts(contracts_dir(settings), THINGS)
    land("things/ragged.csv", "id,label,price\n1,a,1\n2,b\n")
    out = CliRunner().invoke(cli, ["run"])
    assert out.exit_code == 1
    assert "alerts: 1 new" in out.output
    (alert,) = _logged(settings.alerts_log)
    assert alert["kind"] == "run" and "ragged.csv cannot be read" in alert["detail"]
    assert len(hook["received"]) == 1

    from dataops_platform.factory import build_platform
    platform = build_platform(settings)
    instance = dg.DagsterInstance.get()
    context = dg.build_sensor_context(instance=instance, definitions=platform.definitions)
    platform.definitions.resolve_sensor_def(ALERT_SENSOR)(context)  # the UI's sensor: nothing new
    assert len(_logged(settings.alerts_log)) == 1 and len(hook["received"]) == 1


def test_a_webhook_url_with_credentials_delivers_with_basic_auth(tmp_path, hook, pauses,
                                                                 monkeypatch):
    monkeypatch.setenv(WEBHOOK_ENV, hook["url"].replace("http://", "http://bot:s%40cret@"))
    instance = dg.DagsterInstance.ephemeral()
    _fail_check(instance, 1)
    process_alerts(instance, [CHECK], tmp_path / "alerts.jsonl")
    assert len(hook["received"]) == 1
    assert hook["auth"] == ["Basic " + base64.b64encode(b"bot:s@cret").decode()]
