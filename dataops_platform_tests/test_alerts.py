"""Failed checks and failed runs reach a real local HTTP server and the alerts log, once."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest

from dataops_platform.automation.alerts import ALERT_SENSOR, WEBHOOK_ENV
from dataops_platform.automation.one_pass import prepare_instance, run_pass
from dataops_platform.factory import build_platform

HEADER = "Kundennummer;Vorname;Nachname;E-Mail;Ort;Land;Anmeldedatum;Segment\n"


@pytest.fixture
def webhook(monkeypatch):
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(WEBHOOK_ENV, f"http://127.0.0.1:{server.server_port}/hook")
    yield received
    server.shutdown()
    server.server_close()


def _tick(platform, instance, cursor):
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      definitions=platform.definitions)
    return platform.definitions.resolve_sensor_def(ALERT_SENSOR)(context)


def test_each_failure_is_alerted_exactly_once(settings, land, webhook):
    # a file whose rows are mostly bad (quarantine_rate fails, WARN) and a malformed file (run fails)
    rows = "".join(f"{i};A;;a@x.de;Köln;DE;2024-01-02;consumer\n" for i in range(1, 5))
    land("customers/mostly-bad.csv", (HEADER + rows + "9;Ann;Lee;a@x.de;Köln;DE;2024-01-02;consumer\n")
         .encode("latin-1"))
    land("orders/broken.ndjson", b'{"order_id": \n')
    instance = prepare_instance(settings)
    platform = build_platform(settings)
    result = run_pass(settings, platform, instance)
    assert sorted(c.check for c in result.checks if not c.passed) == ["quarantine_rate", "rules_last_name"]
    assert len(result.failures) == 1

    first = _tick(platform, instance, None)
    texts = [m["text"] for m in webhook]
    assert len(texts) == 2, texts  # the column rule check counts quarantined dirt: not alerted
    assert any("[WARN] check quarantine_rate failed on cleaned/customers for file mostly-bad.csv@" in t
               and "quarantine_rate=0.8" in t for t in texts)
    assert any(t.startswith("[ERROR] run ") and "process_orders failed" in t for t in texts)
    logged = [json.loads(line) for line in settings.alerts_log.read_text().splitlines()]
    assert [a["kind"] for a in logged] == sorted(a["kind"] for a in logged)  # checks, then runs
    assert len(logged) == 2

    # more ticks, nothing new: no more alerts
    second = _tick(platform, instance, first.cursor)
    _tick(platform, instance, second.cursor)
    assert len(webhook) == 2
    assert len(settings.alerts_log.read_text().splitlines()) == 2


def test_an_unreachable_webhook_still_leaves_the_local_alert(settings, land, monkeypatch):
    monkeypatch.setenv(WEBHOOK_ENV, "http://127.0.0.1:9/nothing-listens-here")
    land("orders/broken.ndjson", b"garbage\n")
    instance = prepare_instance(settings)
    platform = build_platform(settings)
    assert not run_pass(settings, platform, instance).ok
    _tick(platform, instance, None)
    (alert,) = [json.loads(line) for line in settings.alerts_log.read_text().splitlines()]
    assert alert["kind"] == "run" and "orders/broken.ndjson" in alert["detail"]
