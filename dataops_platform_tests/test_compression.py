"""Compressed and archived deliveries read by the same readers; the lake keeps what was delivered."""

import bz2
import gzip
import io
import lzma
import zipfile

import pytest
import zstandard

from dataops_platform.collect import compression, lake
from dataops_platform_tests.project_files import contracts_dir

CONTRACT = """
name: flights
description: Flights as exported by the airline, often compressed.
owner: ops
source:
  format: csv
primary_key: [flight]
columns:
  - {name: flight, nullable: false}
  - {name: minutes, type: integer, min: 0}
"""


def _csv(*rows):
    return "flight,minutes\n" + "".join(f"{f},{m}\n" for f, m in rows)


def _zip(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture
def flights(settings):
    contracts_dir(settings).clear()
    (contracts_dir(settings) / "flights.yaml").write_text(CONTRACT)
    return settings


def _ledger(query):
    return dict(query("""
        select r._partition, [r.n, coalesce(c.n, 0), coalesce(q.n, 0)] from
          (select _partition, count(*) n from raw.flights group by 1) r
          left join (select _partition, count(*) n from cleaned.flights group by 1) c using (_partition)
          left join (select _partition, count(*) n from quarantine.flights group by 1) q using (_partition)
    """))


@pytest.mark.parametrize("suffix, compress", [
    (".gz", gzip.compress), (".zst", lambda b: zstandard.ZstdCompressor().compress(b)),
    (".bz2", bz2.compress), (".xz", lzma.compress),
    (".zip", lambda b: _zip({"flights.csv": b})),
])
def test_each_format_is_read_and_the_lake_keeps_the_delivered_bytes(
        flights, land, one_pass, query, suffix, compress):
    delivered = compress(_csv(("LH1", 50), ("LH2", -3)).encode())
    land(f"flights/flights.csv{suffix}", delivered)
    result = one_pass()
    assert result.ok, result.failures
    assert query("select flight, minutes from cleaned.flights") == [("LH1", 50)]
    assert query("select \"column\", rule from quarantine.flights") == [("minutes", "min")]
    (entry,) = lake.entries(flights.lake_dir, "flights")
    assert entry.path.read_bytes() == delivered  # the lake keeps the bytes as delivered
    assert entry.file_name == f"flights.csv{suffix}"
    assert list(_ledger(query).values()) == [[2, 1, 1]]


def test_each_member_of_a_zip_is_its_own_delivery_with_its_own_ledger(flights, land, one_pass, query):
    land("flights/2026-11.zip", _zip({
        "jan.csv": _csv(("A1", 1), ("A2", 2)),
        "feb/feb.csv": _csv(("B1", 1), ("B2", -1), ("B3", 3)),
        "README.txt": "not a csv: not a delivery of this dataset",
        "__MACOSX/._jan.csv": "resource fork",
    }))
    result = one_pass()
    assert result.ok, result.failures
    ledger = _ledger(query)
    assert sorted(ledger.values()) == [[2, 2, 0], [3, 2, 1]]
    assert all(key.startswith("2026-11.zip_") for key in ledger)
    sources = sorted(r[0] for r in query("select distinct _source_file from raw.flights"))
    assert sources == ["flights/2026-11.zip!feb/feb.csv", "flights/2026-11.zip!jan.csv"]
    entries = list(lake.entries(flights.lake_dir, "flights"))
    assert sorted(e.member for e in entries) == ["feb/feb.csv", "jan.csv"]
    archive = (flights.landing_dir / "flights/2026-11.zip").read_bytes()
    assert {e.path.read_bytes() for e in entries} == {archive}
    # the bad row names its member
    assert query("select _source_file from quarantine.flights") == [
        ("flights/2026-11.zip!feb/feb.csv",)]

    assert one_pass().ok  # the same archive again: nothing new
    assert sorted(_ledger(query).values()) == [[2, 2, 0], [3, 2, 1]]


@pytest.mark.parametrize("name, content, expected", [
    # mtime=0: the gzip header holds a timestamp, and the parameter (its test id) must be
    # the same in every xdist worker, or collection differs between them and the run fails
    ("flights/broken.csv.gz", gzip.compress(_csv(("A", 1)).encode(), mtime=0)[:-12],
     "not valid gzip data"),
    ("flights/broken.csv.zst", zstandard.ZstdCompressor().compress(_csv(("A", 1)).encode() * 50)[:-9],
     "not valid zstd data"),
    ("flights/fake.csv.bz2", b"flight,minutes\nA,1\n", "named as bzip2 but is not bzip2 data"),
    ("flights/export.csv.rar", b"Rar!\x1a\x07\x00rest", "RAR archive, which is not supported"),
    ("flights/export.7z", b"7z\xbc\xaf\x27\x1c rest", "7-Zip archive, which is not supported"),
    ("flights/export.csv.zip", b"PK\x03\x04 truncated zip", "not valid zip data"),
])
def test_corrupt_or_unsupported_deliveries_fail_with_a_message_naming_the_format(
        flights, land, one_pass, query, name, content, expected):
    land("flights/good.csv", _csv(("OK", 1)))
    land(name, content)
    result = one_pass()
    assert not result.ok
    (failure,) = result.failures
    assert name in failure and expected in failure, failure
    assert "utf-8" not in failure and "Traceback" not in failure
    assert query("select flight from cleaned.flights") == [("OK",)]


def test_detect_recognises_compression_by_its_bytes_not_its_name(tmp_path):
    disguised = tmp_path / "flights.csv"
    disguised.write_bytes(gzip.compress(_csv(("A", 1)).encode()))
    assert compression.detect(disguised) == "gzip"
    with compression.plain(disguised) as path:
        assert path.read_text() == _csv(("A", 1))
    assert compression.split_member("x/a.zip!b/c.csv") == (compression.Path("x/a.zip"), "b/c.csv")
