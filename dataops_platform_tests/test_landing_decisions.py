"""The landing sensor's decision logic and the landing-zone key helpers.

``decide`` is pure: hashing is injected as a fake that records which paths it hashed, so
every test can assert that waiting, unchanged and deferred files were never read.
"""

from __future__ import annotations

import hashlib
import json
import os
import re

import pytest

from dataops_platform.collect.decisions import (
    Action,
    DatasetCursor,
    Decision,
    Observation,
    decide,
    decode_cursor,
    encode_cursor,
)
from dataops_platform.collect.landing import (
    HASH_CHARS,
    LandedFile,
    LandedFileNotFound,
    file_hash,
    partition_key,
    resolve_partition,
    scan,
    slug,
    split_partition_key,
)
from dataops_platform.contracts.model import Contract

SECOND = 1_000_000_000
NOW = 1_700_000_000 * SECOND
SETTLE = 10 * SECOND
OLD = NOW - 60 * SECOND  # landed well before the settle window
FRESH = NOW - 1 * SECOND  # still inside the settle window


def sha(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


H1, H2, H3, H4, H5 = (sha(f"content {i}") for i in range(1, 6))


class FakeHasher:
    """``hash_of`` for ``decide``: a dict lookup that records every path it was asked for."""

    def __init__(self, hashes=None):
        self.hashes = dict(hashes or {})
        self.calls = []

    def __call__(self, path):
        self.calls.append(path)
        return self.hashes[path]


def landed(path, size=100, mtime_ns=OLD):
    return LandedFile(path, size, mtime_ns)


def run(cursor, files, hasher, *, now_ns=NOW, max_hashes=100):
    return decide(cursor, files, hasher, now_ns=now_ns, settle_ns=SETTLE, max_hashes=max_hashes)


def key_of(path, digest):
    return f"{slug(path)}@{digest[:HASH_CHARS]}"


# --------------------------------------------------------------------------- decide


def test_new_settled_file_is_ingested_under_slug_at_hash12():
    hasher = FakeHasher({"orders/day 1.csv": H1})
    previous = DatasetCursor()

    decisions, cursor = run(previous, [landed("orders/day 1.csv")], hasher)

    key = f"{slug('orders/day 1.csv')}@{H1[:12]}"
    assert key.startswith("orders__day_1.csv-")
    assert decisions == [Decision("orders/day 1.csv", Action.ingest, partition_key=key)]
    assert hasher.calls == ["orders/day 1.csv"]
    assert cursor.files == {"orders/day 1.csv": Observation(100, OLD, H1[:12])}
    assert cursor.keys_by_hash == {H1[:12]: key}
    assert previous == DatasetCursor(), "decide must not mutate the previous cursor"


def test_fresh_file_waits_unhashed_then_ingests_when_its_stat_is_stable():
    hasher = FakeHasher({"a.csv": H1})

    decisions, cursor = run(DatasetCursor(), [landed("a.csv", 10, FRESH)], hasher)

    assert decisions == [Decision("a.csv", Action.wait)]
    assert hasher.calls == []
    assert cursor.files == {"a.csv": Observation(10, FRESH, None)}
    assert cursor.keys_by_hash == {}

    # Next tick, still within the settle window, but size and mtime did not move.
    decisions, cursor = run(cursor, [landed("a.csv", 10, FRESH)], hasher, now_ns=FRESH + 1)

    assert decisions == [Decision("a.csv", Action.ingest, partition_key=key_of("a.csv", H1))]
    assert hasher.calls == ["a.csv"]
    assert cursor.files == {"a.csv": Observation(10, FRESH, H1[:12])}


@pytest.mark.parametrize(
    ("age_ns", "expected"),
    [
        (0, Action.wait),
        (SETTLE - 1, Action.wait),
        (SETTLE, Action.ingest),
        (SETTLE + 1, Action.ingest),
    ],
)
def test_first_sight_settles_only_once_mtime_is_settle_ns_old(age_ns, expected):
    hasher = FakeHasher({"a.csv": H1})

    decisions, _ = run(DatasetCursor(), [landed("a.csv", 10, NOW - age_ns)], hasher)

    assert [d.action for d in decisions] == [expected]
    assert hasher.calls == ([] if expected is Action.wait else ["a.csv"])


def test_growing_file_keeps_waiting_until_size_and_mtime_stop_changing():
    hasher = FakeHasher({"a.csv": H1})
    cursor = DatasetCursor()

    decisions, cursor = run(cursor, [landed("a.csv", 10, NOW - 3 * SECOND)], hasher, now_ns=NOW)
    assert [d.action for d in decisions] == [Action.wait]

    # The writer appended: size and mtime changed, mtime still fresh.
    decisions, cursor = run(cursor, [landed("a.csv", 20, NOW + 2 * SECOND)], hasher, now_ns=NOW + 3 * SECOND)
    assert [d.action for d in decisions] == [Action.wait]
    assert cursor.files["a.csv"] == Observation(20, NOW + 2 * SECOND, None)

    # Size alone changing (same mtime, coarse clock) is not stable either.
    decisions, cursor = run(cursor, [landed("a.csv", 30, NOW + 2 * SECOND)], hasher, now_ns=NOW + 4 * SECOND)
    assert [d.action for d in decisions] == [Action.wait]
    assert hasher.calls == []

    decisions, cursor = run(cursor, [landed("a.csv", 30, NOW + 2 * SECOND)], hasher, now_ns=NOW + 5 * SECOND)
    assert [d.action for d in decisions] == [Action.ingest]
    assert hasher.calls == ["a.csv"]
    assert cursor.files["a.csv"] == Observation(30, NOW + 2 * SECOND, H1[:12])


def test_unchanged_file_is_not_hashed_again():
    hasher = FakeHasher({"a.csv": H1})
    _, cursor = run(DatasetCursor(), [landed("a.csv")], hasher)
    hasher.calls.clear()

    decisions, after = run(cursor, [landed("a.csv")], hasher)

    assert decisions == [Decision("a.csv", Action.unchanged)]
    assert hasher.calls == []
    assert after == cursor


def test_identical_content_under_another_name_is_a_duplicate():
    hasher = FakeHasher({"a.csv": H1, "copy of a.csv": H1})
    _, cursor = run(DatasetCursor(), [landed("a.csv")], hasher)

    decisions, cursor = run(cursor, [landed("a.csv"), landed("copy of a.csv")], hasher)

    key_a = key_of("a.csv", H1)
    assert decisions == [
        Decision("a.csv", Action.unchanged),
        Decision("copy of a.csv", Action.duplicate, duplicate_of=key_a),
    ]
    assert cursor.keys_by_hash == {H1[:12]: key_a}, "a duplicate registers no new key"
    assert cursor.files["copy of a.csv"] == Observation(100, OLD, H1[:12])
    assert hasher.calls == ["a.csv", "copy of a.csv"]

    # Its hash is remembered: the copy is not hashed on the next tick, and is still named
    # a duplicate (not logged again: it was not newly hashed).
    decisions, _ = run(cursor, [landed("a.csv"), landed("copy of a.csv")], hasher)
    assert [d.action for d in decisions] == [Action.unchanged, Action.duplicate]
    assert [d.newly_hashed for d in decisions] == [False, False]
    assert hasher.calls == ["a.csv", "copy of a.csv"]


def test_identical_content_in_one_tick_ingests_once():
    hasher = FakeHasher({"a.csv": H1, "b.csv": H1})

    decisions, cursor = run(DatasetCursor(), [landed("a.csv"), landed("b.csv")], hasher)

    key_a = key_of("a.csv", H1)
    assert decisions == [
        Decision("a.csv", Action.ingest, partition_key=key_a),
        Decision("b.csv", Action.duplicate, duplicate_of=key_a),
    ]
    assert cursor.keys_by_hash == {H1[:12]: key_a}


def test_changed_content_under_the_same_name_replaces_the_old_partition():
    hasher = FakeHasher({"a.csv": H1})
    _, cursor = run(DatasetCursor(), [landed("a.csv", 100, OLD)], hasher)
    old_key, new_key = key_of("a.csv", H1), key_of("a.csv", H2)

    hasher.hashes["a.csv"] = H2
    decisions, cursor = run(cursor, [landed("a.csv", 120, OLD + SECOND)], hasher)

    assert decisions == [Decision("a.csv", Action.ingest, partition_key=new_key, replaces=old_key)]
    assert cursor.keys_by_hash == {H2[:12]: new_key}, "the old content is forgotten"
    assert cursor.files["a.csv"] == Observation(120, OLD + SECOND, H2[:12])

    # Re-delivering the old content is new again, and replaces the newer version.
    hasher.hashes["a.csv"] = H1
    decisions, cursor = run(cursor, [landed("a.csv", 100, OLD + 2 * SECOND)], hasher)

    assert decisions == [Decision("a.csv", Action.ingest, partition_key=old_key, replaces=new_key)]
    assert cursor.keys_by_hash == {H1[:12]: old_key}


def test_changed_content_replaces_only_its_own_file():
    hasher = FakeHasher({"a.csv": H1, "b.csv": H2})
    _, cursor = run(DatasetCursor(), [landed("a.csv"), landed("b.csv")], hasher)

    hasher.hashes["a.csv"] = H3
    decisions, cursor = run(cursor, [landed("a.csv", 7, OLD + 1), landed("b.csv")], hasher)

    assert decisions == [
        Decision("a.csv", Action.ingest, partition_key=key_of("a.csv", H3), replaces=key_of("a.csv", H1)),
        Decision("b.csv", Action.unchanged),
    ]
    assert cursor.keys_by_hash == {H2[:12]: key_of("b.csv", H2), H3[:12]: key_of("a.csv", H3)}


def test_changing_file_waits_and_keeps_old_content_registered_until_settled():
    hasher = FakeHasher({"a.csv": H1})
    _, cursor = run(DatasetCursor(), [landed("a.csv", 100, OLD)], hasher)
    hasher.calls.clear()

    decisions, cursor = run(cursor, [landed("a.csv", 50, FRESH)], hasher)

    assert decisions == [Decision("a.csv", Action.wait)]
    assert hasher.calls == []
    assert cursor.keys_by_hash == {H1[:12]: key_of("a.csv", H1)}

    hasher.hashes["a.csv"] = H2
    decisions, cursor = run(cursor, [landed("a.csv", 50, FRESH)], hasher)
    assert decisions == [
        Decision("a.csv", Action.ingest, partition_key=key_of("a.csv", H2), replaces=key_of("a.csv", H1))
    ]


def test_touched_file_with_same_content_is_unchanged_not_reingested():
    hasher = FakeHasher({"a.csv": H1})
    _, cursor = run(DatasetCursor(), [landed("a.csv", 100, OLD)], hasher)
    key = key_of("a.csv", H1)

    decisions, cursor = run(cursor, [landed("a.csv", 100, OLD + 5 * SECOND)], hasher)

    assert decisions == [Decision("a.csv", Action.unchanged)]
    assert decisions[0].registered_as == key
    assert hasher.calls == ["a.csv", "a.csv"]
    assert cursor.keys_by_hash == {H1[:12]: key}
    assert cursor.files["a.csv"] == Observation(100, OLD + 5 * SECOND, H1[:12])

    decisions, _ = run(cursor, [landed("a.csv", 100, OLD + 5 * SECOND)], hasher)
    assert decisions == [Decision("a.csv", Action.unchanged)]
    assert len(hasher.calls) == 2


def test_hashing_budget_defers_the_rest_to_the_next_call():
    names = [f"f{i}.csv" for i in range(5)]
    hasher = FakeHasher(dict(zip(names, [H1, H2, H3, H4, H5], strict=True)))

    decisions, cursor = run(DatasetCursor(), [landed(n) for n in names], hasher, max_hashes=2)

    assert [d.action for d in decisions] == [Action.ingest] * 2 + [Action.deferred] * 3
    assert [d.relative_path for d in decisions] == names
    assert all(d.partition_key is None for d in decisions[2:])
    assert hasher.calls == names[:2]
    assert set(cursor.files) == set(names[:2]), "deferred files are not recorded as seen"
    assert len(cursor.keys_by_hash) == 2

    # Unchanged files cost no budget, so a budget of three covers the three deferred files.
    decisions, cursor = run(cursor, [landed(n) for n in names], hasher, max_hashes=3)

    assert [d.action for d in decisions] == [Action.unchanged] * 2 + [Action.ingest] * 3
    assert [d.partition_key for d in decisions[2:]] == [
        key_of(n, h) for n, h in zip(names[2:], [H3, H4, H5], strict=True)
    ]
    assert hasher.calls == names
    assert len(cursor.keys_by_hash) == 5


def test_budget_is_spent_on_duplicates_but_not_on_waiting_files():
    hasher = FakeHasher({"a.csv": H1, "b.csv": H1, "c.csv": H2, "d.csv": H3})
    files = [landed("w.csv", 1, FRESH), landed("a.csv"), landed("b.csv"), landed("c.csv")]

    decisions, _ = run(DatasetCursor(), files, hasher, max_hashes=2)

    assert [d.action for d in decisions] == [Action.wait, Action.ingest, Action.duplicate, Action.deferred]
    assert hasher.calls == ["a.csv", "b.csv"]


def test_zero_budget_defers_every_settled_file_without_hashing():
    hasher = FakeHasher({"a.csv": H1})

    decisions, cursor = run(
        DatasetCursor(), [landed("a.csv"), landed("w.csv", 1, FRESH)], hasher, max_hashes=0
    )

    assert decisions == [Decision("a.csv", Action.deferred), Decision("w.csv", Action.wait)]
    assert hasher.calls == []
    assert cursor.files == {"w.csv": Observation(1, FRESH, None)}


@pytest.mark.parametrize("redelivered_as", ["a.csv", "archive/a.csv"])
def test_vanished_file_keeps_its_content_registered(redelivered_as):
    hasher = FakeHasher({"a.csv": H1, "archive/a.csv": H1})
    _, cursor = run(DatasetCursor(), [landed("a.csv", 100, OLD)], hasher)
    key = key_of("a.csv", H1)

    decisions, cursor = run(cursor, [], hasher)

    assert decisions == []
    assert cursor.keys_by_hash == {H1[:12]: key}

    decisions, _ = run(cursor, [landed(redelivered_as, 100, OLD + 9 * SECOND)], hasher)

    if redelivered_as == "a.csv":  # its own registered content: nothing to do
        assert decisions == [Decision("a.csv", Action.unchanged)]
    else:
        assert decisions == [Decision(redelivered_as, Action.duplicate, duplicate_of=key)]


def test_files_that_left_the_landing_zone_leave_the_cursor_not_the_registry():
    previous = DatasetCursor(
        files={"a.csv": Observation(1, 2, H1)}, keys_by_hash={H1[:12]: key_of("a.csv", H1)}
    )

    decisions, cursor = run(previous, [], FakeHasher())

    assert decisions == []
    assert cursor.files == {}
    assert cursor.keys_by_hash == previous.keys_by_hash
    assert previous.files == {"a.csv": Observation(1, 2, H1)}, "previous is not mutated"


def test_distinct_files_whose_slugs_collide_do_not_replace_each_other():
    hasher = FakeHasher({"a b.csv": H1, "a,b.csv": H2})

    decisions, cursor = run(DatasetCursor(), [landed("a b.csv"), landed("a,b.csv")], hasher)

    assert [d.action for d in decisions] == [Action.ingest, Action.ingest]
    assert decisions[1].replaces is None
    assert set(cursor.keys_by_hash) == {H1[:12], H2[:12]}


# --------------------------------------------------------------------------- cursor


def test_cursor_json_round_trip_keeps_observations_only():
    hasher = FakeHasher({"a.csv": H1, "b.csv": H1, "orders/c d.csv": H2})
    files = [landed("a.csv"), landed("b.csv"), landed("orders/c d.csv"), landed("w.csv", 3, FRESH)]
    _, orders = run(DatasetCursor(), files, hasher)
    assert orders.files["w.csv"].content_hash is None  # the round trip covers a None hash
    customers = DatasetCursor(keys_by_hash={H3[:12]: key_of("x.csv", H3)})

    raw = encode_cursor({"orders": orders, "customers": customers})

    assert isinstance(raw, str)
    data = json.loads(raw)
    assert data["v"] == 2
    assert list(data["datasets"]) == ["customers", "orders"]
    decoded = decode_cursor(raw)
    assert decoded["orders"].files == orders.files
    assert decoded["customers"].files == {}
    # what is registered lives in the instance's partitions, never in the cursor
    assert all(c.keys_by_hash == {} for c in decoded.values())
    assert encode_cursor(decoded) == raw


def test_a_cursor_of_the_old_format_is_dropped_not_misread():
    old = json.dumps({"v": 1, "datasets": {"orders": {
        "files": {"a.csv": [1, 2, H1]}, "hashes": {H1[:12]: key_of("a.csv", H1)}}}})
    assert decode_cursor(old) == {}


@pytest.mark.parametrize("raw", [None, ""])
def test_decode_of_no_cursor_is_empty(raw):
    assert decode_cursor(raw) == {}


def test_from_json_tolerates_missing_sections():
    assert DatasetCursor.from_json({}) == DatasetCursor()
    assert decode_cursor(json.dumps({"v": 2})) == {}


def test_updating_one_dataset_leaves_the_others_cursor_untouched():
    customers = DatasetCursor(
        files={"c.csv": Observation(5, OLD, H3[:12])}, keys_by_hash={H3[:12]: key_of("c.csv", H3)}
    )
    raw = encode_cursor({"customers": customers, "orders": DatasetCursor()})

    cursors = decode_cursor(raw)
    _, cursors["orders"] = run(cursors["orders"], [landed("o.csv")], FakeHasher({"o.csv": H1}))
    merged = decode_cursor(encode_cursor(cursors))

    assert merged["customers"].files == customers.files
    assert merged["orders"].files == {"o.csv": Observation(100, OLD, H1[:12])}


def test_from_partition_keys_makes_registered_content_known():
    key_a = key_of("orders/a.csv", H1)
    key_b = key_of("orders/b.csv", H2)

    rebuilt = DatasetCursor.from_partition_keys([key_a, key_b])

    assert rebuilt.files == {}
    assert rebuilt.keys_by_hash == {H1[:12]: key_a, H2[:12]: key_b}

    hasher = FakeHasher({"orders/a.csv": H1, "orders/b.csv": H4})
    decisions, _ = run(rebuilt, [landed("orders/a.csv"), landed("orders/b.csv")], hasher)

    assert decisions == [
        Decision("orders/a.csv", Action.unchanged),
        Decision("orders/b.csv", Action.ingest, partition_key=key_of("orders/b.csv", H4), replaces=key_b),
    ]


def test_action_values_are_their_names():
    assert {a.value for a in Action} == {"ingest", "wait", "unchanged", "duplicate", "deferred"}
    assert Action("ingest") is Action.ingest
    assert Action.wait == "wait"


# --------------------------------------------------------------------------- keys

SAFE = re.compile(r"^[A-Za-z0-9._-]+$")


@pytest.mark.parametrize(
    ("path", "readable"),
    [
        ("orders/2024-01-01.csv", "orders__2024-01-01.csv"),
        ("a,b.csv", "a_b.csv"),
        ("day 1.csv", "day_1.csv"),
        ("a , b.csv", "a_b.csv"),
        ("x/y/z.csv", "x__y__z.csv"),
        ("März 2024.csv", "M_rz_2024.csv"),
        ("Bestellungen/März.csv", "Bestellungen__M_rz.csv"),
        ("daten/日本.csv", "daten___.csv"),
        (",leading and trailing,", "leading_and_trailing"),
        ("", "file"),
        ("***", "file"),
    ],
)
def test_slug_of_a_changed_name_is_readable_plus_a_hash_of_the_original(path, readable):
    value = slug(path)
    assert value == f"{readable}-{hashlib.sha256(path.encode()).hexdigest()[:8]}"
    assert SAFE.match(value)


def test_slug_keeps_plain_names_and_never_maps_two_names_to_one():
    assert slug("plain_name-1.v2.csv") == "plain_name-1.v2.csv"
    names = ["a b.csv", "a,b.csv", "a_b.csv", "a/b.csv", "a__b.csv", "a  b.csv"]
    assert len({slug(n) for n in names}) == len(names)


@pytest.mark.parametrize(
    "path",
    [
        "a b,c;d.csv",
        "müll/ä ö ü.csv",
        "a/b/c/d.csv",
        "tab\there.csv",
        "q'uote\"s.csv",
        "x@y.csv",
        "../up.csv",
    ],
)
def test_partition_keys_are_safe_and_split_back(path):
    key = partition_key(path, H1)

    name, short = split_partition_key(key)

    assert name == slug(path)
    assert short == H1[:HASH_CHARS]
    assert SAFE.match(name)
    assert key.count("@") == 1
    assert not set(",/ ") & set(key)


def test_split_partition_key_takes_the_last_at_sign():
    assert split_partition_key("a@b@0123456789ab") == ("a@b", "0123456789ab")


@pytest.mark.parametrize(
    "key",
    ["", "a.csv", "a.csv@", "@0123456789ab", "a.csv@0123456789a", "a.csv@0123456789abc", f"a.csv@{H1}"],
)
def test_split_partition_key_rejects_malformed_keys(key):
    with pytest.raises(ValueError, match="not a landed-file partition key"):
        split_partition_key(key)


# --------------------------------------------------------------------------- file system


def make_contract(name="orders", landing=None, fmt="csv"):
    source = {"format": fmt}
    if landing is not None:
        source["landing"] = landing
    return Contract.model_validate(
        {
            "name": name,
            "description": "test dataset",
            "owner": "tests@example.com",
            "source": source,
            "columns": [{"name": "id"}],
        }
    )


def write(path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def test_scan_stats_matching_files_and_skips_dot_files_and_directories(tmp_path):
    write(tmp_path / "orders" / "b.csv", "bb")
    write(tmp_path / "orders" / "a.csv", "a")
    write(tmp_path / "orders" / ".a.csv.part", "partial")
    write(tmp_path / "orders" / ".hidden.csv", "hidden")
    (tmp_path / "orders" / "folder.csv").mkdir()
    write(tmp_path / "orders" / "notes.txt", "not a csv")
    write(tmp_path / "orders" / "nested" / "c.csv", "not directly under orders/")
    write(tmp_path / "customers" / "d.csv", "another dataset")
    os.utime(tmp_path / "orders" / "a.csv", ns=(OLD, OLD))

    found = scan(tmp_path, make_contract())

    assert found == [
        LandedFile("orders/a.csv", 1, OLD, "a.csv"),
        LandedFile("orders/b.csv", 2, (tmp_path / "orders" / "b.csv").stat().st_mtime_ns, "b.csv"),
    ]


def test_scan_respects_a_custom_recursive_glob(tmp_path):
    write(tmp_path / "in" / "x.json", "1")
    write(tmp_path / "in" / "2024" / "01" / "y.json", "22")
    write(tmp_path / "in" / "2024" / ".z.json", "333")
    write(tmp_path / "in" / "2024" / "w.csv", "4444")

    found = scan(tmp_path, make_contract(landing="in/**/*.json", fmt="json"))

    assert [(f.relative_path, f.size) for f in found] == [("in/2024/01/y.json", 2), ("in/x.json", 1)]
    assert [f.name for f in found] == ["2024/01/y.json", "x.json"]  # relative to the glob's folder


def test_scan_of_a_missing_dataset_folder_is_empty(tmp_path):
    assert scan(tmp_path, make_contract()) == []


def test_file_hash_streams_large_files(tmp_path):
    content = os.urandom((1 << 20) * 2 + 12345)
    path = write(tmp_path / "big.bin", content)

    assert file_hash(path) == hashlib.sha256(content).hexdigest()


def test_file_hash_of_an_empty_file(tmp_path):
    assert file_hash(write(tmp_path / "e.csv", b"")) == hashlib.sha256(b"").hexdigest()


def test_resolve_partition_finds_the_file(tmp_path):
    path = write(tmp_path / "orders" / "day 1.csv", "id\n1\n")
    write(tmp_path / "orders" / "day 2.csv", "id\n2\n")
    digest = hashlib.sha256(b"id\n1\n").hexdigest()
    key = partition_key("day 1.csv", digest)

    assert resolve_partition(tmp_path, make_contract(), key) == (path, digest)


def test_resolve_partition_picks_the_matching_content_among_slug_twins(tmp_path):
    write(tmp_path / "orders" / "a b.csv", "first")
    twin = write(tmp_path / "orders" / "a,b.csv", "second")
    digest = hashlib.sha256(b"second").hexdigest()

    resolved = resolve_partition(tmp_path, make_contract(), partition_key("a,b.csv", digest))

    assert resolved == (twin, digest)


def test_resolve_partition_of_changed_content_names_the_file(tmp_path):
    path = write(tmp_path / "orders" / "day 1.csv", "id\n1\n")
    key = partition_key("day 1.csv", file_hash(path))
    write(path, "id\n1\n2\n")

    with pytest.raises(LandedFileNotFound) as info:
        resolve_partition(tmp_path, make_contract(), key)

    message = str(info.value)
    assert str(path) in message
    assert key in message
    assert "changed" in message


def test_resolve_partition_of_a_vanished_file(tmp_path):
    path = write(tmp_path / "orders" / "day 1.csv", "id\n1\n")
    write(tmp_path / "orders" / "other.csv", "id\n1\n")
    key = partition_key("day 1.csv", file_hash(path))
    path.unlink()

    with pytest.raises(LandedFileNotFound) as info:
        resolve_partition(tmp_path, make_contract(), key)

    message = str(info.value)
    assert str(tmp_path) in message
    assert key in message
    assert "orders/*.csv" in message


def test_resolve_partition_rejects_a_malformed_key(tmp_path):
    with pytest.raises(ValueError, match="not a landed-file partition key"):
        resolve_partition(tmp_path, make_contract(), "orders__a.csv")


def test_cursor_is_bounded_by_the_landing_zone_after_10000_files():
    """Deliveries that were processed and moved away leave nothing behind in the cursor:
    what is registered lives in the instance's partitions (simulated by the returned map)."""
    hasher = FakeHasher({f"f{i}.csv": sha(f"content {i}") for i in range(10_000)})
    cursor = DatasetCursor()
    for start in range(0, 10_000, 500):  # 500 files land per tick, then are moved away
        batch = [landed(f"f{i}.csv") for i in range(start, start + 500)]
        decisions, cursor = run(cursor, batch, hasher, max_hashes=500)
        assert all(d.action is Action.ingest for d in decisions)
        _, cursor = run(cursor, [], hasher)

    assert len(cursor.keys_by_hash) == 10_000  # all registered ...
    raw = encode_cursor({"orders": cursor})
    assert len(raw) < 100, raw  # ... yet the persisted cursor holds no history


def test_a_duplicate_whose_original_was_replaced_is_loaded():
    """b.csv was skipped as a copy of a.csv; a.csv then changed. b's content is now
    registered nowhere, so it is loaded: nothing delivered is lost."""
    hasher = FakeHasher({"a.csv": H1, "b.csv": H1})
    _, cursor = run(DatasetCursor(), [landed("a.csv"), landed("b.csv")], hasher)
    hasher.hashes["a.csv"] = H2
    decisions, cursor = run(cursor, [landed("a.csv", 7, OLD + 1), landed("b.csv")], hasher)
    assert [d.action for d in decisions] == [Action.ingest, Action.ingest]
    assert decisions[1] == Decision("b.csv", Action.ingest, partition_key=key_of("b.csv", H1))
    assert hasher.calls == ["a.csv", "b.csv", "a.csv"], "b's cached hash is reused"
