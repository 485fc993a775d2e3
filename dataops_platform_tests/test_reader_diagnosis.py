"""Reader errors name the real cause and line (hostile corpus, issue 16): a latin-1 byte
rows after the header of a file declared utf-8, mixed line endings."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from dataops_platform.collect.reader_diagnosis import first_undecodable, mixed_line_endings
from dataops_platform.collect.readers import ReadError, stage_file
from dataops_platform.contracts.model import Contract
from dataops_platform_tests.hostile_helpers import THINGS

HEADER = b"id,label,price\n"


def _stage(tmp_path: Path, content: bytes) -> str:
    path = tmp_path / "things.csv"
    path.write_bytes(content)
    conn = duckdb.connect()
    try:
        with pytest.raises(ReadError) as info:
            stage_file(conn, Contract.model_validate(THINGS), path, "staged", {"_partition": "'p'"})
    finally:
        conn.close()
    assert "Traceback" not in str(info.value) and str(path) in str(info.value)
    return info.value.detail


def test_a_latin1_byte_in_a_utf8_file_is_named_by_line_and_byte(tmp_path):
    # row 3 (file line 4) holds 'Köln' in latin-1; the header itself is fine
    content = HEADER + b"1,a,1\n2,b,2\n3,K\xf6ln,3\n"
    detail = _stage(tmp_path, content)
    offset = content.index(b"\xf6")
    assert detail.startswith(f"line 4, byte {offset} (0xf6) is not valid utf-8"), detail
    assert "header" not in detail


def test_a_latin1_byte_far_into_a_large_file_is_named_too(tmp_path):
    rows = b"".join(b"%d,label,1\n" % i for i in range(20_000))  # past the decoder's read-ahead
    content = HEADER + rows + b"20000,Gr\xfc\xdfe,1\n"
    detail = _stage(tmp_path, content)
    offset = content.index(b"\xfc")
    assert detail.startswith(f"line 20002, byte {offset} (0xfc)"), detail


def test_mixed_line_endings_name_the_first_line_that_differs(tmp_path):
    detail = _stage(tmp_path, b"id,label,price\r\n1,a,1\r\n2,b,2\n3,c,3\r\n")
    assert detail.startswith("line 3 ends with \\n (Unix) but line 1 with \\r\\n (Windows)"), \
        detail


def test_the_diagnosis_is_silent_on_good_files_and_handles_split_crlf(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_bytes(HEADER + "1,Köln,1\n".encode())
    assert first_undecodable(path, "utf-8") is None and mixed_line_endings(path) is None
    from dataops_platform.collect import reader_diagnosis

    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(b"a\r\n" * 10)
    original = reader_diagnosis.CHUNK
    reader_diagnosis.CHUNK = 2  # every \r\n is split over two reads
    try:
        assert mixed_line_endings(crlf) is None
    finally:
        reader_diagnosis.CHUNK = original
    utf16 = tmp_path / "u16.csv"
    utf16.write_bytes("id\n1\n".encode("utf-16-le") + b"\x00\xd8")  # a lone surrogate half
    assert first_undecodable(utf16, "utf-16-le") is not None
