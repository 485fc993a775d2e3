"""HTTP API sources: a paginated JSON endpoint, read with the standard library's urllib.

Each extraction follows the pages (``pagination.type``: ``cursor`` token in the body,
``offset``/``limit``, ``page`` number, or the ``Link: <...>; rel="next"`` header), takes the
list at ``records_path`` of every page and stores them as one NDJSON delivery (see
``extract.py``). Incremental: the last cursor value is sent as ``cursor.param`` and, in case
the API ignores it, records not beyond it are dropped here too. The token comes from the
environment variable ``auth_env`` (``Authorization: Bearer <token>``). 429 and 5xx answers
and refused connections are retried with exponential backoff (``Retry-After`` honoured) up
to ``max_retries`` times; any other 4xx fails at once.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from dataops_platform.collect.extract import ExtractError, Pulled, cursor_text
from dataops_platform.contracts.model import Contract, PaginationType

_sleep = time.sleep  # tests replace it to record the waits instead of waiting
BACKOFF_BASE_S, BACKOFF_MAX_S = 0.5, 60.0
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;[^,]*rel="?next"?')


def dig(body: Any, path: str | None) -> Any:
    """The value at a dotted path ('data.items'); the body itself for no path."""
    value = body
    for part in (path.split(".") if path else []):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _retry_after(headers: Any, attempt: int) -> float:
    value = headers.get("Retry-After") if headers is not None else None
    if value is not None:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass  # an HTTP date: fall back to the backoff
    return min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** attempt)


def _get(contract: Contract, url: str, headers: dict[str, str], stats: dict[str, int]
         ) -> tuple[Any, Any]:
    source = contract.source
    attempt = 0
    while True:
        stats["requests"] += 1
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=source.timeout_seconds) as response:
                raw = response.read()
                try:
                    return json.loads(raw), response.headers
                except ValueError:
                    raise ExtractError(f"{_safe(url)} did not answer JSON: {raw[:80]!r}") from None
        except urllib.error.HTTPError as exc:
            retryable = exc.code == 429 or exc.code >= 500
            problem, wait = f"HTTP {exc.code} {exc.reason}", _retry_after(exc.headers, attempt)
            if not retryable:
                body = exc.read()[:200].decode("utf-8", "replace")
                raise ExtractError(f"{_safe(url)} answered {problem}: {body}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            problem, wait = f"cannot connect ({reason})", _retry_after(None, attempt)
        if attempt >= source.max_retries:
            raise ExtractError(f"{_safe(url)}: {problem}, still after {attempt} retries")
        stats["retries"] += 1
        _sleep(wait)
        attempt += 1


def _safe(url: str) -> str:
    """The URL without credentials in its authority."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def _with_params(url: str, params: dict[str, Any]) -> str:
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query.update({k: str(v) for k, v in params.items() if v is not None})
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _beyond(value: Any, cursor: Any) -> bool:
    if cursor is None:
        return True
    if value is None:
        return False
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value > float(cursor)
        return str(value) > str(cursor)
    except (TypeError, ValueError):
        return str(value) > str(cursor)


def pull(contract: Contract, cursor: Any) -> Pulled:
    source, page_rules = contract.source, contract.source.pagination
    assert source.url is not None
    headers = {"Accept": "application/json", "User-Agent": "dataops-platform"}
    if source.auth_env:
        token = os.environ.get(source.auth_env, "")
        if not token:
            raise ExtractError(f"{contract.name}: the environment variable {source.auth_env} "
                               "(the API token) is not set; the cursor did not move")
        headers[source.auth_header] = f"{source.auth_scheme} {token}".strip()
    params: dict[str, Any] = dict(source.params)
    if source.cursor is not None and source.cursor.param and cursor is not None:
        params[source.cursor.param] = cursor
    kind = page_rules.type
    if kind in (PaginationType.offset, PaginationType.page):
        params[page_rules.limit_param] = page_rules.limit
    number = page_rules.start
    token_param = page_rules.param or {PaginationType.cursor: "cursor", PaginationType.offset: "offset",
                                       PaginationType.page: "page"}.get(kind, "")
    if kind in (PaginationType.offset, PaginationType.page):
        params[token_param] = number
    url: str | None = _with_params(source.url, params)
    first_url = url
    records: list[dict[str, Any]] = []
    stats = {"requests": 0, "retries": 0, "pages": 0}
    where = f"http source of '{contract.name}'"
    try:
        while url is not None and stats["pages"] < page_rules.max_pages:
            body, response_headers = _get(contract, url, headers, stats)
            stats["pages"] += 1
            page = dig(body, source.records_path)
            if not isinstance(page, list):
                raise ExtractError(f"{_safe(url)}: no list of records at "
                                   f"'{source.records_path or '(the body)'}'")
            records.extend(r if isinstance(r, dict) else {"value": r} for r in page)
            current, url = url, None
            if kind is PaginationType.cursor:
                token = dig(body, page_rules.next_path)
                if token and page:
                    url = _with_params(source.url, {**params, token_param: token})
            elif kind in (PaginationType.offset, PaginationType.page):
                if len(page) >= page_rules.limit:
                    number += page_rules.limit if kind is PaginationType.offset else 1
                    url = _with_params(source.url, {**params, token_param: number})
            elif kind is PaginationType.link:
                match = _LINK_NEXT.search(response_headers.get("Link", "") or "")
                if match and page:
                    url = urllib.parse.urljoin(current, match.group(1))
    except ExtractError as exc:
        raise ExtractError(f"the {where} failed: {exc}; nothing was extracted and the cursor "
                           f"stays at {cursor!r}") from None
    field = source.cursor.field if source.cursor else None
    cursor_to = None
    if field:
        records = [r for r in records if _beyond(r.get(field), cursor)]
        values = [r.get(field) for r in records if r.get(field) is not None]
        cursor_to = cursor_text(max(values, key=lambda v: (isinstance(v, str), v))) if values else None

    def write(path: Any) -> None:
        with open(path, "w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")

    return Pulled(rows=len(records), write=write, cursor_to=cursor_to,
                  details={"url": _safe(first_url or source.url), "pages": stats["pages"],
                           "requests": stats["requests"], "retries": stats["retries"]})
