"""HTTP API sources against a loopback server started by the test: pages, auth, failures and
rate limits (the backoff waits are recorded, never slept)."""

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dataops_platform.collect import http_source, lake
from dataops_platform_tests.project_files import contracts_dir

TOKEN = "s3cret-token"


class Api:
    """The records, and a queue of failures to answer before the real pages."""

    def __init__(self):
        self.records = []
        self.failures = []  # (status, headers) answered first, one per request
        self.requests = []
        self.page_size = 2
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body, headers=()):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                parts = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(parts.query))
                api.requests.append((parts.path, q))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._send(401, {"error": "no token"})
                if api.failures:
                    status, headers = api.failures.pop(0)
                    return self._send(status, {"error": "try later"}, headers)
                rows = sorted((r for r in api.records if r["updated_at"] > q.get("updated_since", "")),
                              key=lambda r: r["updated_at"])
                size = api.page_size
                if parts.path == "/cursor":
                    start = int(q.get("cursor", 0))
                    nxt = start + size if start + size < len(rows) else None
                    return self._send(200, {"data": {"items": rows[start:start + size]}, "next": nxt})
                if parts.path == "/offset":
                    start, limit = int(q["offset"]), int(q["limit"])
                    return self._send(200, {"data": {"items": rows[start:start + limit]}})
                if parts.path == "/page":
                    page, limit = int(q["page"]), int(q["limit"])
                    return self._send(200, {"data": {"items": rows[(page - 1) * limit:page * limit]}})
                if parts.path == "/link":
                    start = int(q.get("from", 0))
                    headers = []
                    if start + size < len(rows):
                        nq = urllib.parse.urlencode({**q, "from": start + size})
                        headers = [("Link", f'</link?{nq}>; rel="next"')]
                    return self._send(200, {"data": {"items": rows[start:start + size]}}, headers)
                return self._send(404, {"error": "no such path"})

        return Handler

    def close(self):
        self.server.shutdown()
        self.server.server_close()


PAGINATION = {
    "cursor": "{type: cursor, next_path: next}",
    "offset": "{type: offset, limit: 2}",
    "page": "{type: page, limit: 2, start: 1}",
    "link": "{type: link}",
}


def declare(settings, api, kind="cursor", retries=5):
    (contracts_dir(settings) / "tickets.yaml").write_text(f"""
name: tickets
description: Support tickets from the helpdesk API.
owner: support
source:
  kind: http
  url: {api.url}/{kind}
  auth_env: HELPDESK_TOKEN
  records_path: data.items
  pagination: {PAGINATION[kind]}
  cursor: {{field: updated_at, param: updated_since, initial: '2026-01-01'}}
  max_retries: {retries}
primary_key: [id]
columns:
  - {{name: id, type: integer, nullable: false}}
  - {{name: state, allowed_values: [open, closed]}}
  - {{name: updated_at, type: timestamp, nullable: false}}
write: {{mode: merge, order_by: updated_at}}
""")


@pytest.fixture
def api(settings, monkeypatch):
    server = Api()
    monkeypatch.setenv("HELPDESK_TOKEN", TOKEN)
    waits = []
    monkeypatch.setattr(http_source, "_sleep", waits.append)
    server.waits = waits
    contracts_dir(settings).clear()
    yield server
    server.close()


def _tickets(*rows):
    return [{"id": i, "state": s, "updated_at": t} for i, s, t in rows]


@pytest.mark.parametrize("kind", ["cursor", "offset", "page", "link"])
def test_each_pagination_reads_every_page_once_then_only_what_is_new(settings, api, one_pass, query, kind):
    declare(settings, api, kind)
    api.records = _tickets((1, "open", "2026-02-01 10:00:00"), (2, "open", "2026-02-01 11:00:00"),
                           (3, "closed", "2026-02-01 12:00:00"), (4, "open", "2026-02-01 13:00:00"),
                           (5, "lost", "2026-02-01 14:00:00"))
    result = one_pass()
    assert result.ok, result.failures
    assert result.extracted[0].rows == 5
    assert query("select id from cleaned.tickets order by id") == [(1,), (2,), (3,), (4,)]
    # the bad record is quarantined with its id and the delivery it came in
    assert query("select value, json_extract_string(original_record, '$.id'), _source_file "
                 "from quarantine.tickets") == [("lost", "5", "tickets/extract-000001.ndjson")]

    api.records[0] = {"id": 1, "state": "closed", "updated_at": "2026-02-02 09:00:00"}
    api.records.append({"id": 6, "state": "open", "updated_at": "2026-02-02 10:00:00"})
    api.requests.clear()
    result = one_pass()
    assert result.ok, result.failures
    assert result.extracted[0].rows == 2  # the update and the insert, nothing else
    assert all(q.get("updated_since") == "2026-02-01 14:00:00" for _, q in api.requests)
    assert query("select id, state from current.tickets order by id") == [
        (1, "closed"), (2, "open"), (3, "closed"), (4, "open"), (6, "open")]
    assert query("select count(*), count(distinct (id, updated_at)) from raw.tickets") == [(7, 7)]
    entries = list(lake.entries(settings.lake_dir, "tickets"))
    assert entries[1].details["cursor_from"] == "2026-02-01 14:00:00"
    assert entries[1].details["cursor_to"] == "2026-02-02 10:00:00"
    assert TOKEN not in json.dumps([e.details for e in entries])


def test_rate_limits_and_server_errors_are_retried_with_backoff(settings, api, one_pass, query):
    declare(settings, api)
    api.records = _tickets((1, "open", "2026-02-01 10:00:00"), (2, "open", "2026-02-01 11:00:00"),
                           (3, "open", "2026-02-01 12:00:00"))
    api.failures = [(429, [("Retry-After", "7")]), (503, []), (502, [])]
    result = one_pass()
    assert result.ok, result.failures
    assert api.waits == [7.0, 1.0, 2.0]  # Retry-After honoured, then exponential backoff
    assert query("select count(*) from cleaned.tickets") == [(3,)]
    (entry,) = lake.entries(settings.lake_dir, "tickets")
    assert entry.details["retries"] == 3 and entry.details["pages"] == 2


def test_an_api_that_stays_down_fails_clearly_and_the_cursor_does_not_move(settings, api, one_pass):
    declare(settings, api, retries=2)
    api.records = _tickets((1, "open", "2026-02-01 10:00:00"))
    assert one_pass().ok
    state_file = settings.home / "extract_state" / "tickets.json"
    before = state_file.read_text()
    api.records.append({"id": 2, "state": "open", "updated_at": "2026-02-02 10:00:00"})
    api.failures = [(500, [])] * 3
    result = one_pass()
    assert not result.ok
    (failure,) = result.failures
    assert "http source of 'tickets' failed" in failure and "HTTP 500" in failure
    assert "still after 2 retries" in failure and "cursor stays at '2026-02-01 10:00:00'" in failure
    assert state_file.read_text() == before
    assert len(list((settings.landing_dir / "tickets").glob("*.ndjson"))) == 1

    api.close()  # nothing listens any more
    result = one_pass()
    assert "cannot connect" in result.failures[0] and state_file.read_text() == before


def test_a_missing_token_or_a_refused_token_fails_without_retrying(settings, api, one_pass, monkeypatch):
    declare(settings, api)
    monkeypatch.delenv("HELPDESK_TOKEN")
    result = one_pass()
    assert "HELPDESK_TOKEN" in result.failures[0] and not api.requests
    monkeypatch.setenv("HELPDESK_TOKEN", "wrong")
    result = one_pass()
    assert "HTTP 401" in result.failures[0] and len(api.requests) == 1 and not api.waits
