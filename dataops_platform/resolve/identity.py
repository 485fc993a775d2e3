"""Stable entity IDs: who keeps which ID when the connected components change.

A pure function of (new components, previous membership), so the rules are testable
without a warehouse:

- a component holding records of exactly one previous entity keeps that entity's ID —
  unrelated arrivals never change an ID;
- a component bridging several previous entities keeps the one with the most records
  (ties: the smaller ID) and records a ``merged`` event for each one it absorbs;
- when a previous entity's records fall apart (a review said "distinct"), the part holding
  most of them keeps the ID and every other part is a new entity with a ``split`` event;
- a brand-new component gets an ID derived from its first record (``<PREFIX>-<sha1>``), so a
  rebuild from nothing gives the same IDs; an ID is never reused for another entity.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Event:
    """One line of the append-only entity history."""

    event: str  # created | joined | merged | split | moved | left
    entity_id: str
    record_id: str | None = None
    other_entity_id: str | None = None


def new_id(prefix: str, founder: str, used: set[str]) -> str:
    """A fresh ID derived from the entity's first record; never one used before."""
    salt = 0
    while True:
        text = founder if salt == 0 else f"{founder}#{salt}"
        candidate = f"{prefix}-{hashlib.sha1(text.encode()).hexdigest()[:10]}"
        if candidate not in used:
            used.add(candidate)
            return candidate
        salt += 1


def assign(components: dict[str, str], previous: dict[str, str], used: set[str],
           prefix: str) -> tuple[dict[str, str], list[Event]]:
    """(record -> entity ID, events) for the components (record -> component root)."""
    members: dict[str, list[str]] = defaultdict(list)
    for record, root in components.items():
        members[root].append(record)
    spread: dict[str, Counter[str]] = defaultdict(Counter)  # old entity -> component -> records
    for record, root in components.items():
        if record in previous:
            spread[previous[record]][root] += 1
    size = {entity: sum(parts.values()) for entity, parts in spread.items()}
    home = {entity: min(parts, key=lambda root: (-parts[root], root))
            for entity, parts in spread.items()}
    used |= set(previous.values())

    assigned: dict[str, str] = {}
    events: list[Event] = []
    for root in sorted(members):
        records = sorted(members[root])
        claimed = sorted((e for e in {previous[r] for r in records if r in previous}
                          if home[e] == root), key=lambda e: (-size[e], e))
        if claimed:
            entity = claimed[0]
            events += [Event("merged", entity, other_entity_id=other) for other in claimed[1:]]
        else:
            entity = new_id(prefix, records[0], used)
            origins = Counter(previous[r] for r in records if r in previous)
            events.append(Event("split", entity, other_entity_id=origins.most_common(1)[0][0])
                          if origins else Event("created", entity, record_id=records[0]))
        for record in records:
            assigned[record] = entity
            before = previous.get(record)
            if before is None:
                events.append(Event("joined", entity, record))
            elif before != entity and before not in claimed:
                events.append(Event("moved", entity, record, other_entity_id=before))
    events += [Event("left", entity, record) for record, entity in sorted(previous.items())
               if record not in components]
    return assigned, events
