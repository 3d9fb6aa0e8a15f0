"""A small thread-safe cache that forgets: at most `max_items` entries (least recently used
dropped first), each dropped `ttl_s` seconds after its last use.

What visitors bring (an uploaded corpus, its embeddings, the retrievers fitted on it) is kept
here, so a busy Space holds the last few in memory and none for ever; what the app ships is
cached without limit elsewhere.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

TTL_S = 30 * 60  # a visitor's corpus is forgotten after half an hour unused


class ExpiringLRU(Generic[V]):
    """Key -> value, bounded in size and in idle time; `clock` is injectable for tests."""

    def __init__(
        self, max_items: int, ttl_s: float = TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1, not {max_items}")
        self.max_items = max_items
        self.ttl_s = ttl_s
        self.clock = clock
        self._items: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        """The value (its idle time restarts), or None when absent or expired."""
        with self._lock:
            self._expire()
            if key not in self._items:
                return None
            _, value = self._items.pop(key)
            self._items[key] = (self.clock(), value)
            return value

    def put(self, key: Hashable, value: V) -> None:
        """Keep `value`, dropping the least recently used entry when full."""
        with self._lock:
            self._expire()
            self._items.pop(key, None)
            self._items[key] = (self.clock(), value)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def items(self) -> list[tuple[Hashable, V]]:
        """The live (key, value) pairs, least recently used first; their idle times are not
        restarted (`get` the ones used)."""
        with self._lock:
            self._expire()
            return [(key, value) for key, (_, value) in self._items.items()]

    def clear(self) -> None:
        """Forget every entry (a benchmark measuring the cold path)."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._items)

    def _expire(self) -> None:
        now = self.clock()
        while self._items:
            key, (used, _) = next(iter(self._items.items()))
            if now - used < self.ttl_s:
                return
            del self._items[key]
