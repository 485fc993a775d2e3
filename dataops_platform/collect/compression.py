"""Compressed and archived deliveries: ``.gz``, ``.zst``, ``.bz2``, ``.xz`` and ``.zip``.

A compressed file (``orders.csv.gz``) is one delivery; the lake keeps its bytes as delivered
and the readers see the decompressed text, streamed into a temporary file. A zip archive
holds one or more members; each member whose name fits the dataset's landing pattern is its
own delivery (its own partition, ledger and quarantine), named ``<archive>.zip!<member>``.
The lake keeps the archive as delivered beside each member's manifest.

The format is recognised by its magic bytes (then by its name), so a ``.csv`` that is really
gzip is read, and an archive the platform cannot open (7-Zip, RAR, tar, LZ4) fails with a
message naming it instead of an encoding error.
"""

from __future__ import annotations

import bz2
import fnmatch
import gzip
import hashlib
import lzma
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

MEMBER_SEP = "!"  # 'exports/2026.zip!orders.csv': member orders.csv of exports/2026.zip
_CHUNK = 1 << 20

# name -> (magic bytes, file suffixes)
SUPPORTED = {
    "gzip": (b"\x1f\x8b", (".gz", ".gzip")),
    "zstd": (b"\x28\xb5\x2f\xfd", (".zst", ".zstd")),
    "bzip2": (b"BZh", (".bz2",)),
    "xz": (b"\xfd7zXZ\x00", (".xz",)),
    "zip": (b"PK\x03\x04", (".zip",)),
}
UNSUPPORTED: dict[str, tuple[bytes | None, tuple[str, ...]]] = {
    "7-Zip archive": (b"7z\xbc\xaf\x27\x1c", (".7z",)),
    "RAR archive": (b"Rar!\x1a\x07", (".rar",)),
    "LZ4 frame": (b"\x04\x22\x4d\x18", (".lz4",)),
    "tar archive": (None, (".tar", ".tgz", ".tar.gz", ".tbz2")),
    "compress (.Z)": (b"\x1f\x9d", (".z",)),
}
SUPPORTED_TEXT = ".gz, .zst, .bz2, .xz (one compressed file) and .zip (one or many members)"


class CompressionError(ValueError):
    """A delivery is compressed or archived in a way the platform cannot read."""


def compressed_suffixes() -> list[str]:
    """Suffixes a landing pattern also accepts after its own (``*.csv`` -> ``*.csv.gz``)."""
    return [s for _, suffixes in (*SUPPORTED.values(), *UNSUPPORTED.values()) for s in suffixes
            if s not in (".zip", ".tar.gz", ".tgz", ".tbz2")] + [".zip"]


def archive_suffixes() -> list[str]:
    """Archives matched by name alone (their members are matched against the pattern)."""
    return [".zip", ".7z", ".rar", ".tar"]


def split_member(path: Path | str) -> tuple[Path, str | None]:
    """('x/a.zip!b.csv') -> (Path('x/a.zip'), 'b.csv'); a plain path -> (path, None)."""
    text = str(path)
    at = text.lower().find(".zip" + MEMBER_SEP)
    if at < 0:
        return Path(text), None
    return Path(text[:at + 4]), text[at + 5:]


def _tar(head: bytes) -> bool:
    return len(head) > 262 and head[257:262] == b"ustar"


def detect(path: Path) -> str | None:
    """The compression or archive format of ``path``: a SUPPORTED name, None for a plain file.

    Raises CompressionError for an archive or compression the platform cannot read."""
    with path.open("rb") as handle:
        head = handle.read(512)
    for name, (magic, _) in SUPPORTED.items():
        if head.startswith(magic):
            return name
    if _tar(head):
        raise CompressionError(f"{path.name} is a tar archive, which is not supported; "
                               f"deliver {SUPPORTED_TEXT}")
    lower = path.name.lower()
    for name, (signature, suffixes) in UNSUPPORTED.items():
        if (signature is not None and head.startswith(signature)) or lower.endswith(suffixes):
            raise CompressionError(f"{path.name} is a {name}, which is not supported; "
                                   f"deliver {SUPPORTED_TEXT}")
    for name, (_, suffixes) in SUPPORTED.items():
        if lower.endswith(suffixes) and head:
            raise CompressionError(f"{path.name} is named as {name} but is not {name} data "
                                   "(its first bytes do not match): the file is corrupt or misnamed")
    return None


def plain_name(name: str) -> str:
    """'orders.csv.gz' -> 'orders.csv': the name the readers see."""
    lower = name.lower()
    for _, (_, suffixes) in SUPPORTED.items():
        for suffix in suffixes:
            if lower.endswith(suffix) and suffix != ".zip":
                return name[: -len(suffix)]
    return name


def _open_stream(path: Path, fmt: str) -> BinaryIO:
    if fmt == "gzip":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if fmt == "bzip2":
        return bz2.open(path, "rb")  # type: ignore[return-value]
    if fmt == "xz":
        return lzma.open(path, "rb")  # type: ignore[return-value]
    raise CompressionError(f"{fmt} is not a stream compression")


def _unzstd(path: Path, target: Path) -> None:
    """Decompress every zstd frame of ``path``; a truncated last frame is an error (the
    library's stream reader would silently stop short)."""
    import zstandard

    with path.open("rb") as src, target.open("wb") as dst:
        dobj, in_frame = zstandard.ZstdDecompressor().decompressobj(), False
        while chunk := src.read(_CHUNK):
            while chunk:
                dst.write(dobj.decompress(chunk))
                in_frame, chunk = True, b""
                if dobj.eof:
                    chunk, in_frame = dobj.unused_data, False
                    dobj = zstandard.ZstdDecompressor().decompressobj()
        if in_frame:
            raise zstandard.ZstdError("the data ends inside a frame (truncated)")


def _corrupt(path: Path, fmt: str, exc: BaseException) -> CompressionError:
    return CompressionError(f"{path.name} is not valid {fmt} data ({type(exc).__name__}: {exc}); "
                            "the delivery is corrupt or truncated: deliver it again")


def _errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OSError, EOFError, zlib.error, lzma.LZMAError,
                                         zipfile.BadZipFile, zipfile.LargeZipFile]
    try:
        import zstandard

        errors.append(zstandard.ZstdError)
    except ImportError:  # pragma: no cover - zstandard is a dependency
        pass
    return tuple(errors)


def members(archive: Path, pattern: str = "*") -> list[str]:
    """The archive's file members whose base name matches ``pattern`` (in archive order)."""
    with zipfile.ZipFile(archive) as zf:
        return [i.filename for i in zf.infolist()
                if not i.is_dir() and not i.filename.startswith("__MACOSX/")
                and not Path(i.filename).name.startswith(".")
                and fnmatch.fnmatch(Path(i.filename).name, pattern)]


def member_sizes(archive: Path, pattern: str = "*") -> dict[str, int]:
    with zipfile.ZipFile(archive) as zf:
        wanted = set(members(archive, pattern))
        return {i.filename: i.file_size for i in zf.infolist() if i.filename in wanted}


def member_hash(archive: Path, member: str) -> str:
    """sha256 of one member's uncompressed bytes (its content, whatever the archive)."""
    digest = hashlib.sha256()
    try:
        with zipfile.ZipFile(archive) as zf, zf.open(member) as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except KeyError:
        raise CompressionError(f"{archive.name} has no member {member!r}") from None
    except _errors() as exc:
        raise _corrupt(archive, "zip", exc) from None
    return digest.hexdigest()


@contextmanager
def plain(path: Path, member: str | None = None) -> Iterator[Path]:
    """Yield a path to the delivery's uncompressed bytes: ``path`` itself when it is plain,
    else a temporary file (named without the compression suffix) removed afterwards.

    Raises CompressionError naming the format when it is unsupported or corrupt."""
    fmt = detect(path)
    if fmt is None and member is None:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="dataops-decompress-") as tmp:
        try:
            if fmt == "zip" or member is not None:
                if fmt != "zip":
                    raise CompressionError(f"{path.name} is not a zip archive (member {member!r})")
                with zipfile.ZipFile(path) as zf:
                    if member is None:  # one member expected: the archive as a whole
                        names = members(path)
                        if len(names) != 1:
                            raise CompressionError(
                                f"{path.name} holds {len(names)} members ({', '.join(names[:5])}); "
                                "each member is its own delivery: land the archive under the "
                                "dataset's landing folder so each member is registered")
                        member = names[0]
                    target = Path(tmp) / Path(member).name
                    with zf.open(member) as src, target.open("wb") as dst:
                        shutil.copyfileobj(src, dst, _CHUNK)
            elif fmt == "zstd":
                target = Path(tmp) / plain_name(path.name)
                _unzstd(path, target)
            else:
                assert fmt is not None
                target = Path(tmp) / plain_name(path.name)
                with _open_stream(path, fmt) as src, target.open("wb") as dst:
                    shutil.copyfileobj(src, dst, _CHUNK)
        except CompressionError:
            raise
        except KeyError:
            raise CompressionError(f"{path.name} has no member {member!r}") from None
        except _errors() as exc:
            raise _corrupt(path, fmt or "zip", exc) from None
        yield target
