"""Memoising by identity.

Parsed regions, statements and shape results are cached and immutable, so after a
keystroke the same objects come back for every unchanged region. Results derived
from them are kept per object identity: finding them costs a dict lookup instead of
hashing (or re-walking) whole expression trees. The object is kept alive with its
result, so its id cannot be reused while the entry exists.
"""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class IdMemo(Generic[K, V]):
    def __init__(self, limit: int = 50_000):
        self._data: dict[int, tuple[K, V]] = {}
        self._limit = limit

    def get(self, obj: K, compute: Callable[[K], V]) -> V:
        hit = self._data.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        if len(self._data) > self._limit:
            self._data.clear()
        value = compute(obj)
        self._data[id(obj)] = (obj, value)
        return value
