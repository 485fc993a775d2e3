"""Connected components of match edges: the transitive closure of "is the same entity".

A pure function (no warehouse) so the incremental ID assignment, the benchmark and the
tests share one definition. Union-find with path halving: about a second per million edges.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import TypeVar

Node = TypeVar("Node", bound=Hashable)


def connected_components(nodes: Iterable[Node],
                         edges: Iterable[tuple[Node, Node]]) -> dict[Node, Node]:
    """Every node (and every edge end) -> its component's smallest member."""
    parent: dict[Node, Node] = {}

    def find(x: Node) -> Node:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for node in nodes:
        parent.setdefault(node, node)
    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:  # the smaller root wins, so a component's name does not depend on order
            if rb < ra:  # type: ignore[operator]
                ra, rb = rb, ra
            parent[rb] = ra
    return {node: find(node) for node in list(parent)}
