"""Cache adapters: atomic counting on each cache backend we accept.

:func:`counter_for` picks the cheapest atomic strategy for a Django cache:

=============================  ==========================================  =====================
backend                        how                                         round trips per check
=============================  ==========================================  =====================
django-redis ``RedisCache``    one Lua script (SET NX EX + INCRBY)         1
Django's ``RedisCache``        one Lua script (SET NX EX + INCRBY)         1
PyMemcache / PyLibMC           ``incr``; ``add`` only when the key is new  1 (2-3 on a new key)
LocMem and anything else       ``add`` then ``incr``                       in-process
=============================  ==========================================  =====================
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from django.core.cache.backends.base import BaseCache
from django.utils.connection import ConnectionProxy

from drf_ratelimit.backends.base import Counter, WindowHit
from drf_ratelimit.backends.generic import AddIncrCounter
from drf_ratelimit.backends.memcached import MemcachedCounter, is_memcached
from drf_ratelimit.backends.redis import redis_counter

__all__ = ["Counter", "WindowHit", "counter_for"]

_COUNTERS: WeakKeyDictionary[BaseCache, Counter] = WeakKeyDictionary()


def counter_for(cache: BaseCache) -> Counter:
    """The counting adapter for ``cache`` (built once per cache object).

    ``django.core.cache.cache`` is a proxy that hides the backend's class, so it
    is resolved to the real cache object first.
    """
    if isinstance(cache, ConnectionProxy):
        cache = cache._connections[cache._alias]
    counter = _COUNTERS.get(cache)
    if counter is None:
        counter = _select(cache)
        _COUNTERS[cache] = counter
    return counter


def _select(cache: BaseCache) -> Counter:
    redis = redis_counter(cache)
    if redis is not None:
        return redis
    if is_memcached(cache):
        return MemcachedCounter(cache)
    return AddIncrCounter(cache)
