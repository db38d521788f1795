"""Cache adapters: each algorithm, atomically, on each cache backend we accept.

:func:`store_for` picks the cheapest atomic strategy for a Django cache:

=========================  ===============================  ====================  =============
backend                    fixed / sliding window           token bucket          round trips
=========================  ===============================  ====================  =============
django-redis, RedisCache   one Lua script                   one Lua script        1
PyMemcache                 ``incr`` (``add`` on a new key)  ``gets`` + ``cas``     1 per key
PyLibMC                    ``incr`` (``add`` on a new key)  refused (E008)        1 per key
LocMem                     ``add`` + ``incr``               a lock                in-process
anything else              ``add`` + ``incr``               refused (E008)        -
=========================  ===============================  ====================  =============
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.memcached import PyMemcacheCache
from django.utils.connection import ConnectionProxy

from drf_ratelimit.backends.base import Batch, Outcome, Slot, SlotState, Store, WindowHit
from drf_ratelimit.backends.counting import CounterStore
from drf_ratelimit.backends.generic import AddIncrCounter
from drf_ratelimit.backends.memcached import MemcachedCounter, is_memcached
from drf_ratelimit.backends.redis import redis_store
from drf_ratelimit.backends.swap import LocMemSwapper, MemcachedSwapper

__all__ = ["Batch", "Outcome", "Slot", "SlotState", "Store", "WindowHit", "store_for"]

_STORES: WeakKeyDictionary[BaseCache, Store] = WeakKeyDictionary()


def store_for(cache: BaseCache) -> Store:
    """The store for ``cache`` (built once per cache object).

    ``django.core.cache.cache`` is a proxy that hides the backend's class, so it
    is resolved to the real cache object first.
    """
    if isinstance(cache, ConnectionProxy):
        cache = cache._connections[cache._alias]
    store = _STORES.get(cache)
    if store is None:
        store = _select(cache)
        _STORES[cache] = store
    return store


def _select(cache: BaseCache) -> Store:
    redis = redis_store(cache)
    if redis is not None:
        return redis
    if is_memcached(cache):
        swapper = MemcachedSwapper(cache) if isinstance(cache, PyMemcacheCache) else None
        return CounterStore(MemcachedCounter(cache), swapper)
    if isinstance(cache, LocMemCache):
        return CounterStore(AddIncrCounter(cache), LocMemSwapper(cache))
    return CounterStore(AddIncrCounter(cache))
