"""What to do with each landed file: the file sensor's decision logic, as a pure function.

Kept free of Dagster and of the file system (hashing is passed in) so every case is a
plain unit test: new, unchanged, still being written, identical re-delivery, changed
content under the same name, files beyond this tick's hashing budget.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from dataops_platform.collect.landing import (
    HASH_CHARS,
    LandedFile,
    partition_key,
    split_partition_key,
)

CURSOR_VERSION = 2  # 1 kept every hash ever registered: it grew forever


class Action(str, Enum):
    ingest = "ingest"  # new content: register a partition and request a run
    wait = "wait"  # size or mtime still changing (or too fresh): look again next tick
    unchanged = "unchanged"  # this file's own content is registered already
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
    # the file as seen now: a run key names one delivery (size and mtime), so the same
    # content delivered again after other content replaced it (A -> B -> A) gets its run
    observed: Observation | None = field(default=None, compare=False)
    newly_hashed: bool = field(default=False, compare=False)  # read this time (else cached)
    registered_as: str | None = field(default=None, compare=False)  # unchanged: its partition


@dataclass
class DatasetCursor:
    """What a dataset's files looked like last time, and what content is registered.

    Only ``files`` is persisted, and only for files still in the landing zone, so the
    cursor is bounded by what has landed, not by history. ``keys_by_hash`` (hash12 ->
    partition key) is the instance's dynamic partitions — the one record of what is
    registered, shared by the sensor and ``dataops run`` — rebuilt on every evaluation.
    """

    files: dict[str, Observation] = field(default_factory=dict)
    keys_by_hash: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"files": {p: [o.size, o.mtime_ns,
                              o.content_hash[:HASH_CHARS] if o.content_hash else None]
                          for p, o in sorted(self.files.items())}}

    @classmethod
    def from_json(cls, data: dict) -> DatasetCursor:
        return cls(files={p: Observation(*obs) for p, obs in data.get("files", {}).items()})

    @classmethod
    def from_partition_keys(cls, keys: Iterable[str],
                            files: dict[str, Observation] | None = None) -> DatasetCursor:
        """What is registered, from Dagster's partition list, with last time's observations."""
        return cls(files=dict(files or {}), keys_by_hash={k.rpartition("@")[2]: k for k in keys})


def decode_cursor(raw: str | None) -> dict[str, DatasetCursor]:
    """Observations per dataset; a cursor of an older format is dropped (files are then
    hashed once more, and their registered content is still recognised)."""
    if not raw:
        return {}
    data = json.loads(raw)
    if data.get("v") != CURSOR_VERSION:
        return {}
    return {name: DatasetCursor.from_json(d) for name, d in data.get("datasets", {}).items()}


def encode_cursor(cursors: dict[str, DatasetCursor]) -> str:
    return json.dumps(
        {"v": CURSOR_VERSION, "datasets": {n: c.to_json() for n, c in sorted(cursors.items())}},
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
    mtime is older than ``settle_ns`` (it landed while nobody was looking). Only settled
    files whose content is not known yet are hashed, at most ``max_hashes`` per call. The
    decision then depends on the content alone, against what is registered now: the
    file's own registered content is ``unchanged``, another file's is a ``duplicate``,
    content registered nowhere (new, or its partition was replaced, retired or pruned
    since) is ingested. Files that left the landing zone leave the cursor.
    """
    keys_by_hash = dict(previous.keys_by_hash)
    files: dict[str, Observation] = {}
    decisions: list[Decision] = []
    budget = max_hashes

    for item in landed:
        path = item.relative_path
        before = previous.files.get(path)
        same_stat = before is not None and (before.size, before.mtime_ns) == (
            item.size,
            item.mtime_ns,
        )
        if same_stat and before is not None and before.content_hash is not None:
            short, hashed = before.content_hash[:HASH_CHARS], False
        else:
            settled = same_stat or (now_ns - item.mtime_ns) >= settle_ns
            if not settled:
                files[path] = Observation(item.size, item.mtime_ns)
                decisions.append(Decision(path, Action.wait))
                continue
            if budget <= 0:
                if before is not None:
                    files[path] = before
                decisions.append(Decision(path, Action.deferred))
                continue
            budget -= 1
            short, hashed = hash_of(path)[:HASH_CHARS], True
        seen = Observation(item.size, item.mtime_ns, short)
        files[path] = seen
        own = partition_key(item.key_name, short)
        registered = keys_by_hash.get(short)
        if registered == own:
            decisions.append(Decision(path, Action.unchanged, registered_as=own,
                                      observed=seen, newly_hashed=hashed))
            continue
        if registered is not None:
            decisions.append(Decision(path, Action.duplicate, duplicate_of=registered,
                                      observed=seen, newly_hashed=hashed))
            continue
        same_file = split_partition_key(own)[0]
        replaces = next((k for k in keys_by_hash.values()
                         if split_partition_key(k)[0] == same_file), None)
        if replaces is not None:
            del keys_by_hash[split_partition_key(replaces)[1]]
        keys_by_hash[short] = own
        decisions.append(Decision(path, Action.ingest, partition_key=own, replaces=replaces,
                                  observed=seen, newly_hashed=hashed))

    return decisions, DatasetCursor(files=files, keys_by_hash=keys_by_hash)


MAX_FILES_PER_RUN = 100  # a run's files: beyond this a batch is split (blast radius, run time)
MAX_BYTES_PER_RUN = 1 << 30  # ~1 GiB of files per run; a bigger file is a run of its own


def batches(keys: Sequence[str], order: Sequence[str], *,
            sizes: Mapping[str, int] | None = None, max_files: int = MAX_FILES_PER_RUN,
            max_bytes: int = MAX_BYTES_PER_RUN) -> list[list[str]]:
    """Group partition keys into runs of files processed together.

    A run covers a partition *range*, so a batch holds only keys that are consecutive in
    ``order`` (the dataset's partitions as Dagster orders them: by registration); keys
    not in ``order`` go alone. At most ``max_files`` keys and, where ``sizes`` knows them,
    about ``max_bytes`` per batch. Files are still processed one by one inside a run, so
    the limits bound a run's duration and what one failure costs, not memory.
    """
    position = {key: i for i, key in enumerate(order)}
    out: list[list[str]] = []
    weight = 0
    last = -2
    for key in sorted(keys, key=lambda k: position.get(k, len(position))):
        size = (sizes or {}).get(key, 0)
        at = position.get(key)
        if (at is not None and out and at == last + 1 and len(out[-1]) < max_files
                and weight + size <= max_bytes):
            out[-1].append(key)
            weight += size
        else:
            out.append([key])
            weight = size
        last = at if at is not None else -2
    return out
