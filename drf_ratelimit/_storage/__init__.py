"""The stores: each algorithm, atomically, on each cache backend we accept.

:func:`store_for` picks the cheapest atomic way for a Django cache:

=========================  =====================================  ===============  ===========
backend                    fixed / sliding window                 token bucket     round trips
=========================  =====================================  ===============  ===========
django-redis, RedisCache   the algorithm's Lua script             its Lua script   1
django-redis ShardClient   the script, on the check's shard       the same         1
PyMemcache                 ``incr`` (``add`` on a new key)        ``gets``+``cas`` 1 per key
PyLibMC                    ``incr`` (``add`` on a new key)        refused (E008)   1 per key
LocMem                     the cache's lock, once per check       the same         in-process
anything else              ``add`` + ``incr``                     refused (E008)   -
=========================  =====================================  ===============  ===========

(The sliding window on memcached also reads the previous window's counter,
once per process once that window has closed; see
:mod:`drf_ratelimit._algorithms.sliding_window`.)
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.utils.connection import ConnectionProxy

from drf_ratelimit._storage.base import Quotas, Store
from drf_ratelimit._storage.counters import CounterStore, DjangoCounters
from drf_ratelimit._storage.locmem import LockedStore, LocMemSwapper
from drf_ratelimit._storage.memcached import memcached_store

__all__ = ["Quotas", "Store", "store_for"]

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
    redis = _redis_store(cache)
    if redis is not None:
        return redis
    memcached = memcached_store(cache)
    if memcached is not None:
        return memcached
    if type(cache) is LocMemCache:
        return LockedStore(cache)
    counters = DjangoCounters(cache, "add+incr", _known_client_errors())
    if isinstance(cache, LocMemCache):
        return CounterStore(counters, "locmem", LocMemSwapper(cache))
    return CounterStore(counters, "add+incr")


def _redis_store(cache: BaseCache) -> Store | None:
    try:
        from drf_ratelimit._storage.redis import redis_store
    except ImportError:  # redis-py is not installed, so no Redis cache is configured
        return None
    return redis_store(cache)


def _known_client_errors() -> tuple[type[BaseException], ...]:
    """What a cache backend of unknown make may raise when its server fails:
    socket errors, and the errors of every cache client library installed."""
    from django.db import Error as DatabaseError

    errors: list[type[BaseException]] = [OSError, DatabaseError]
    try:
        from redis.exceptions import RedisClusterException, RedisError

        errors += [RedisError, RedisClusterException]
    except ImportError:
        pass
    try:
        from pymemcache.exceptions import MemcacheError

        errors.append(MemcacheError)
    except ImportError:
        pass
    try:
        from django_redis.exceptions import ConnectionInterrupted

        errors.append(ConnectionInterrupted)
    except ImportError:
        pass
    return tuple(errors)
