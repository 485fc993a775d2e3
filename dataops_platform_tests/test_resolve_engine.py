"""The matching engine on small hand-made records: duplicates found, look-alikes kept apart.

Each duplicate pair carries one kind of corruption the engine claims to handle, each
look-alike pair is two people a naive matcher would merge. No mocks: a real DuckDB.
"""

from __future__ import annotations

import json
import random

import duckdb
import pytest

from dataops_platform.resolve.engine import score_pairs
from dataops_platform.resolve.spec import EntitySpec
from dataops_platform.samples.people import FIELDS, corrupt_person, generate_people

SPEC = EntitySpec(name="person", sources=[{"dataset": "crm", "id": "id"}, {"dataset": "webshop", "id": "id"}],
                  fields=list(FIELDS))

ROWS = [
    # record_id, source, first, last, email, birth_date, city, postcode
    ("crm:1", "crm", "William", "Smith", "bill.smith@gmail.com", "1980-05-17", "Berlin", "10115"),
    ("webshop:1", "webshop", "bill ", "SMITH", "Bill.Smith+shop@googlemail.com", "1980-05-17", " berlin",
     "10115"),
    ("crm:2", "crm", "Katherine", "Mueller", "k.mueller@web.de", "1975-03-04", "Hamburg", "20095"),
    ("webshop:2", "webshop", "Mueller", "Katherine", "K.Mueller@web.de", "1975-03-04", "Hamburg", None),
    ("crm:3", "crm", "Jonathan", "Schmidt", "jschmidt@gmx.de", "1990-12-03", "Munich", "80331"),
    ("webshop:3", "webshop", "Jonathan", "Schmdit", "jonathan.s@outlook.com", "1990-03-12", "Munich",
     "80331"),
    ("crm:4", "crm", "Elizabeth", "Weber", "elizweber@gmail.com", "1985-06-21", "Cologne", "50667"),
    ("webshop:4", "webshop", "Liz", "Weber", "e.liz.weber@gmail.com", "1985-06-12", "Koeln", "50667"),
    ("crm:5", "crm", "Micheal", "Fischer", None, "1962-11-30", "Bonn", "53111"),
    ("webshop:5", "webshop", "Michael", "Fischer", "mf62@web.de", "1962-11-30", "Bonn", "53111"),
    # look-alikes: namesakes (parent and child) at one address, twins, siblings
    ("crm:6", "crm", "Anna", "Schneider", "anna.schneider@web.de", "1950-02-10", "Essen", "45127"),
    ("webshop:6", "webshop", "Anna", "Schneider", "anna.s78@gmail.com", "1978-09-23", "Essen", "45127"),
    ("crm:7", "crm", "Max", "Becker", "max.becker@gmx.de", "2001-04-04", "Dresden", "01067"),
    ("webshop:7", "webshop", "Paul", "Becker", "paul.becker@gmx.de", "2001-04-04", "Dresden", "01067"),
    ("crm:8", "crm", "Lena", "Hoffmann", "lena.h@web.de", "1993-07-15", "Kiel", "24103"),
    ("webshop:8", "webshop", "Lea", "Hoffmann", "lea.hoffmann@gmail.com", "1996-01-02", "Kiel", "24103"),
]
DUPLICATES = {  # why each is the same person
    ("crm:1", "webshop:1"): "nickname, case/whitespace, +tag and googlemail",
    ("crm:2", "webshop:2"): "swapped first/last name, missing postcode",
    ("crm:3", "webshop:3"): "typo in last name, day/month swapped, other email",
    ("crm:4", "webshop:4"): "nickname, transposed date digits, gmail dots, city spelling",
    ("crm:5", "webshop:5"): "typo in first name, missing email",
}
LOOKALIKES = [("crm:6", "webshop:6"), ("crm:7", "webshop:7"), ("crm:8", "webshop:8")]


@pytest.fixture()
def conn() -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute("CREATE TABLE records (record_id VARCHAR, source VARCHAR, first_name VARCHAR, "
                 "last_name VARCHAR, email VARCHAR, birth_date VARCHAR, city VARCHAR, postcode VARCHAR)")
    conn.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?)", ROWS)
    return conn


def _scores(conn: duckdb.DuckDBPyConnection, table: str = "pairs") -> dict[tuple[str, str], float]:
    return {(a, b): s for a, b, s in conn.execute(f"SELECT left_id, right_id, score FROM {table}").fetchall()}


def test_known_duplicates_match_and_lookalikes_do_not(conn):
    n = score_pairs(conn, SPEC, "records", "pairs")
    scores = _scores(conn)
    assert n == len(scores)
    missed = {pair: why for pair, why in DUPLICATES.items() if scores.get(pair, 0.0) < SPEC.decision.match}
    assert not missed, f"duplicates scored below {SPEC.decision.match}: {missed} {scores}"
    merged = [pair for pair in LOOKALIKES if scores.get(pair, 0.0) >= SPEC.decision.match]
    assert not merged, f"look-alikes matched: {merged} {scores}"
    # nothing outside the planted duplicates reaches the match threshold
    assert {p for p, s in scores.items() if s >= SPEC.decision.match} == set(DUPLICATES)


def test_pair_table_shape(conn):
    score_pairs(conn, SPEC, "records", "pairs")
    cols = [(c, t) for c, t, *_ in conn.execute("DESCRIBE pairs").fetchall()]
    assert cols == [("left_id", "VARCHAR"), ("right_id", "VARCHAR"), ("score", "DOUBLE"),
                    *[(f"sim_{f}", "DOUBLE") for f in FIELDS], ("explanation", "VARCHAR")]
    bad = conn.execute("SELECT count(*) FROM pairs WHERE NOT (left_id < right_id) OR score < 0 OR score > 1"
                       ).fetchone()[0]
    assert bad == 0
    # a missing value gives a NULL similarity, not 0
    sim = conn.execute("SELECT sim_postcode, sim_email FROM pairs WHERE left_id = 'crm:2' "
                       "AND right_id = 'webshop:2'").fetchone()
    assert sim[0] is None and sim[1] == 1.0


def test_explanation_names_every_field_and_shows_swap(conn):
    score_pairs(conn, SPEC, "records", "pairs")
    (text,) = conn.execute("SELECT explanation FROM pairs WHERE left_id = 'crm:2' AND right_id = 'webshop:2'"
                           ).fetchone()
    explanation = json.loads(text)
    for field in FIELDS:
        assert set(explanation[field]) == {"left", "right", "sim", "bits"}
    assert explanation["names_swapped"] is True
    assert explanation["first_name"]["left"] == explanation["first_name"]["right"] == "katherine"
    (email,) = conn.execute("SELECT explanation->>'$.email.right' FROM pairs "
                            "WHERE left_id = 'crm:1' AND right_id = 'webshop:1'").fetchone()
    assert email == "billsmith@gmail.com"  # lower-cased, +tag, dots and googlemail removed


def test_new_only_yields_pairs_touching_new_records(conn):
    full = _scores(conn) if score_pairs(conn, SPEC, "records", "pairs") else {}
    conn.execute("CREATE TABLE fresh AS SELECT * FROM (VALUES ('webshop:1'), ('webshop:3')) t(record_id)")
    score_pairs(conn, SPEC, "records", "pairs_new", new="fresh")
    incremental = _scores(conn, "pairs_new")
    assert incremental, "the new records have candidates"
    assert all({"webshop:1", "webshop:3"} & set(pair) for pair in incremental)
    # exactly the full run's pairs that touch a new record, with the same scores
    assert incremental == {p: s for p, s in full.items() if {"webshop:1", "webshop:3"} & set(p)}


def test_explicit_blocking_rule_limits_candidates(conn):
    spec = SPEC.model_copy(update={"blocking": [["email"]]})
    score_pairs(conn, spec, "records", "pairs")
    # only records whose normalized emails are equal are compared (gmail dots, case, +tag)
    assert set(_scores(conn)) == {("crm:1", "webshop:1"), ("crm:2", "webshop:2"), ("crm:4", "webshop:4")}


def test_generator_is_seeded_labelled_and_corrupts_without_birth_date():
    records, truth = generate_people(500, seed=3)
    again, _ = generate_people(500, seed=3)
    assert len(records) == 500 and records.equals(again)
    assert list(records.columns) == ["record_id", "source", *FIELDS]
    assert records["record_id"].is_unique and set(records["source"]) == {"crm", "webshop"}
    assert truth["record_id"].tolist() == records["record_id"].tolist()
    assert truth["true_entity"].value_counts().max() > 1  # there are duplicates to find
    crm = {"first_name": "Anna", "last_name": "Schneider", "email": "anna@web.de", "city": "Essen",
           "country": "DE"}
    copies = [corrupt_person(crm, random.Random(i)) for i in range(50)]
    assert all(set(c) == set(crm) for c in copies) and any(c != crm for c in copies)


def test_phone_phonetic_numeric_and_no_date_field():
    """The other methods, on a spec shaped like the demo CRM (no birth date) plus three fields."""
    spec = EntitySpec(name="c", sources=[{"dataset": "a", "id": "id"}], fields=[
        "first_name", "last_name", "email", "city", "country", "phone",
        {"name": "maiden_name", "compare": "phonetic"},
        {"name": "age", "compare": "numeric", "tolerance": 1}])
    conn = duckdb.connect()
    conn.execute("""CREATE TABLE r AS SELECT * FROM (VALUES
        ('a:1', 'a', 'Bill', 'Smith', 'b@x.de', 'Berlin', 'DE', '+49 170 1234567', 'Meier', '41'),
        ('a:2', 'a', 'William', 'Smith', NULL, 'Berlin', 'de', '0170-1234567', 'Mayer', '42'),
        ('a:3', 'a', 'Anna', 'Smith', 'anna@x.de', 'Bonn', 'DE', '0170 7654321', 'Schulz', '60'))
        t(record_id, source, first_name, last_name, email, city, country, phone, maiden_name, age)""")
    score_pairs(conn, spec, "r", "out")
    rows = {(a, b): rest for a, b, *rest in conn.execute(
        "SELECT left_id, right_id, score, sim_phone, sim_maiden_name, sim_age, sim_email FROM out"
    ).fetchall()}
    score, phone, maiden, age, email = rows[("a:1", "a:2")]
    assert (phone, age, email) == (1.0, 1.0, None)  # last 9 digits; within tolerance; one side missing
    assert 0.9 <= maiden < 1.0  # Meier / Mayer sound the same
    assert score >= spec.decision.match
    assert all(r[0] < spec.decision.match for pair, r in rows.items() if "a:3" in pair)
