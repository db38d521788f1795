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
from typing import Any

from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache

from drf_ratelimit._algorithms.base import Algorithm, Charge, Outcome, Step, ceil_div
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

    def run(self, quotas: Quotas, charge: Charge) -> Outcome:
        keys, cost, now_us = charge.keys, charge.cost, charge.now_us
        assert now_us is not None, "local memory has no clock of its own"
        step, make_key = quotas.algorithm.step, self.make_key
        cache: Any = self.cache
        entries, expires = cache._cache, cache._expire_info
        decided: list[tuple[str, Step]] = []
        allowed = True
        with cache._lock:
            wall = time.time()
            for quota, key in zip(quotas.items, keys, strict=True):
                full_key = make_key(key)
                stored = None
                pickled = entries.get(full_key)
                if pickled is not None:  # what cache.get() does, under the lock already held
                    expiry = expires.get(full_key)
                    if expiry is not None and expiry <= wall:
                        cache._delete(full_key)
                    else:
                        entries.move_to_end(full_key, last=False)
                        stored = pickle.loads(pickled)
                this = step(quota, stored, cost, now_us)
                allowed = allowed and this.allowed
                decided.append((full_key, this))
            counted = cost > 0 and (allowed or charge.count_denied)
            if counted:
                for full_key, this in decided:
                    pickled = pickle.dumps(this.charged, cache.pickle_protocol)
                    cache._set(full_key, pickled, ceil_div(this.ttl_ms, 1000))
        return Outcome(allowed, counted, now_us, [this.found for _, this in decided])


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
