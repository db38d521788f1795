"""memcached: ``incr`` first, so the steady state is one round trip.

memcached's ``incr`` is atomic on the server and keeps the key's expiry. On a
miss the key is created with ``add``; if another client won that race,
``incr`` again. With pymemcache (Django's ``PyMemcacheCache``) the client is
called directly, on keys made by the cache's own key function: Django's
wrapper validates every key character by character, which costs more than
the round trip, and ours are hex digests. pylibmc goes through Django's API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.memcached import PyLibMCCache, PyMemcacheCache

from drf_ratelimit._storage.base import as_count, key_maker, unavailable
from drf_ratelimit._storage.counters import CounterStore, DjangoCounters, ReadsClosedWindows

NAME = "memcached"


def memcached_store(cache: BaseCache) -> CounterStore | None:
    """The store for Django's memcached backends, or None for other caches."""
    if isinstance(cache, PyMemcacheCache):
        return CounterStore(PyMemcacheCounters(cache), NAME, MemcachedSwapper(cache))
    if isinstance(cache, PyLibMCCache):
        import pylibmc

        counters = DjangoCounters(cache, NAME, (pylibmc.Error,))
        counters.incr_first = True
        # No token bucket: under contention libmemcached's compare-and-swap
        # stalled for minutes or failed in our multi-process tests (E008).
        return CounterStore(counters, NAME)
    return None


def _errors() -> tuple[type[BaseException], ...]:
    from pymemcache.exceptions import MemcacheError

    return (MemcacheError, OSError)


class PyMemcacheCounters(ReadsClosedWindows):
    """pymemcache's client, called directly.

    Its ``HashClient`` answers False (``incr``, ``add``) while it considers a
    server dead; :func:`~drf_ratelimit._storage.base.as_count` turns that
    into "unavailable", never into a count.
    """

    def __init__(self, cache: Any) -> None:
        super().__init__()
        self.client = cache._cache
        self.make_key = key_maker(cache)
        self.backend_timeout = cache.get_backend_timeout
        self.errors = _errors()

    def add(self, keys: Sequence[str], delta: int, timeouts: Sequence[int]) -> list[int]:
        try:
            pairs = zip(keys, timeouts, strict=True)
            return [self._add(self.make_key(key), delta, timeout) for key, timeout in pairs]
        except self.errors as exc:
            raise unavailable(NAME, exc) from exc

    def _add(self, key: str, delta: int, timeout: int) -> int:
        client = self.client
        value = client.incr(key, delta, noreply=False)
        if value is not None:
            return as_count(value, NAME)
        if delta == 0:  # no such key: nothing counted in this window yet
            return 0
        if client.add(key, delta, self.backend_timeout(timeout), noreply=False):
            return delta
        value = client.incr(key, delta, noreply=False)  # another client created it first
        if value is None:
            raise unavailable(NAME, LookupError(f"{key!r} vanished between add and incr"))
        return as_count(value, NAME)

    def give_back(self, keys: Sequence[str], delta: int) -> None:
        try:
            for key in keys:
                self.client.decr(self.make_key(key), delta, noreply=False)
        except self.errors as exc:
            raise unavailable(NAME, exc) from exc


class MemcachedSwapper:
    """``gets``/``cas`` (``add`` for a new key) on pymemcache's client.

    Timeouts go through the cache's ``get_backend_timeout`` (memcached reads
    more than 30 days as a date), so the values are the ones ``cache.get``
    would see.
    """

    name = NAME

    def __init__(self, cache: Any) -> None:
        self.client = cache._cache
        self.make_key = key_maker(cache)
        self.backend_timeout = cache.get_backend_timeout
        self.errors = _errors()

    def gets(self, key: str) -> tuple[Any, Any]:
        try:
            answer = self.client.gets(self.make_key(key))
        except self.errors as exc:
            raise unavailable(NAME, exc) from exc
        if answer is None:  # HashClient's answer while it considers the server dead
            raise unavailable(NAME, LookupError("gets answered None"))
        value, token = answer
        return value, token

    def swap(self, key: str, value: Any, token: Any, timeout: int) -> bool:
        full_key = self.make_key(key)
        expiry = self.backend_timeout(timeout)
        try:
            if token is None:
                return bool(self.client.add(full_key, value, expiry, noreply=False))
            return bool(self.client.cas(full_key, value, token, expiry, noreply=False))
        except self.errors as exc:
            raise unavailable(NAME, exc) from exc
