"""Stores built on atomic counters: memcached, and any other cache through
Django's ``add`` and ``incr``.

A :class:`CounterStore` runs an algorithm that can count
(:class:`~drf_ratelimit._algorithms.base.CountingAlgorithm`: the fixed and
sliding windows) over its :class:`~drf_ratelimit._algorithms.base.Counters`,
and an algorithm that swaps (the token bucket) by compare-and-swap when the
cache has it. Anything else is refused (system check E008).

:class:`DjangoCounters` counts through Django's cache API; memcached's
faster counters are in :mod:`.memcached`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from contextlib import suppress

from django.core.cache.backends.base import BaseCache

from drf_ratelimit._algorithms.base import (
    Algorithm,
    Charge,
    Counters,
    Outcome,
    counting,
    swapping,
)
from drf_ratelimit._storage.base import Quotas, as_count, unavailable
from drf_ratelimit._storage.swap import Swapper, run_by_swapping

#: Closed windows each store remembers (a few hundred kB of keys at most).
CLOSED_WINDOWS_KEPT = 4096


class ReadsClosedWindows:
    """What both kinds of counters share: a counter that no longer changes (a
    window that has ended) is read once and remembered, the most recent first.
    Subclasses count with :meth:`add`."""

    def __init__(self) -> None:
        self.closed: OrderedDict[str, int] = OrderedDict()

    def add(self, keys: Sequence[str], delta: int, timeouts: Sequence[int]) -> list[int]:
        raise NotImplementedError

    def read_closed(self, key: str, closed: bool) -> int:
        remembered = self.closed.get(key) if closed else None
        if remembered is not None:
            self.closed.move_to_end(key)
            return remembered
        value = self.add([key], 0, [0])[0]
        if closed:
            self.closed[key] = value
            if len(self.closed) > CLOSED_WINDOWS_KEPT:
                self.closed.popitem(last=False)
        return value


class CounterStore:
    """Counting algorithms on counters; swapping ones when the cache can compare-and-swap."""

    server_clock = False

    def __init__(self, counters: Counters, name: str, swapper: Swapper | None = None) -> None:
        self.counters = counters
        self.name = name
        self.swapper = swapper

    def accepts(self, algorithm: Algorithm) -> bool:
        if counting(algorithm) is not None:
            return True
        return self.swapper is not None and swapping(algorithm) is not None

    def run(self, quotas: Quotas, charge: Charge) -> Outcome:
        assert charge.now_us is not None, "a store without a clock needs the app's time"
        algorithm = counting(quotas.algorithm)
        if algorithm is not None:
            return algorithm.count(self.counters, quotas.items, charge)
        assert self.swapper is not None
        return run_by_swapping(self.swapper, quotas, charge)


class DjangoCounters(ReadsClosedWindows):
    """Counters through Django's cache API, for caches drf_ratelimit has no
    faster path for. Atomic wherever the cache's ``add`` and ``incr`` are
    (memcached, local memory within one process); the system checks warn
    about the others.

    ``incr_first``: try ``incr`` before ``add`` (memcached: the steady state is
    then one round trip); otherwise ``add`` first (caches where ``incr`` of a
    missing key is expensive or noisy).
    """

    def __init__(self, cache: BaseCache, name: str, errors: tuple[type[BaseException], ...]):
        super().__init__()
        self.cache = cache
        self.name = name
        self.errors = errors
        self.incr_first = False

    def add(self, keys: Sequence[str], delta: int, timeouts: Sequence[int]) -> list[int]:
        try:
            pairs = zip(keys, timeouts, strict=True)
            return [self._add(key, delta, timeout) for key, timeout in pairs]
        except self.errors as exc:
            raise unavailable(self.name, exc) from exc

    def _add(self, key: str, delta: int, timeout: int) -> int:
        cache = self.cache
        if delta == 0:
            return self._read(key)
        if self.incr_first:
            try:
                return as_count(cache.incr(key, delta), self.name)
            except ValueError:  # no such key yet
                pass
        if cache.add(key, delta, timeout):
            return delta
        try:
            return as_count(cache.incr(key, delta), self.name)
        except ValueError:  # the key vanished between add and incr (eviction, a dead server)
            raise unavailable(self.name, LookupError(f"{key!r} vanished")) from None

    def _read(self, key: str) -> int:
        # Read with ``incr 0``, not ``get``: a memcached client answers a ``get``
        # to a server it has marked failed with the default (a count of 0,
        # "not limited"), but an ``incr`` with something as_count rejects.
        try:
            return as_count(self.cache.incr(key, 0), self.name)
        except ValueError:  # no such key: nothing counted in this window yet
            return 0

    def give_back(self, keys: Sequence[str], delta: int) -> None:
        try:
            for key in keys:
                with suppress(ValueError):  # gone meanwhile: nothing to give back
                    self.cache.decr(key, delta)
        except self.errors as exc:
            raise unavailable(self.name, exc) from exc
