"""Stable entity IDs: the assignment rules on hand-made components (no warehouse needed)."""

from dataops_platform.resolve.components import connected_components
from dataops_platform.resolve.identity import Event, assign


def _resolve(records, edges, previous=None, used=None):
    components = connected_components(records, edges)
    return assign(components, previous or {}, used if used is not None else set(), "C")


def test_new_components_get_ids_from_their_first_record_the_same_on_every_rebuild():
    first, events = _resolve(["crm:1", "shop:9", "crm:2"], [("crm:1", "shop:9")])
    again, _ = _resolve(["shop:9", "crm:2", "crm:1"], [("shop:9", "crm:1")])
    assert first == again
    assert first["crm:1"] == first["shop:9"] != first["crm:2"]
    assert Event("created", first["crm:1"], "crm:1") in events
    assert Event("joined", first["crm:1"], "shop:9") in events


def test_ids_stay_when_unrelated_records_arrive_and_a_joiner_takes_the_existing_id():
    before, _ = _resolve(["crm:1", "shop:9", "crm:2"], [("crm:1", "shop:9")])
    after, events = _resolve(["crm:1", "shop:9", "crm:2", "crm:3", "shop:7"],
                             [("crm:1", "shop:9"), ("shop:7", "crm:2")], previous=before)
    assert {r: after[r] for r in before} == before
    assert after["shop:7"] == before["crm:2"]
    assert after["crm:3"] not in before.values()
    assert {e.event for e in events} == {"created", "joined"}


def test_a_record_bridging_two_entities_merges_them_into_the_larger_and_records_it():
    before, _ = _resolve(["a:1", "a:2", "b:1"], [("a:1", "a:2")])
    big, small = before["a:1"], before["b:1"]
    after, events = _resolve(["a:1", "a:2", "b:1", "c:1"],
                             [("a:1", "a:2"), ("c:1", "a:2"), ("c:1", "b:1")], previous=before)
    assert set(after.values()) == {big}
    assert Event("merged", big, other_entity_id=small) in events
    assert not [e for e in events if e.event == "moved"]  # the merge event says it all


def test_a_split_keeps_the_id_on_the_larger_part_and_gives_the_rest_a_new_one():
    before, _ = _resolve(["a:1", "a:2", "a:3"], [("a:1", "a:2"), ("a:2", "a:3")])
    entity = before["a:1"]
    used = set(before.values())
    after, events = _resolve(["a:1", "a:2", "a:3"], [("a:1", "a:2")], previous=before, used=used)
    assert after["a:1"] == after["a:2"] == entity
    assert after["a:3"] != entity
    assert Event("split", after["a:3"], other_entity_id=entity) in events
    assert Event("moved", after["a:3"], "a:3", other_entity_id=entity) in events


def test_an_id_is_never_reused_for_another_entity():
    used = {"C-" + "0" * 10}
    first, _ = _resolve(["x:1"], [], used=used)
    # the same founder again after its entity was merged away: a fresh id, not the old one
    second, _ = _resolve(["x:1"], [], used=used | set(first.values()))
    assert first["x:1"] != second["x:1"]


def test_every_record_belongs_to_exactly_one_entity_and_removed_ones_leave():
    before, _ = _resolve(["a:1", "a:2"], [("a:1", "a:2")])
    after, events = _resolve(["a:1"], [], previous=before)
    assert set(after) == {"a:1"}
    assert Event("left", before["a:2"], "a:2") in events
