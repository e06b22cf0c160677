"""A thread-safe least-recently-used cache that computes its misses in one batch."""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Hashable, Sequence


class LRU:
    """At most `size` entries; get_many() looks keys up and computes the missing ones together."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[Hashable], compute: Callable[[list], Sequence]) -> dict:
        """{key: value} for every key; `compute(missing)` returns the values of the missing keys, in order."""
        with self._lock:
            found = {k: self._items[k] for k in keys if k in self._items}
            for k in found:
                self._items.move_to_end(k)
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            values = compute(missing)
            with self._lock:
                for k, v in zip(missing, values):
                    self._items[k] = v
                    found[k] = v
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return found

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
