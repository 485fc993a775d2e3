"""The landing zone and the lake behind fsspec URLs (what `s3://` uses in production), tested
with fsspec's in-memory file system and `file://` URLs over a local folder."""

from __future__ import annotations

import hashlib
import uuid

import fsspec
import pytest

from dataops_platform.collect import lake
from dataops_platform.collect.landing import file_hash, partition_key, scan
from dataops_platform.contracts.model import Contract

pytestmark = pytest.mark.production

METERS = Contract.model_validate({
    "name": "meters", "description": "Meter readings.", "owner": "tests@example.com",
    "source": {"format": "csv"}, "primary_key": ["reading_id"],
    "columns": [{"name": "reading_id", "type": "integer", "nullable": False},
                {"name": "kwh", "type": "float"}]})
FILES = {"meters/a.csv": b"reading_id,kwh\n1,1.5\n", "meters/b c.csv": b"reading_id,kwh\n2,2\n",
         "meters/.writing.csv": b"partial", "meters/notes.txt": b"not a delivery",
         "other/x.csv": b"reading_id\n9\n"}


@pytest.fixture
def memory_root():
    root = f"/dataops-{uuid.uuid4().hex[:8]}"
    fs = fsspec.filesystem("memory")
    yield fs, root
    fs.rm(root, recursive=True)


def test_memory_landing_zone_is_scanned_hashed_and_preserved_in_a_memory_lake(memory_root):
    fs, root = memory_root
    for relative, body in FILES.items():
        fs.pipe_file(f"{root}/landing/{relative}", body)
    landing = f"memory://{root}/landing"
    found = scan(landing, METERS)
    assert [(f.relative_path, f.name, f.size) for f in found] == [
        ("meters/a.csv", "a.csv", len(FILES["meters/a.csv"])),
        ("meters/b c.csv", "b c.csv", len(FILES["meters/b c.csv"]))]  # no dot-file, no .txt
    assert all(f.mtime_ns > 0 for f in found)
    source = f"{landing}/meters/a.csv"
    digest = file_hash(source)
    assert digest == hashlib.sha256(FILES["meters/a.csv"]).hexdigest()

    lake_root = f"memory://{root}/lake"
    key = partition_key("a.csv", digest)
    entry = lake.preserve(lake_root, "meters", key, source, "meters/a.csv", digest)
    again = lake.preserve(lake_root, "meters", key, source, "meters/a.csv", digest)
    assert again.arrived_at == entry.arrived_at  # written once: the original arrival is kept
    assert fs.cat_file(f"{root}/lake/meters/arrival_date={entry.arrival.date()}/{key}/a.csv") \
        == FILES["meters/a.csv"]
    listed = list(lake.entries(lake_root, "meters"))
    assert [(e.partition_key, e.sha256, e.size) for e in listed] == \
        [(key, digest, len(FILES["meters/a.csv"]))]
    assert lake.find(lake_root, "meters", key) == listed[0]
    assert file_hash(listed[0].location) == digest


def test_local_folder_as_file_url_scans_like_the_path(tmp_path):
    for relative, body in FILES.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(body)
    by_path = scan(tmp_path, METERS)
    by_url = scan(f"file://{tmp_path}", METERS)
    assert [(f.relative_path, f.name, f.size, f.mtime_ns) for f in by_url] == \
        [(f.relative_path, f.name, f.size, f.mtime_ns) for f in by_path]
    assert file_hash(f"file://{tmp_path}/meters/a.csv") == file_hash(tmp_path / "meters/a.csv")
    # the lake on a local folder reads manifests written through the URL code as its own
    digest = file_hash(tmp_path / "meters/a.csv")
    key = partition_key("a.csv", digest)
    lake.preserve(f"file://{tmp_path}/lake", "meters", key, f"file://{tmp_path}/meters/a.csv",
                  "meters/a.csv", digest)
    (entry,) = lake.entries(tmp_path / "lake", "meters")
    assert entry.path.read_bytes() == FILES["meters/a.csv"] and lake.verify(entry) is None
