"""Local memory: every algorithm under the cache's own lock, in process.

Django's ``LocMemCache`` guards its dictionary with one lock per cache
location. :class:`LockedStore` takes that lock once per check, reads each
quota's state, decides with the algorithm's
:meth:`~drf_ratelimit._algorithms.base.Algorithm.step`, and writes the
charges: all-or-nothing with no compensating writes, and values stored
exactly as ``LocMemCache.set`` stores them (pickled, with its expiry), so
``cache.get`` reads them. It is as atomic as the cache itself: within one
process (system check W001 says so).

Only ``LocMemCache`` itself is run this way; a subclass may change how it
stores, so it goes through its public API (:class:`LocMemSwapper` for the
token bucket).
"""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Sequence
from typing import Any

from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache

from drf_ratelimit._algorithms.base import Algorithm, Outcome, ceil_div
from drf_ratelimit._storage.base import Quotas, key_maker, unavailable

NAME = "locmem"


class LockedStore:
    """Every algorithm, one lock per check, in the memory of this process."""

    name = NAME
    server_clock = False

    def __init__(self, cache: LocMemCache) -> None:
        self.cache = cache
        self.make_key = key_maker(cache)

    def accepts(self, algorithm: Algorithm) -> bool:
        return True

    def run(
        self,
        quotas: Quotas,
        keys: Sequence[str],
        cost: int,
        count_denied: bool,
        now_us: int | None,
    ) -> Outcome:
        assert now_us is not None, "local memory has no clock of its own"
        step = quotas.algorithm.step
        cache: Any = self.cache
        full = [self.make_key(key) for key in keys]
        with cache._lock:
            expires, wall = cache._expire_info, time.time()
            steps = [
                step(quota, _load(cache, key, expires, wall), cost, now_us)
                for quota, key in zip(quotas.items, full, strict=True)
            ]
            allowed = all(s.allowed for s in steps)
            counted = cost > 0 and (allowed or count_denied)
            if counted:
                for key, decided in zip(full, steps, strict=True):
                    pickled = pickle.dumps(decided.charged, cache.pickle_protocol)
                    cache._set(key, pickled, ceil_div(decided.ttl_ms, 1000))
        return Outcome(allowed, counted, now_us, [s.found for s in steps])


def _load(cache: Any, key: str, expires: dict[str, float | None], wall: float) -> Any:
    """What ``cache.get(key)`` answers (None when missing), under the lock already held."""
    pickled = cache._cache.get(key)
    if pickled is None:
        return None
    expiry = expires.get(key)
    if expiry is not None and expiry <= wall:
        cache._delete(key)
        return None
    cache._cache.move_to_end(key, last=False)
    return pickle.loads(pickled)


class LocMemSwapper:
    """Compare-and-swap for a LocMemCache subclass: a lock around get and set.

    Local memory is per process anyway, so a process-wide lock makes it
    exactly as atomic as the cache itself.
    """

    name = NAME
    _lock = threading.Lock()

    def __init__(self, cache: BaseCache) -> None:
        self.cache = cache

    def gets(self, key: str) -> tuple[Any, Any]:
        try:
            value = self.cache.get(key)
        except OSError as exc:
            raise unavailable(self.name, exc) from exc
        return value, value

    def swap(self, key: str, value: Any, token: Any, timeout: int) -> bool:
        try:
            with self._lock:
                if self.cache.get(key) != token:
                    return False
                self.cache.set(key, value, timeout)
                return True
        except OSError as exc:
            raise unavailable(self.name, exc) from exc
