"""The alerts' state file: the shared cursor, the outbox of undelivered alerts, the ids of
recently delivered ones.

``alerts_state.json`` sits beside ``alerts.jsonl``. The sensor and ``dataops run`` both
take an exclusive lock on it (``alerts_state.lock``) for a whole collect-and-deliver step,
so they never read the same failure twice. Writes are atomic (temp file, fsync, rename).
An alert waits in the outbox per channel until that channel took it; each attempt is
retried with exponential backoff inside the step, and what still fails stays for the next.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataops_platform.automation.alerts import Alert, Channel

STATE_FILE = "alerts_state.json"
REMEMBERED = 5000  # delivered alert ids kept to refuse a second delivery
ATTEMPTS = 3  # per channel and step; the next step (tick, run) tries again
BACKOFF_S = 0.5  # first pause between attempts, doubled each time

_sleep: Callable[[float], None] = time.sleep  # tests replace it: no timing in tests


def state_path(alerts_log: Path) -> Path:
    return alerts_log.with_name(STATE_FILE)


class State(dict):
    """``cursor``, ``outbox`` (list of {alert, channels, attempts, last_error}), ``sent``."""

    path: Path

    def save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(dict(self), handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)


def _load(path: Path) -> State:
    state = State(cursor={}, outbox=[], sent=[])
    if path.exists():
        try:
            state.update(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            broken = path.with_name(path.name + f".unreadable-{int(time.time())}")
            os.replace(path, broken)  # kept for a person; alerting starts over from scratch
    state.path = path
    return state


@contextmanager
def locked_state(alerts_log: Path) -> Iterator[State]:
    path = state_path(alerts_log)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_suffix(".lock").open("a+") as lock:
        try:
            import fcntl

            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - not POSIX: one process at a time by convention
            pass
        yield _load(path)


def enqueue(state: State, alerts: Sequence[Alert], channel_names: Sequence[str]) -> None:
    """Put new alerts in the outbox, one entry per alert, pending on every channel —
    unless the same alert id was delivered or queued already."""
    known = set(state["sent"]) | {e["alert"].get("id") for e in state["outbox"]}
    for alert in alerts:
        if alert.id and alert.id in known:
            continue
        known.add(alert.id)
        state["outbox"].append({"alert": asdict(alert), "channels": list(channel_names),
                                "attempts": 0, "last_error": None})


def _send_with_retry(channel: Channel, alert: Alert) -> str | None:
    """None when sent, else the last error (after ``ATTEMPTS`` tries with backoff)."""
    error = None
    for attempt in range(ATTEMPTS):
        if attempt:
            _sleep(BACKOFF_S * 2 ** (attempt - 1))
        try:
            channel.send(alert)
            return None
        except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts are OSErrors
            error = f"{type(exc).__name__}: {exc}"
    return error


def deliver(state: State, configured: Mapping[str, Channel], log: Callable[[str], None]) -> None:
    """Send every outbox entry to each channel it is pending on. A channel that fails is
    not tried again in this step (the rest of its entries wait too)."""
    from dataops_platform.automation.alerts import Alert

    down: dict[str, str] = {}
    kept: list[dict[str, Any]] = []
    for entry in state["outbox"]:
        alert = Alert(**entry["alert"])
        pending = []
        for name in entry["channels"]:
            channel = configured.get(name)
            if channel is None:
                continue  # no longer configured (e.g. the webhook URL was unset)
            error = down.get(name) or _send_with_retry(channel, alert)
            if error is not None:
                down.setdefault(name, error)
                pending.append(name)
                entry["last_error"] = f"{name}: {error}"
        entry["attempts"] += 1
        entry["channels"] = pending
        if pending:
            kept.append(entry)
        elif alert.id:
            state["sent"].append(alert.id)
    for name, error in down.items():
        waiting = sum(name in e["channels"] for e in kept)
        log(f"alerts: {waiting} alert(s) not delivered to {name} ({error}); kept for the next try")
    state["outbox"] = kept
    state["sent"] = state["sent"][-REMEMBERED:]


def pending_count(alerts_log: Path) -> int:
    path = state_path(alerts_log)
    try:
        return len(json.loads(path.read_text(encoding="utf-8")).get("outbox", []))
    except (OSError, ValueError):
        return 0
