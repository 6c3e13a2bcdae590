"""Grouping things by pairwise links (connected components of a graph given by its edges)."""

from __future__ import annotations

from collections.abc import Iterable


def groups(count: int, links: Iterable[tuple[int, int]]) -> list[list[int]]:
    """The indices ``0 .. count - 1`` in groups: two indices linked, directly or through others, share
    one. Groups come in the order of their smallest index, each in increasing order."""
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]  # path halving keeps later lookups short
            i = parent[i]
        return i

    for i, j in links:
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    found: dict[int, list[int]] = {}
    for i in range(count):
        found.setdefault(root(i), []).append(i)
    return list(found.values())
