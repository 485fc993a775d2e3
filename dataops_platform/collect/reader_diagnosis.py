"""Name the real cause and line of a file the readers cannot read.

Decoders and DuckDB's CSV parser report what failed where they noticed it: a latin-1 byte
in row 3 of a file declared utf-8 surfaced as "the header is not valid utf-8" (the first
8 KB are decoded at once), and mixed line endings as "the CSV parser state machine reached
an invalid state", with no line. These functions look at the bytes again — streamed, so a
large file never sits in memory — and say which line and byte is the problem.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

CHUNK = 1 << 20
_ENDINGS = re.compile(rb"\r\n|\r|\n")
_NAMES = {b"\r\n": "\\r\\n (Windows)", b"\n": "\\n (Unix)", b"\r": "\\r (old Mac)"}


def _ascii_compatible(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).encode("\n")[0] == b"\n"
    except LookupError:
        return False


def first_undecodable(path: Path, encoding: str) -> str | None:
    """'line 3, byte 27 (0xf6) is not valid utf-8: ...' for the first byte of the file that
    does not decode in ``encoding``; None if the whole file decodes."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    except LookupError:
        return None
    if not _ascii_compatible(encoding):  # utf-16/32: no lines before decoding; the byte
        offset = 0
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    return (f"byte {offset + exc.start} is not valid {encoding}: {exc.reason} "
                            f"(the contract declares encoding {encoding})")
                offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return f"the file ends inside a character: not valid {encoding} ({exc.reason})"
        return None
    offset = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):  # lines end at b"\n"
            try:
                line.decode(encoding)
            except UnicodeDecodeError as exc:
                bad = line[exc.start:exc.start + 1].hex()
                return (f"line {number}, byte {offset + exc.start} (0x{bad}) is not valid "
                        f"{encoding}: {exc.reason} (the contract declares encoding {encoding}; "
                        "is the file latin-1 or cp1252?)")
            offset += len(line)
    return None


def mixed_line_endings(path: Path) -> str | None:
    """'line 2 ends with \\n but line 1 with \\r\\n ...' for a file mixing line-ending
    styles (DuckDB reads one style per file); None if it uses one style."""
    first: bytes | None = None
    line = 1
    carry = b""
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(CHUNK)
            data = carry + chunk
            carry = b""
            if chunk and data.endswith(b"\r"):  # a \r\n may be split over two chunks
                data, carry = data[:-1], b"\r"
            for match in _ENDINGS.finditer(data):
                ending = match.group()
                if first is None:
                    first = ending
                elif ending != first:
                    return (f"line {line} ends with {_NAMES[ending]} but line 1 with "
                            f"{_NAMES[first]}: mixed line endings (a file is read with one "
                            "style; convert it, e.g. with dos2unix)")
                line += 1
            if not chunk:
                return None
