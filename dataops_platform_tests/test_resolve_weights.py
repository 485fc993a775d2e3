"""Learned Fellegi-Sunter weights, blocking on field parts, identifiers, per-field overrides and
matching on the raw text of a value that did not parse: the engine on generated records, then
the assets on real files."""

from __future__ import annotations

import json
import random

import duckdb
import pytest
from pydantic import ValidationError

from dataops_platform.resolve.engine import score_pairs, score_pairs_with_model
from dataops_platform.resolve.spec import EntitySpec
from dataops_platform.resolve.weights import Model
from dataops_platform_tests.project_files import contracts_dir

FIRST = ["anna", "ben", "carla", "dirk", "emma", "felix", "greta", "hans", "ida", "jan", "karl",
         "lena", "max", "nina", "otto", "paul", "rosa", "sven", "tina", "uwe"]
LAST = ["smith"] * 30 + ["berg", "klein", "vogel", "wolf", "zabrowski", "quast", "imhof", "ulrich",
                         "rieger", "seidel", "thiel", "engel", "brandt", "dietz", "fuchs"]
STATES = ["nsw", "vic", "qld"]
FIELDS = ["first_name", "last_name", "birth_date", {"name": "state", "compare": "exact"},
          {"name": "ssn", "compare": "identifier"}]


def people(n: int, seed: int = 1) -> tuple[list[tuple], dict[str, int]]:
    """n people, a third of them with one corrupted duplicate: (rows, record -> person)."""
    rng = random.Random(seed)
    rows, truth = [], {}
    for p in range(n):
        born = f"19{rng.randint(30, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        ssn = str(rng.randint(10**6, 10**7 - 1))
        person = [rng.choice(FIRST), rng.choice(LAST), born, rng.choice(STATES), ssn]
        rows.append((f"a:{p}", "a", *person))
        truth[f"a:{p}"] = p
        if p % 3 == 0:
            copy = list(person)
            i = rng.randrange(5)
            if i == 4:  # a typo in the id
                copy[4] = copy[4][:-1] + str((int(copy[4][-1]) + 1) % 10)
            elif i == 2:
                copy[2] = None
            else:
                copy[i] = copy[i][:-1] + "x" if i < 2 else copy[i]
            rows.append((f"a:{p}d", "a", *copy))
            truth[f"a:{p}d"] = p
    return rows, truth


def _conn(rows: list[tuple]) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute("create table records (record_id varchar, source varchar, first_name varchar, "
                 "last_name varchar, birth_date varchar, state varchar, ssn varchar)")
    conn.executemany("insert into records values (?, ?, ?, ?, ?, ?, ?)", rows)
    return conn


def _spec(**extra: object) -> EntitySpec:
    return EntitySpec(name="person", sources=[{"dataset": "a", "id": "id"}], fields=FIELDS, **extra)


def test_learned_weights_follow_how_telling_each_field_is():
    rows, truth = people(3000)
    conn = _conn(rows)
    n, model = score_pairs_with_model(conn, _spec(weights="learned"), "records", "pairs")
    assert model.learned and n > 0
    # an id agreeing by chance is rarer than a state code agreeing: worth far more bits
    assert model.bits["ssn"][0] > model.bits["state"][0] + 8
    assert 0 < model.bits["state"][0] < 3
    # a typo in the id is still good evidence; a different id is evidence against
    assert model.bits["ssn"][1] > 3 and model.bits["ssn"][3] < -1
    for bits in model.bits.values():  # a worse level never proves more than a better one
        assert list(bits) == sorted(bits, reverse=True)
    assert model.prior_bits < -8  # about 1,000 duplicates among 4.5 million pairs
    assert Model.from_json(model.to_json()) == model
    # duplicates are found and nobody else matches
    matched = conn.execute("select left_id, right_id from pairs where score >= 0.9").fetchall()
    wrong = [p for p in matched if truth[p[0]] != truth[p[1]]]
    found = {truth[a] for a, _ in matched}
    assert not wrong
    assert len(found) >= 0.97 * len({t for r, t in truth.items() if r.endswith("d")})


def test_term_frequency_makes_a_rare_name_worth_more_than_a_common_one():
    rows, _ = people(3000)
    conn = _conn(rows)
    score_pairs_with_model(conn, _spec(weights="learned"), "records", "pairs")
    bits = dict(conn.execute(
        "select explanation->>'$.last_name.left', max(cast(explanation->>'$.last_name.bits' as double)) "
        "from pairs where cast(explanation->>'$.last_name.sim' as double) = 1 group by 1").fetchall())
    assert bits["zabrowski"] > bits["smith"] + 3


def test_a_field_override_beats_what_is_learned_and_the_fixed_table():
    rows, _ = people(600)
    for weights in ("learned", "fixed"):
        spec = EntitySpec(name="person", sources=[{"dataset": "a", "id": "id"}], weights=weights,
                          fields=[*FIELDS[:3], {"name": "state", "compare": "exact",
                                                "weights": [0.5, 0, 0, -0.5]}, FIELDS[4]])
        _, model = score_pairs_with_model(_conn(rows), spec, "records", "pairs")
        assert model.bits["state"] == (0.5, 0, 0, -0.5)


def test_too_few_pairs_to_learn_from_use_the_fixed_table():
    rows, _ = people(6)
    _, model = score_pairs_with_model(_conn(rows), _spec(weights="learned"), "records", "pairs")
    assert not model.learned


def test_identifier_comparison_and_blocking_on_field_parts():
    rows = [("a:1", "a", "Anna", "Berg", "1980-01-02", "nsw", "AB-123 456"),
            ("a:2", "a", "Anne", "Berg", "1980-11-02", "nsw", "ab123457"),   # id typo
            ("a:3", "a", "Otto", "Klein", "1980-05-06", "vic", "9999999"),
            ("a:4", "a", "Otto", "Klein", "1975-05-06", "vic", None)]
    conn = _conn(rows)
    spec = _spec(blocking=[["last_name:initial", "birth_date:year"]])
    score_pairs(conn, spec, "records", "pairs")
    pairs = {(a, b): (sim, e) for a, b, sim, e in conn.execute(
        "select left_id, right_id, sim_ssn, explanation from pairs").fetchall()}
    assert set(pairs) == {("a:1", "a:2")}  # same initial and year; a:3/a:4 differ in year
    sim, explanation = pairs[("a:1", "a:2")]
    assert sim == 0.8 and json.loads(explanation)["ssn"]["left"] == "ab123456"
    spec = _spec(blocking=[["first_name:sound"], ["ssn:prefix"]])
    score_pairs(conn, spec, "records", "pairs")
    assert {(a, b) for a, b in conn.execute("select left_id, right_id from pairs").fetchall()} \
        == {("a:1", "a:2"), ("a:3", "a:4")}


@pytest.mark.parametrize(("blocking", "problem"), [
    ([["nope:initial"]], "not among the fields"),
    ([["first_name:middle"]], "unknown part"),
    ([["state:sound"]], "'sound' needs a name or phonetic field"),
])
def test_bad_blocking_parts_are_clear_errors(blocking, problem):
    with pytest.raises(ValidationError, match=problem):
        _spec(blocking=blocking)


def _contracts(contracts, entity_extra: str) -> None:
    contracts.clear()
    (contracts / "people.yaml").write_text("""name: people
description: People.
owner: test@example.com
source: {format: csv, landing: people/*.csv}
primary_key: [person_id]
columns:
  - {name: person_id, nullable: false}
  - {name: first_name}
  - {name: last_name}
  - {name: birth_date, type: date, formats: ["%Y%m%d"], severity: {type: warn}}
  - {name: state}
  - {name: ssn}
""")
    (contracts / "entities" / "person.yaml").write_text(
        "name: person\nsources:\n  - {dataset: people, id: person_id}\n"
        "fields: [first_name, last_name, birth_date, {name: state, compare: exact}, "
        "{name: ssn, compare: identifier}]\n"
        f"checks: {{min_matched_share: 0}}\n{entity_extra}")


def _csv(rows: list[tuple]) -> str:
    def text(v: object) -> str:
        return "" if v is None else str(v).replace("-", "")
    return "person_id,first_name,last_name,birth_date,state,ssn\n" + "".join(
        f"{r[0].split(':')[1]},{','.join(text(v) for v in r[2:])}\n" for r in rows)


def test_a_date_that_did_not_parse_is_matched_on_its_raw_text(settings, land, one_pass, query):
    """19800231 is no date: cleaned keeps NULL (a warning), the match uses the delivered text."""
    _contracts(contracts_dir(settings), "blocking: [[last_name, birth_date]]\n")
    land("people/p.csv", "person_id,first_name,last_name,birth_date,state,ssn\n"
                         "1,Anna,Berg,19800231,nsw,\n2,Anna,Berg,19800231,nsw,\n"
                         "3,Otto,Klein,19700506,vic,\n")
    assert not one_pass().failures
    assert query("select count(*) from cleaned.people where birth_date is null") == [(2,)]
    entity = dict(query("select record_id, entity_id from entity.person"))
    assert entity["people:1"] == entity["people:2"] != entity["people:3"]
    assert query("select birth_date from entity.person__records where record_id = 'people:1'") \
        == [("19800231",)]


def test_learned_weights_through_the_assets_are_stored_and_reused(settings, land, one_pass, query):
    rows, truth = people(900, seed=5)
    _contracts(contracts_dir(settings), "weights: learned\n")
    land("people/p1.csv", _csv(rows[:-1]))
    assert not one_pass().failures
    ((learned, records, text),) = query("select learned, records, model from entity.person__model")
    assert learned and records == len(rows) - 1
    model = Model.from_json(text)
    assert model.bits["ssn"][0] > model.bits["state"][0]
    # one more record: scored with the stored weights, not learned again from a single record
    land("people/p2.csv", _csv(rows[-1:]))
    assert not one_pass().failures
    assert query("select count(*) from entity.person__model") == [(1,)]
    entity = dict(query("select record_id, entity_id from entity.person"))
    groups: dict[str, set] = {}
    for record, e in entity.items():
        groups.setdefault(e, set()).add(truth[record.replace("people:", "a:")])
    assert sum(len(g) > 1 for g in groups.values()) == 0  # no entity mixes two people
    last = rows[-1][0].replace("a:", "people:")
    twin = last[:-1] if last.endswith("d") else None
    if twin:
        assert entity[last] == entity[twin]


def test_an_evidence_group_counts_with_its_best_field():
    """Street and postcode of one address are one piece of evidence: relatives share both."""
    rows = [("a:1", "a", "Anna", "Berg", "1980-01-02", "nsw", None),
            ("a:2", "a", "Anna", "Berg", "1980-01-02", "nsw", None)]
    fields = ["first_name", "last_name", "birth_date", {"name": "state", "compare": "exact"},
              {"name": "ssn", "compare": "identifier"}]
    grouped = [*fields[:3], {"name": "state", "compare": "exact", "group": "address"},
               {"name": "ssn", "compare": "identifier", "group": "address"}]
    totals = {}
    for name, spec_fields in (("apart", fields), ("grouped", grouped)):
        spec = EntitySpec(name="person", sources=[{"dataset": "a", "id": "id"}], fields=spec_fields)
        conn = _conn(rows)
        score_pairs(conn, spec, "records", "pairs")
        (text,) = conn.execute("select explanation from pairs").fetchone()
        totals[name] = json.loads(text)["total_bits"]
    # ssn is missing: the group is worth what state is worth, exactly as apart
    assert totals["grouped"] == totals["apart"]
    rows = [(*r[:6], "1234567") for r in rows]
    for name, spec_fields in (("apart", fields), ("grouped", grouped)):
        spec = EntitySpec(name="person", sources=[{"dataset": "a", "id": "id"}], fields=spec_fields)
        conn = _conn(rows)
        score_pairs(conn, spec, "records", "pairs")
        (text,) = conn.execute("select explanation from pairs").fetchone()
        totals[name] = json.loads(text)["total_bits"]
    # both agree: apart they add up (3 + 8 bits), grouped only the id's 8 count
    assert totals["apart"] - totals["grouped"] == pytest.approx(3.0)
