"""The landing zone: which files belong to which dataset, and what their partition keys are.

A partition key names one delivered *version* of one file: ``<slug of the path>@<hash12>``.
The slug keeps keys free of characters that break Dagster backfills (commas, spaces);
the content hash makes a changed file a new partition and an identical re-delivery the same.

The landing root is a local folder (a ``Path``) or any fsspec URL (``s3://bucket/landing``,
``memory://...``, ``file:///srv/landing``; ``s3://`` needs the ``s3fs`` package): URL roots are
listed, statted and hashed through fsspec (``scan_fs``), local folders keep the checks only a
local file system allows (symbolic links, paths resolving outside the folder, zip members).
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from dataops_platform.collect import compression
from dataops_platform.contracts.model import Contract

HASH_CHARS = 12
MAX_SLUG = 120  # + '-<hash8>@<hash12>': a key stays far below the 255-byte name limit
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CHUNK = 1 << 20


Root = Path | str  # a local folder or an fsspec URL


def is_url(location: Root) -> bool:
    return isinstance(location, str) and "://" in location


def filesystem(location: Root) -> tuple[Any, str]:
    """(fsspec file system, path within it) of a local path or URL."""
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(str(location))
    return fs, path.rstrip("/") or "/"


def join(location: Root, *parts: str) -> Root:
    """``location / parts`` for a Path, '/'-joined for a URL."""
    if isinstance(location, Path):
        return location.joinpath(*parts)
    return "/".join([location.rstrip("/"), *parts])


def file_hash(path: Root) -> str:
    """sha256 of the file's bytes, streamed so a large file never sits in memory.

    A zip member's path (``a.zip!b.csv``) hashes the member's uncompressed bytes; a URL is
    read through fsspec."""
    if is_url(path):
        fs, inner = filesystem(path)
        digest = hashlib.sha256()
        with fs.open(inner, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        return digest.hexdigest()
    path = Path(path)
    archive, member = compression.split_member(path)
    if member is not None:
        return compression.member_hash(archive, member)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def slug(name: str) -> str:
    """A partition-key-safe, one-to-one form of a file's name within its dataset folder.

    Plain names stay as they are; a name that had to be changed (spaces, commas, nested
    folders, non-ASCII) gets a short hash of the original, so 'a b.csv' and 'a,b.csv' never
    share a key (and can never replace each other's rows).
    """
    safe = _UNSAFE.sub("_", name.replace("/", "__")).strip("_") or "file"
    if len(safe) > MAX_SLUG:  # the key names a lake folder: file systems cap names at 255
        safe = safe[:MAX_SLUG].rstrip("_.-") or "file"
    if safe != name:
        safe = f"{safe}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:8]}"
    return safe


def partition_key(name: str, content_hash: str) -> str:
    return f"{slug(name)}@{content_hash[:HASH_CHARS]}"


def landing_base(glob: str) -> str:
    """The folder part of a landing glob before its first wildcard ('orders/*.csv' -> 'orders')."""
    parts = []
    for part in glob.split("/")[:-1]:
        if any(ch in part for ch in "*?["):
            break
        parts.append(part)
    return "/".join(parts)


def split_partition_key(key: str) -> tuple[str, str]:
    """Return (slug, short hash) of a partition key."""
    name, _, short_hash = key.rpartition("@")
    if not name or len(short_hash) != HASH_CHARS:
        raise ValueError(f"'{key}' is not a landed-file partition key (<file>@<hash>)")
    return name, short_hash


def partitions_def_name(contract: Contract) -> str:
    return f"{contract.name}_files"


@dataclass(frozen=True)
class LandedFile:
    """A file on disk, as the sensor sees it: cheap stat facts only (no hashing here)."""

    relative_path: str  # relative to the landing root, with '/' separators
    size: int
    mtime_ns: int
    name: str = ""  # relative to the dataset's landing folder; names the partition

    @property
    def key_name(self) -> str:
        return self.name or self.relative_path


def _patterns(contract: Contract) -> tuple[list[str], str]:
    """The landing glob, its compressed variants and the folder's archives; the pattern a
    zip member's base name must match."""
    glob = contract.landing_glob
    if contract.lake_only:  # lake-only datasets keep archives whole, as files
        return [glob], "*"
    folder, _, base = glob.rpartition("/")
    prefix = f"{folder}/" if folder else ""
    patterns = [glob] + [glob + s for s in compression.compressed_suffixes()
                         if not glob.lower().endswith(s)]
    patterns += [f"{prefix}*{s}" for s in compression.archive_suffixes()]
    member_pattern = "*" if base.lower().endswith(".zip") else base
    return patterns, member_pattern


def _mtime_ns(info: dict) -> int:
    """Modification time from an fsspec ``info`` (local: mtime, S3: LastModified, memory:
    created)."""
    value = info.get("mtime") or info.get("LastModified") or info.get("created") or 0
    if isinstance(value, datetime):
        value = value.timestamp()
    return int(float(value) * 1e9)


def scan_fs(landing_root: str, contract: Contract) -> list[LandedFile]:
    """``scan`` for a landing zone behind an fsspec URL: list and stat, never open. Archives
    are listed as the files they are (their members are read from local folders only)."""
    fs, root = filesystem(landing_root)
    base = "/".join(filter(None, [root, landing_base(contract.landing_glob)]))
    patterns, _ = _patterns(contract)
    found = []
    for path in sorted({p for pattern in patterns for p in fs.glob(f"{root}/{pattern}")}):
        info = fs.info(path)
        if info.get("type") != "file" or path.rsplit("/", 1)[-1].startswith("."):
            continue  # editors and uploaders use dot-files while writing
        relative, name = path[len(root):].lstrip("/"), path[len(base):].lstrip("/")
        # a local file's exact mtime (fsspec's float would round it: the sensor compares them)
        mtime = Path(path).stat().st_mtime_ns if "file" in fs.protocol else _mtime_ns(info)
        found.append(LandedFile(relative, int(info.get("size") or 0), mtime, name))
    return found


def scan(landing_root: Root, contract: Contract) -> list[LandedFile]:
    """Stat the files matching the contract's landing glob; never opens a plain file.

    Compressed variants of the glob (``*.csv.gz``, ``*.csv.zst``...) and the folder's
    archives match too; each zip member matching the glob's file pattern is listed as
    its own delivery ``<archive>!<member>`` (an unreadable archive as itself, so its
    ingest fails with a message naming the problem). A URL root is scanned by ``scan_fs``.
    """
    if isinstance(landing_root, str):
        if is_url(landing_root):
            return scan_fs(landing_root, contract)
        landing_root = Path(landing_root)
    found: list[LandedFile] = []
    base = landing_root / landing_base(contract.landing_glob)
    inside = landing_root.resolve()
    patterns, member_pattern = _patterns(contract)
    paths = sorted({p for pattern in patterns for p in landing_root.glob(pattern)})
    for path in paths:
        # never followed: a symlink (checked before anything follows it) or a path that
        # resolves outside the landing folder is not a delivery (see ignored())
        if path.is_symlink() or not path.resolve().is_relative_to(inside):
            continue
        if not path.is_file() or path.name.startswith("."):
            continue  # editors and uploaders use dot-files while writing
        stat = path.stat()
        relative, name = path.relative_to(landing_root).as_posix(), path.relative_to(base).as_posix()
        if not contract.lake_only and path.suffix.lower() == ".zip":
            try:
                sizes = compression.member_sizes(path, member_pattern)
            except (OSError, zipfile.BadZipFile):
                sizes = None  # still being written, or corrupt: registered as itself
            if sizes is not None:
                sep = compression.MEMBER_SEP
                found.extend(LandedFile(f"{relative}{sep}{m}", size, stat.st_mtime_ns,
                                        f"{name}{sep}{m}") for m, size in sizes.items())
                continue
        found.append(LandedFile(relative, stat.st_size, stat.st_mtime_ns, name))
    return found


def ignored(landing_root: Path, contract: Contract) -> list[tuple[str, str]]:
    """Paths matching the contract's glob that ``scan`` does not take, with the reason — so
    nothing is skipped without a word."""
    found = []
    inside = landing_root.resolve()
    for path in sorted(landing_root.glob(contract.landing_glob)):
        relative = path.relative_to(landing_root).as_posix()
        if path.is_symlink():
            found.append((relative, "a symbolic link (never followed)"))
        elif not path.resolve().is_relative_to(inside):
            found.append((relative, "outside the landing folder"))
        elif path.is_dir():
            found.append((relative, "a folder, not a file"))
        elif path.name.startswith("."):
            found.append((relative, "a hidden file (a name starting with '.' is taken for one "
                                    "still being written; rename it to deliver it)"))
        elif not path.is_file():
            found.append((relative, "not a regular file"))
    return found


class LandedFileNotFound(Exception):
    """The file behind a partition is gone or has changed since it was registered."""


def resolve_partition(landing_root: Path, contract: Contract, key: str) -> tuple[Path, str]:
    """Find the file whose slug and content hash match ``key``; return (path, full hash)."""
    wanted_slug, short_hash = split_partition_key(key)
    candidates = [
        landing_root / f.relative_path
        for f in scan(landing_root, contract)
        if slug(f.key_name) == wanted_slug
    ]
    for path in candidates:
        digest = file_hash(path)
        if digest.startswith(short_hash):
            return path, digest
    if candidates:
        raise LandedFileNotFound(
            f"{candidates[0]} has changed since partition '{key}' was registered (content hash "
            f"no longer starts with {short_hash}). The new content is a new partition; this "
            "one can no longer be rebuilt from the landing folder."
        )
    raise LandedFileNotFound(
        f"no file in {landing_root} matching '{contract.landing_glob}' has the name of "
        f"partition '{key}'. Was it moved or deleted after it landed?"
    )
