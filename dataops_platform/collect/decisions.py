"""What to do with each landed file: the file sensor's decision logic, as a pure function.

Kept free of Dagster and of the file system (hashing is passed in) so every case is a
plain unit test: new, unchanged, still being written, identical re-delivery, changed
content under the same name, files beyond this tick's hashing budget.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum

from dataops_platform.collect.landing import (
    HASH_CHARS,
    LandedFile,
    partition_key,
    split_partition_key,
)


class Action(str, Enum):
    ingest = "ingest"  # new content: register a partition and request a run
    wait = "wait"  # size or mtime still changing (or too fresh): look again next tick
    unchanged = "unchanged"  # same size and mtime as an already-decided observation
    duplicate = "duplicate"  # content identical to an already registered file
    deferred = "deferred"  # hashing budget of this tick used up; next tick


@dataclass(frozen=True)
class Observation:
    size: int
    mtime_ns: int
    content_hash: str | None = None  # None until the file was settled and hashed


@dataclass(frozen=True)
class Decision:
    relative_path: str
    action: Action
    partition_key: str | None = None
    replaces: str | None = None  # the partition of this path's previous content
    duplicate_of: str | None = None


@dataclass
class DatasetCursor:
    """Per-file last observation plus the content already registered (hash12 -> key)."""

    files: dict[str, Observation] = field(default_factory=dict)
    keys_by_hash: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "files": {p: [o.size, o.mtime_ns, o.content_hash] for p, o in self.files.items()},
            "hashes": dict(self.keys_by_hash),
        }

    @classmethod
    def from_json(cls, data: dict) -> DatasetCursor:
        return cls(
            files={p: Observation(*obs) for p, obs in data.get("files", {}).items()},
            keys_by_hash=dict(data.get("hashes", {})),
        )

    @classmethod
    def from_partition_keys(cls, keys: Iterable[str]) -> DatasetCursor:
        """Rebuild 'what is registered' from Dagster's partition list (no file history)."""
        return cls(keys_by_hash={k.rpartition("@")[2]: k for k in keys})


def decode_cursor(raw: str | None) -> dict[str, DatasetCursor]:
    if not raw:
        return {}
    data = json.loads(raw)
    return {name: DatasetCursor.from_json(d) for name, d in data.get("datasets", {}).items()}


def encode_cursor(cursors: dict[str, DatasetCursor]) -> str:
    return json.dumps(
        {"v": 1, "datasets": {n: c.to_json() for n, c in sorted(cursors.items())}},
        separators=(",", ":"),
    )


def decide(
    previous: DatasetCursor,
    landed: Iterable[LandedFile],
    hash_of: Callable[[str], str],
    *,
    now_ns: int,
    settle_ns: int,
    max_hashes: int,
) -> tuple[list[Decision], DatasetCursor]:
    """Decide per landed file; return the decisions and the merged cursor.

    A file is *settled* when its size and mtime equal last tick's observation, or when its
    mtime is older than ``settle_ns`` (it landed while nobody was looking). Only settled,
    new-or-changed files are hashed, at most ``max_hashes`` per call. Files that vanished
    keep their registered content, so re-delivering them later is still recognised.
    """
    files = dict(previous.files)
    keys_by_hash = dict(previous.keys_by_hash)
    decisions: list[Decision] = []
    budget = max_hashes

    for item in landed:
        path = item.relative_path
        before = files.get(path)
        same_stat = before is not None and (before.size, before.mtime_ns) == (
            item.size,
            item.mtime_ns,
        )
        if same_stat and before is not None and before.content_hash is not None:
            decisions.append(Decision(path, Action.unchanged))
            continue
        settled = same_stat or (now_ns - item.mtime_ns) >= settle_ns
        if not settled:
            files[path] = Observation(item.size, item.mtime_ns)
            decisions.append(Decision(path, Action.wait))
            continue
        if budget <= 0:
            decisions.append(Decision(path, Action.deferred))
            continue
        budget -= 1
        digest = hash_of(path)
        short = digest[:HASH_CHARS]
        files[path] = Observation(item.size, item.mtime_ns, digest)
        if short in keys_by_hash:
            decisions.append(Decision(path, Action.duplicate, duplicate_of=keys_by_hash[short]))
            continue
        key = partition_key(item.key_name, digest)
        same_file = split_partition_key(key)[0]
        replaces = next((k for k in keys_by_hash.values()
                         if split_partition_key(k)[0] == same_file), None)
        if replaces is not None:
            del keys_by_hash[split_partition_key(replaces)[1]]
        keys_by_hash[short] = key
        decisions.append(Decision(path, Action.ingest, partition_key=key, replaces=replaces))

    return decisions, DatasetCursor(files=files, keys_by_hash=keys_by_hash)
