"""memcached: ``incr`` first, so the steady state is one round trip.

memcached's ``incr`` is atomic on the server and keeps the key's expiry. On a
miss (Django raises ValueError) the key is created with ``add``; if another
client won that race, ``incr`` again.
"""

from __future__ import annotations

from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.memcached import BaseMemcachedCache

from drf_ratelimit.backends.base import WindowHit
from drf_ratelimit.backends.errors import as_count
from drf_ratelimit.backends.generic import DjangoCacheCounter


def is_memcached(cache: BaseCache) -> bool:
    return isinstance(cache, BaseMemcachedCache)


class MemcachedCounter(DjangoCacheCounter):
    name = "memcached"

    def _count_one(self, hit: WindowHit) -> int:
        if hit.delta == 0:
            # Read with ``incr 0``, not ``get``: pymemcache answers a ``get`` to a
            # server it has marked failed with the default (a count of 0, "not
            # limited"), but an ``incr`` with False, which as_count rejects.
            try:
                value = self.cache.incr(hit.key, 0)
            except ValueError:  # no such key: nothing counted in this window yet
                return 0
            return as_count(value)
        try:
            return as_count(self.cache.incr(hit.key, hit.delta))
        except ValueError:
            pass
        if self.cache.add(hit.key, hit.delta, hit.timeout):
            return hit.delta
        return as_count(self.cache.incr(hit.key, hit.delta))
