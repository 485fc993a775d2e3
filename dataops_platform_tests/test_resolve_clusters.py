"""Clusters of 3-6 records through the real assets: dedup inside one source, link-only
across deduplicated sources, and both mixed.

Each scenario writes its own dataset and entity contracts, lands CSV files, runs the
platform's pass (raw -> cleaned -> entities -> golden on a real DuckDB file) and compares the
entity table with the known people. Every duplicate here matches every other record of its
person, so a run that keeps fewer edges than all of them (the old ``x NOT IN (NULL)`` edge
selection kept only each record's best match) splits the clusters.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from dataops_platform_tests.project_files import ContractsDir, contracts_dir

HEADER = "person_id,first_name,last_name,email,birth_date,city\n"

# (first, last, email, birth date, city) of distinct people; no two look alike
PEOPLE = [
    ("Jonathan", "Smith", "jonathan.smith@example.com", "1980-05-17", "Berlin"),
    ("Maria", "Garcia", "maria.garcia@example.es", "1975-03-04", "Madrid"),
    ("Katherine", "Mueller", "k.mueller@example.de", "1991-11-23", "Hamburg"),
    ("Ahmet", "Yilmaz", "ahmet.yilmaz@example.com", "1968-02-29", "Cologne"),
    ("Giulia", "Rossi", "giulia.rossi@example.it", "2001-07-08", "Rome"),
    ("Pierre", "Dubois", "pierre.dubois@example.fr", "1959-12-01", "Lyon"),
    ("Olivia", "Brown", "olivia.brown@example.co.uk", "1988-09-14", "London"),
]


def variant(person: tuple[str, ...], j: int) -> tuple[str, ...]:
    """The j-th way a person was typed in: case, whitespace, +tags, a typo, missing values."""
    first, last, email, born, city = person
    local, domain = email.split("@")
    return [
        (first, last, email, born, city),
        (first.upper(), last, f"{local}+shop@{domain}", born, city.lower()),
        (f" {first} ", last.lower(), email.upper(), born, ""),
        (first, last[:-1] + last[-1].upper(), email, born, f"  {city}"),
        (first.lower(), last, "", born, city),
        (first, last, email, born, city.upper()),
    ][j]


def csv_rows(rows: list[tuple[str, tuple[str, ...]]]) -> str:
    return HEADER + "".join(f"{rid},{','.join(values)}\n" for rid, values in rows)


def write_contracts(contracts: ContractsDir, datasets: list[str], deduplicated: set[str]) -> None:
    """Only these datasets and one entity contract over them (the demo's are removed)."""
    contracts.clear()
    for name in datasets:
        (contracts / f"{name}.yaml").write_text(f"""name: {name}
description: People known to {name}.
owner: test@example.com
source: {{format: csv, landing: {name}/*.csv}}
primary_key: [person_id]
columns:
  - {{name: person_id, nullable: false}}
  - {{name: first_name}}
  - {{name: last_name}}
  - {{name: email}}
  - {{name: birth_date}}
  - {{name: city}}
""")
    sources = "".join(f"  - {{dataset: {d}, id: person_id"
                      f"{', deduplicated: true' if d in deduplicated else ''}}}\n" for d in datasets)
    (contracts / "entities" / "person.yaml").write_text(
        f"name: person\nsources:\n{sources}"
        "fields: [first_name, last_name, email, birth_date, city]\n"
        "checks: {min_matched_share: 0.1}\n")


def clusters(query) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = defaultdict(set)
    for record, entity in query("select record_id, entity_id from entity.person"):
        groups[entity].add(record)
    return {frozenset(g) for g in groups.values()}


def assert_checks_passed(result) -> None:
    assert result.ok
    checks = {c.check: c.passed for c in result.checks if c.asset == "entities/person"}
    assert checks == {"one_entity_per_record": True, "entity_count_drift": True,
                      "matched_share": True, "review_backlog": True}, checks


def assert_golden(query, expected: set[frozenset[str]]) -> None:
    golden = {frozenset(ids) for (ids,) in query("select record_ids from curated.person_golden")}
    assert golden == expected


def test_dedup_within_one_source_gives_clusters_of_any_size(settings, land, one_pass, query):
    write_contracts(contracts_dir(settings), ["people"], deduplicated=set())
    sizes = [3, 4, 5, 6, 1, 2, 3]
    rows, expected = [], set()
    for p, (person, size) in enumerate(zip(PEOPLE, sizes, strict=True)):
        ids = [f"P{p}{j}" for j in range(size)]
        rows += [(rid, variant(person, j)) for j, rid in enumerate(ids)]
        expected.add(frozenset(f"people:{rid}" for rid in ids))
    land("people/part_1.csv", csv_rows(rows))
    assert_checks_passed(one_pass())
    assert clusters(query) == expected
    assert_golden(query, expected)

    # a later delivery grows a cluster of 5 to 6 records: the entity keeps its ID
    before = dict(query("select record_id, entity_id from entity.person"))
    land("people/part_2.csv", csv_rows([("P25", variant(PEOPLE[2], 5))]))
    assert_checks_passed(one_pass())
    after = dict(query("select record_id, entity_id from entity.person"))
    assert {r: after[r] for r in before} == before
    assert after["people:P25"] == before["people:P20"]
    assert sum(1 for e in after.values() if e == before["people:P20"]) == 6
    assert not query("select * from entity.person__history where event in ('merged', 'split')")


def test_link_only_across_deduplicated_sources(settings, land, one_pass, query):
    """Six curated lists, each one record per person: a person in all six is one entity of
    six records; one in three of them an entity of three."""
    sources = [f"list_{i}" for i in range(6)]
    write_contracts(contracts_dir(settings), sources, deduplicated=set(sources))
    present = {0: range(6), 1: range(3), 2: range(4), 3: range(5), 4: [2], 5: [0, 5]}
    expected = set()
    per_source: dict[int, list] = defaultdict(list)
    for p, where in present.items():
        for s in where:
            per_source[s].append((f"R{p}", variant(PEOPLE[p], s)))
        expected.add(frozenset(f"list_{s}:R{p}" for s in where))
    for s, rows in per_source.items():
        land(f"list_{s}/export.csv", csv_rows(rows))
    assert_checks_passed(one_pass())
    assert clusters(query) == expected
    assert_golden(query, expected)


def test_mixed_deduplicated_crm_and_a_shop_with_duplicates(settings, land, one_pass, query):
    """A curated CRM (one id per person) and a shop where people registered several times:
    each person is the CRM record plus all their shop accounts (3-6 records)."""
    write_contracts(contracts_dir(settings), ["crm", "shop"], deduplicated={"crm"})
    accounts = {0: 2, 1: 3, 2: 4, 3: 5, 4: 0, 5: 1}
    crm, shop, expected = [], [], set()
    for p, n in accounts.items():
        crm.append((f"C{p}", variant(PEOPLE[p], 0)))
        ids = [f"S{p}{j}" for j in range(n)]
        shop += [(rid, variant(PEOPLE[p], j + 1)) for j, rid in enumerate(ids)]
        expected.add(frozenset([f"crm:C{p}", *(f"shop:{rid}" for rid in ids)]))
    # a shop-only person registered three times: one entity without a CRM record
    ids = [f"S6{j}" for j in range(3)]
    shop += [(rid, variant(PEOPLE[6], j)) for j, rid in enumerate(ids)]
    expected.add(frozenset(f"shop:{rid}" for rid in ids))
    land("crm/crm.csv", csv_rows(crm))
    land("shop/accounts.csv", csv_rows(shop))
    assert_checks_passed(one_pass())
    assert clusters(query) == expected
    assert_golden(query, expected)
    # two CRM records are never one entity
    assert all(sum(r.startswith("crm:") for r in c) <= 1 for c in clusters(query))


@pytest.mark.parametrize("size", [3, 6])
def test_edges_of_a_clique_are_all_kept(size):
    """The edge selection alone (no Dagster): every pair of a clique survives without a
    deduplicated source, and only the best edge toward a deduplicated source survives."""
    import duckdb

    from dataops_platform.resolve import state
    from dataops_platform.resolve.run import _edges_sql
    from dataops_platform.resolve.spec import EntitySpec

    conn = duckdb.connect()
    for dedup in (False, True):
        spec = EntitySpec(name="person", fields=["first_name"], sources=[
            {"dataset": "a", "id": "id", "deduplicated": dedup}, {"dataset": "b", "id": "id"}])
        state.ensure(conn, spec)
        conn.execute(f"delete from {state.part(spec, 'records')}")
        conn.execute(f"delete from {state.part(spec, 'matches')}")
        ids = [f"a:{i}" for i in range(size)] + ["b:0"]
        conn.executemany(f"insert into {state.part(spec, 'records')} (record_id) values (?)",
                         [(i,) for i in ids])
        pairs = [(x, y) for i, x in enumerate(ids) for y in ids[i + 1:]
                 if not dedup or y == "b:0"]  # a deduplicated source's own pairs are never stored
        conn.executemany(f"insert into {state.part(spec, 'matches')} (left_id, right_id, score, "
                         "decision, decided_by) values (?, ?, ?, 'match', 'score')",
                         [(x, y, 0.91 + 0.001 * k) for k, (x, y) in enumerate(pairs)])
        edges = [(a, b) for a, b, _ in conn.execute(_edges_sql(spec)).fetchall()]
        if not dedup:
            assert len(edges) == len(pairs)
        else:  # a's records never pair with each other; b:0 keeps its best a-record only
            assert edges == [(f"a:{size - 1}", "b:0")]


def test_strict_clustering_does_not_chain():
    from dataops_platform.resolve.components import connected_components, strict_components

    chain = [("a", "b", 0.99), ("b", "c", 0.95), ("c", "d", 0.97)]
    assert len(set(connected_components("abcd", [e[:2] for e in chain]).values())) == 1
    strict = strict_components("abcd", chain)
    assert strict["a"] == strict["b"] and strict["c"] == strict["d"] and strict["a"] != strict["c"]
    clique = [(x, y, 0.9) for i, x in enumerate("abcdef") for y in "abcdef"[i + 1:]]
    assert set(strict_components("abcdefg", clique).values()) == {"a", "g"}
    # a clique of four missing one pair still has more than half of every join: one entity
    assert len(set(strict_components("abcd", [e for e in clique if set(e[:2]) <= set("abcd")
                                               and e[:2] != ("a", "d")]).values())) == 1


def test_strict_clustering_through_the_assets(settings, land, one_pass, query):
    """Two people bridged by one record that resembles both: components would make one
    entity of all five records, ``clustering: strict`` keeps the two people apart."""
    write_contracts(contracts_dir(settings), ["people"], deduplicated=set())
    entity = contracts_dir(settings) / "entities" / "person.yaml"
    entity.write_text(entity.read_text() + "clustering: strict\n")
    anna = ("Anna", "Berg", "anna.berg@example.de", "1980-01-02", "Kiel")
    anne = ("Anna", "Berg", "a.berg77@example.org", "1977-03-04", "Kiel")  # a namesake
    bridge = ("Anna", "Berg", "a.berg77@example.org", "1980-01-02", "Kiel")  # email of one, birth of other
    rows = [("A1", anna), ("A2", variant(anna, 1)), ("B1", anne), ("B2", variant(anne, 3)),
            ("X", bridge)]
    land("people/p.csv", csv_rows(rows))
    assert_checks_passed(one_pass())
    found = clusters(query)
    assert frozenset({"people:A1", "people:A2"}) <= max(found, key=lambda c: "people:A1" in c)
    assert not any({"people:A1", "people:B1"} <= c for c in found)


def test_strict_clustering_counts_matching_pairs_blocking_never_compared(settings, land, one_pass,
                                                                          query):
    """One person in three records, blocked on email or birth date: A has both, B no birth
    date, C no email. A-B and A-C are scored edges; B-C share no blocking key, so they were
    never compared, and strict clustering counted that as a non-match (1 of 2 pairs between
    {A, B} and {C}): C was split off. The pair is now scored when the join is considered
    (same names and city: a match at 0.5) and the three are one entity; a namesake with
    another email, birth date and city stays apart."""
    write_contracts(contracts_dir(settings), ["people"], deduplicated=set())
    entity = contracts_dir(settings) / "entities" / "person.yaml"
    entity.write_text(entity.read_text() + "clustering: strict\nblocking: [[email], [birth_date]]\n"
                      "decision: {match: 0.5, review: 0.3}\n")
    first, last, email, born, city = PEOPLE[0]
    rows = [("A", (first, last, email, born, city)), ("B", (first, last, email, "", city)),
            ("C", (first, last, "", born, city)),
            ("D", (first, last, "j.smith@example.org", "1961-02-03", "Potsdam"))]
    land("people/p.csv", csv_rows(rows))
    assert_checks_passed(one_pass())
    assert clusters(query) == {frozenset({"people:A", "people:B", "people:C"}),
                               frozenset({"people:D"})}
    assert not query("select * from entity.person__matches where left_id = 'people:B' "
                     "and right_id = 'people:C'")  # never a candidate: not stored
