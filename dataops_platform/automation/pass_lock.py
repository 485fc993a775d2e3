"""One headless pass at a time per home: ``dataops run`` / ``dataops demo`` take a lock.

Two passes on the same home at once would both register the same landed files, both find
the same partitions pending and process every file twice (and race on the marts' candidate
versions). The pass holds an exclusive ``fcntl.flock`` on ``<home>/.dataops-pass.lock`` for
its whole length; a second pass waits for it — saying so once on stderr, with the holder's
pid — and then finds the files already processed. The kernel releases the lock when the
holder exits, however it exits (killed included), so a crash never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".dataops-pass.lock"


def lock_path(home: Path) -> Path:
    return home / LOCK_NAME


def holder_pid(path: Path) -> int | None:
    """The pid the current holder wrote into the lock file (None if unknown)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def waiting_message(path: Path, pid: int | None) -> str:
    who = f"pid {pid}" if pid else "another process"
    return (f"another dataops pass ({who}) is running on this home; waiting for it to "
            f"finish (lock {path})")


@contextmanager
def pass_lock(home: Path, say: Callable[[str], None]) -> Iterator[None]:
    """Hold the home's pass lock for the block; if another pass holds it, ``say`` so once
    and wait for it."""
    path = lock_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(waiting_message(path, holder_pid(path)))
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
