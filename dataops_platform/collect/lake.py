"""The lake: every landed file preserved immutably, so any table can be rebuilt from it.

Layout (under ``$DATAOPS_HOME/lake``)::

    <dataset>/arrival_date=YYYY-MM-DD/<partition key>/<original file name>
    <dataset>/arrival_date=YYYY-MM-DD/<partition key>/_manifest.json

The copy keeps the original bytes (and name, so readers see the same extension); the
manifest records where it came from and when it arrived. A copy is written once per
partition (temp name, fsync, atomic rename, then read-only) and never rewritten: an
existing copy with the same hash is kept, with its original arrival time. The landing
folder can then be emptied; ``raw`` reads the lake copy and ``dataops rebuild`` rebuilds
every table from the lake alone.

The lake root is a local folder or an fsspec URL (``s3://bucket/lake``; see
``collect.landing``): listing, reading manifests and preserving go through fsspec for URLs
(an object store's single-object write is atomic, so no temp name there).
"""

from __future__ import annotations

import json
import mimetypes
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from dataops_platform.collect import compression
from dataops_platform.collect.landing import Root, file_hash, filesystem, is_url, join

MANIFEST = "_manifest.json"


class LakeError(Exception):
    """A lake copy is missing or does not match its manifest."""


@dataclass(frozen=True)
class LakeEntry:
    """One preserved file: what the manifest beside the copy says."""

    dataset: str
    partition_key: str
    landing_path: str  # relative to the landing root, as it was delivered
    file_name: str
    size: int
    sha256: str
    media_type: str
    arrived_at: str  # ISO-8601 UTC, naive (the warehouse's timestamp convention)
    folder: str = ""  # absolute folder holding the copy and the manifest (not stored)
    member: str = ""  # a zip member delivered inside the archive kept as ``file_name``
    details: dict | None = None  # e.g. a database extraction's query, cursor range, rows

    @property
    def path(self) -> Path:
        return Path(self.folder) / self.file_name

    @property
    def location(self) -> Root:
        """The copy's path, or its URL when the lake is behind fsspec."""
        return join(self.folder, self.file_name) if is_url(self.folder) else self.path

    @property
    def arrival(self) -> datetime:
        return datetime.fromisoformat(self.arrived_at)

    def manifest(self) -> dict:
        data = asdict(self)
        data.pop("folder")
        for optional in ("member", "details"):
            if not data[optional]:
                data.pop(optional)
        return data


_EXTRA_TYPES = {".log": "text/plain", ".ndjson": "application/x-ndjson",
                ".jsonl": "application/x-ndjson", ".parquet": "application/vnd.apache.parquet"}


def media_type(name: str) -> str:
    """The file's media type from its name (the platform's own formats included)."""
    suffix = Path(name).suffix.lower()
    if suffix in _EXTRA_TYPES:
        return _EXTRA_TYPES[suffix]
    guessed, encoding = mimetypes.guess_type(name)
    if encoding == "gzip":
        return "application/gzip"
    return guessed or "application/octet-stream"


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _read(manifest: Root) -> LakeEntry:
    if is_url(manifest):
        fs, inner = filesystem(manifest)
        data = json.loads(fs.cat_file(inner).decode("utf-8"))
        return LakeEntry(**data, folder=str(manifest).rsplit("/", 1)[0])
    manifest = Path(manifest)
    data = json.loads(manifest.read_text(encoding="utf-8"))
    return LakeEntry(**data, folder=str(manifest.parent))


def _glob(folder: Root, pattern: str) -> list[Root]:
    """``folder.glob(pattern)`` for a local folder or an fsspec URL (URLs back)."""
    if not is_url(folder):
        return list(Path(folder).glob(pattern))
    fs, inner = filesystem(folder)
    return [fs.unstrip_protocol(p) for p in fs.glob(f"{inner}/{pattern}")]


def _parent_name(location: Root) -> str:
    return Path(location).parent.name if isinstance(location, Path) else location.rsplit("/", 2)[-2]


RETIRED = "_retired"  # lake/<dataset>/_retired/<partition key>.json: retired deliveries


def retired_keys(lake_dir: Root, dataset: str) -> set[str]:
    """Partitions retired with `dataops files discard` (their copies are kept, not read)."""
    return {str(p).rsplit("/", 1)[-1].removesuffix(".json")
            for p in _glob(join(lake_dir, dataset, RETIRED), "*.json")}


def mark_retired(lake_dir: Path, dataset: str, key: str, record: dict) -> Path:
    """Record the retirement beside the dataset's lake folders (atomic write)."""
    folder = lake_dir / dataset / RETIRED
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{key}.json"
    temp = folder / f".{key}.json.tmp-{os.getpid()}"
    temp.write_text(json.dumps(record, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(temp, target)
    return target


def entries(lake_dir: Root, dataset: str) -> Iterator[LakeEntry]:
    """Every preserved (not retired) file of ``dataset``, oldest arrival first."""
    retired = retired_keys(lake_dir, dataset)
    found = [_read(m) for m in _glob(join(lake_dir, dataset), f"arrival_date=*/*/{MANIFEST}")
             if _parent_name(m) not in retired]
    yield from sorted(found, key=lambda e: (e.arrived_at, e.partition_key))


def find(lake_dir: Root, dataset: str, key: str, *, retired: bool = False) -> LakeEntry | None:
    """The lake entry of one partition, if the file was preserved (and is not retired)."""
    if not retired and key in retired_keys(lake_dir, dataset):
        return None
    for manifest in _glob(join(lake_dir, dataset), f"arrival_date=*/{key}/{MANIFEST}"):
        return _read(manifest)
    return None


def _write_once(target: Path, write: Callable[[BinaryIO], object]) -> None:
    temp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    with temp.open("wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, target)
    target.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def preserve(lake_dir: Root, dataset: str, key: str, source: Root, landing_path: str,
             digest: str, *, arrived_at: datetime | None = None,
             details: dict | None = None) -> LakeEntry:
    """Copy ``source`` into the lake under ``key`` (idempotent) and return its entry.

    A zip member (``a.zip!b.csv``) keeps the whole archive as delivered: ``digest`` is then
    the member's hash (its partition key) and the entry records the archive's own hash."""
    if is_url(lake_dir) or is_url(source):
        return _preserve_fs(lake_dir, dataset, key, source, landing_path, digest,
                            arrived_at=arrived_at, details=details)
    source, member = compression.split_member(Path(source))
    if member is not None:
        details = {**(details or {}), "member_sha256": digest}
        digest = file_hash(source)
    existing = find(lake_dir, dataset, key)
    if existing is not None and existing.path.exists() and existing.sha256 == digest:
        return existing
    arrival = arrived_at or _utcnow()
    folder = Path(lake_dir) / dataset / f"arrival_date={arrival.date().isoformat()}" / key
    if existing is not None:  # a damaged copy: put it back where it was recorded
        folder, arrival = Path(existing.folder), existing.arrival
    folder.mkdir(parents=True, exist_ok=True)
    entry = LakeEntry(dataset=dataset, partition_key=key, landing_path=landing_path,
                      file_name=source.name, size=source.stat().st_size, sha256=digest,
                      media_type=media_type(source.name),
                      arrived_at=arrival.isoformat(timespec="microseconds"), folder=str(folder),
                      member=member or "", details=details)
    copy = folder / source.name
    if copy.exists():
        copy.chmod(stat.S_IRUSR | stat.S_IWUSR)
    with source.open("rb") as src:
        _write_once(copy, lambda dst: shutil.copyfileobj(src, dst, 1 << 20))
    if file_hash(copy) != digest:
        raise LakeError(f"{source} changed while it was copied into the lake; it will be "
                        "taken again when it has settled")
    body = json.dumps(entry.manifest(), indent=2, sort_keys=True).encode("utf-8")
    manifest = folder / MANIFEST
    if manifest.exists():
        manifest.chmod(stat.S_IRUSR | stat.S_IWUSR)
    _write_once(manifest, lambda dst: dst.write(body))
    return entry


def _preserve_fs(lake_dir: Root, dataset: str, key: str, source: Root, landing_path: str,
                 digest: str, *, arrived_at: datetime | None, details: dict | None) -> LakeEntry:
    """``preserve`` when the lake or the delivery is behind an fsspec URL (whole files)."""
    existing = find(lake_dir, dataset, key)
    if existing is not None and file_hash(existing.location) == existing.sha256 == digest:
        return existing
    arrival = existing.arrival if existing else (arrived_at or _utcnow())
    folder = existing.folder if existing else str(
        join(lake_dir, dataset, f"arrival_date={arrival.date().isoformat()}", key))
    name = str(source).rsplit("/", 1)[-1]
    src_fs, src_path = filesystem(source)
    dst_fs, dst_folder = filesystem(folder)
    dst_fs.makedirs(dst_folder, exist_ok=True)
    with src_fs.open(src_path, "rb") as src, dst_fs.open(f"{dst_folder}/{name}", "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    entry = LakeEntry(dataset=dataset, partition_key=key, landing_path=landing_path,
                      file_name=name, size=int(src_fs.size(src_path)), sha256=digest,
                      media_type=media_type(name),
                      arrived_at=arrival.isoformat(timespec="microseconds"), folder=folder,
                      details=details)
    if file_hash(entry.location if is_url(folder) else Path(folder) / name) != digest:
        raise LakeError(f"{source} changed while it was copied into the lake; it will be "
                        "taken again when it has settled")
    dst_fs.pipe_file(f"{dst_folder}/{MANIFEST}",
                     json.dumps(entry.manifest(), indent=2, sort_keys=True).encode("utf-8"))
    return entry


def verify(entry: LakeEntry) -> str | None:
    """None if the copy exists with the recorded hash, else what is wrong."""
    if not entry.path.exists():
        return f"the lake copy {entry.path} is missing"
    actual = file_hash(entry.path)
    if actual != entry.sha256:
        return f"the lake copy {entry.path} has hash {actual[:12]}, not {entry.sha256[:12]}"
    return None


def remove(entry: LakeEntry) -> None:
    """Delete one preserved file and its manifest (retention); empty folders go too."""
    folder = Path(entry.folder)
    if folder.exists():
        for child in folder.iterdir():
            child.chmod(stat.S_IRUSR | stat.S_IWUSR)
        folder.chmod(stat.S_IRWXU)
        shutil.rmtree(folder)
    parent = folder.parent
    if parent.exists() and not any(parent.iterdir()):
        parent.rmdir()
