"""Entity resolution on awkward data gives results or a clear error, never a traceback.

The engine on degenerate inputs (all-NULL or constant fields, one record, no records), then
the assets on real files: a name column whose ``rename_from`` matched nothing (every value
NULL: DuckDB once failed binding ``list_value(DOUBLE, VARCHAR)``), sources with one record,
with only a header, with no file at all, and ids that are numbers, not text.
"""

from __future__ import annotations

import duckdb
import pytest
import yaml

from dataops_platform.resolve.engine import score_pairs
from dataops_platform.resolve.spec import EntitySpec
from dataops_platform_tests.project_files import contracts_dir

FIELDS = ["first_name", "last_name", "email", "birth_date", "city", {"name": "postcode", "compare": "exact"}]
SPEC = EntitySpec(name="person", sources=[{"dataset": "a", "id": "id"}], fields=FIELDS)
COLUMNS = ["first_name", "last_name", "email", "birth_date", "city", "postcode"]
ANNA = ("Anna", "Berg", "anna@example.de", "1980-01-02", "Kiel", "24103")
NOTHING = (None,) * 6

CASES = {  # name -> (rows of (record_id, *values), expected scored pairs)
    "all names NULL": ([(f"a:{i}", None, None, *ANNA[2:]) for i in range(3)], 3),
    "every field NULL": ([(f"a:{i}", *NOTHING) for i in range(3)], 0),
    "every field constant": ([(f"a:{i}", *ANNA) for i in range(4)], 6),
    "one record": ([("a:1", *ANNA)], 0),
    "no records": ([], 0),
    "empty strings and blanks": ([("a:1", "", " ", "", "", "  ", ""), ("a:2", *ANNA)], 0),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_engine_scores_degenerate_inputs(case):
    rows, expected = CASES[case]
    conn = duckdb.connect()
    conn.execute("create table records (record_id varchar, source varchar, "
                 + ", ".join(f"{c} varchar" for c in COLUMNS) + ")")
    if rows:
        conn.executemany(f"insert into records values (?, 'a', {', '.join('?' * len(COLUMNS))})", rows)
    assert score_pairs(conn, SPEC, "records", "pairs") == expected
    scores = [s for (s,) in conn.execute("select score from pairs").fetchall()]
    assert all(0.0 <= s <= 1.0 for s in scores)
    if case == "every field constant":  # identical records are the same entity
        assert min(scores) > 0.99


def test_all_null_columns_typed_by_duckdb_itself():
    """A column of only NULLs that is not VARCHAR (``select null``) is read as text."""
    conn = duckdb.connect()
    conn.execute("create table records as select 'a:' || i as record_id, 'a' as source, "
                 "null as first_name, null as last_name, 'x@example.com' as email, "
                 "null as birth_date, 1 as city, 24103 as postcode from range(3) t(i)")
    assert score_pairs(conn, SPEC, "records", "pairs") == 3


def _write_contracts(contracts, datasets: dict[str, str], entity: str) -> None:
    contracts.clear()
    for name, columns in datasets.items():
        (contracts / f"{name}.yaml").write_text(
            f"name: {name}\ndescription: People of {name}.\nowner: test@example.com\n"
            f"source: {{format: csv, landing: {name}/*.csv}}\nprimary_key: [person_id]\n"
            f"columns:\n{columns}")
    (contracts / "entities" / "person.yaml").write_text(entity)


PLAIN = """  - {name: person_id, type: integer, nullable: false}
  - {name: first_name}
  - {name: last_name}
  - {name: birth_date}
  - {name: postcode}
"""
ENTITY = """name: person
sources:
{sources}fields: [first_name, last_name, birth_date, {{name: postcode, compare: exact}}]
checks: {{min_matched_share: 0}}
"""
HEADER = "person_id,first_name,last_name,birth_date,postcode\n"


def _entity(sources: list[str]) -> str:
    return ENTITY.format(sources="".join(f"  - {{dataset: {s}, id: person_id}}\n" for s in sources))


def _checks(result) -> dict[str, bool]:
    return {c.check: c.passed for c in result.checks if c.asset == "entities/person"}


def test_a_name_column_that_matched_nothing_resolves_on_the_other_fields(
        settings, land, one_pass, query):
    """``rename_from: Vorname`` but the file says ``Firstname``: every first name is NULL."""
    columns = PLAIN.replace("{name: first_name}", "{name: first_name, rename_from: Vorname}")
    _write_contracts(contracts_dir(settings), {"people": columns}, _entity(["people"]))
    land("people/p.csv", "person_id,Firstname,last_name,birth_date,postcode\n"
                         "1,Anna,Berg,1980-01-02,24103\n2,Anna,Berg,1980-01-02,24103\n"
                         "3,Otto,Klein,1970-05-06,10115\n")
    result = one_pass()
    assert not result.failures, result.failures
    assert query("select count(*) from cleaned.people where first_name is null") == [(3,)]
    entity = dict(query("select record_id, entity_id from entity.person"))
    assert len(entity) == 3
    assert entity["people:1"] == entity["people:2"] != entity["people:3"]
    assert _checks(result)["one_entity_per_record"]


def test_one_record_and_empty_sources_and_numeric_ids(settings, land, one_pass, query):
    """Three sources: one with a single record, one with a header only, one with the person's
    duplicate. Ids are integers; a source never delivered at all is skipped by the resolution
    (the pass itself waits for every source, as the automation does)."""
    sources = ["single", "header_only", "more"]
    _write_contracts(contracts_dir(settings), dict.fromkeys(sources, PLAIN), _entity(sources))
    land("single/s.csv", HEADER + "7,Anna,Berg,1980-01-02,24103\n")
    land("header_only/h.csv", HEADER)
    land("more/m.csv", HEADER + "0007,anna,BERG,1980-01-02,24103\n8,Otto,Klein,1970-05-06,10115\n")
    result = one_pass()
    assert not result.failures, result.failures
    assert all(_checks(result).values()), _checks(result)
    entity = dict(query("select record_id, entity_id from entity.person"))
    # integer ids are text in the entity table: "0007" was cleaned to 7
    assert set(entity) == {"single:7", "more:7", "more:8"}
    assert entity["single:7"] == entity["more:7"] != entity["more:8"]
    assert query("select count(*) from curated.person_golden") == [(2,)]

    from dataops_platform.resolve.run import resolve

    spec = EntitySpec.model_validate(yaml.safe_load(_entity([*sources, "never"])))
    conn = duckdb.connect(str(settings.warehouse_path))
    try:
        outcome = resolve(conn, spec, "run-never")
    finally:
        conn.close()
    assert outcome.records == 3 and outcome.new_records == 0
    assert dict(query("select record_id, entity_id from entity.person")) == entity


def test_sources_without_any_record_give_an_empty_entity_table(settings, land, one_pass, query):
    _write_contracts(contracts_dir(settings), {"people": PLAIN}, _entity(["people"]))
    land("people/empty.csv", HEADER)
    result = one_pass()
    assert not result.failures, result.failures
    assert query("select count(*) from entity.person") == [(0,)]
    assert query("select count(*) from curated.person_golden") == [(0,)]


def test_a_source_without_data_is_a_clear_error_not_a_traceback(settings):
    """Resolving before any source has a cleaned table: one sentence naming the sources."""
    from dataops_platform.resolve.run import NothingToResolve, resolve

    spec = EntitySpec(name="person", sources=[{"dataset": "people", "id": "person_id"}],
                      fields=["first_name"])
    conn = duckdb.connect(str(settings.warehouse_path))
    try:
        with pytest.raises(NothingToResolve, match="No source of entity 'person' has data yet: people"):
            resolve(conn, spec, "run-1")
    finally:
        conn.close()
