"""memcached: ``incr`` first, so the steady state is one round trip.

memcached's ``incr`` is atomic on the server and keeps the key's expiry. On a
miss the key is created with ``add``; if another client won that race,
``incr`` again. With pymemcache (Django's ``PyMemcacheCache``) the client is
called directly, on keys made by the cache's own key function: Django's
wrapper validates every key character by character, which costs more than
the round trip, and ours are hex digests. pylibmc goes through Django's API.

A pool (several ``LOCATION`` entries) is not left to pymemcache's ``HashClient``
routing: when a server fails, ``HashClient`` takes it out of its hash ring and
sends its keys to the other servers, where they start again from zero, so its
clients would get their limit again, silently (and once more when the server
comes back). Here each key stays on the server the full list of servers gives
it (the same hash as ``HashClient`` while all are up, so ``cache.get`` and
``cache.delete`` find the counters), and a check whose server is down raises
``CounterUnavailable``: the fail policy decides, with a log line and the
``fail_policy_used`` signal, for the clients of that server only. See
:class:`Pool`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.memcached import PyLibMCCache, PyMemcacheCache

from drf_ratelimit._storage.base import as_count, key_maker, unavailable
from drf_ratelimit._storage.counters import CounterStore, DjangoCounters, ReadsClosedWindows
from drf_ratelimit.exceptions import CounterUnavailable

NAME = "memcached"

logger = logging.getLogger("drf_ratelimit")

#: Keys whose server a pool remembers, per thread (about 100 kB); cleared when full.
ROUTES_KEPT = 1024


def memcached_store(cache: BaseCache) -> CounterStore | None:
    """The store for Django's memcached backends, or None for other caches."""
    if isinstance(cache, PyMemcacheCache):
        pool = _pool_of(cache)
        if pool is not None:
            return CounterStore(PoolCounters(cache, pool), NAME, PoolSwapper(cache, pool))
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
        client = self.client
        try:
            pairs = zip(keys, timeouts, strict=True)
            return [self._add(client, self.make_key(key), delta, t) for key, t in pairs]
        except self.errors as exc:
            raise unavailable(NAME, exc) from exc

    def _add(self, client: Any, key: str, delta: int, timeout: int) -> int:
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


# --- pools -------------------------------------------------------------------


def _pool_of(cache: Any) -> Pool | None:
    """A :class:`Pool` for a ``HashClient`` of more than one server; None for
    one server (nothing to re-hash onto: it answers or fails) or another client."""
    from pymemcache.client.hash import HashClient

    client = cache._cache
    if isinstance(client, HashClient) and len(client.clients) > 1:
        return Pool(client)
    return None


#: What :meth:`Pool._reach` finds for a server already in use (never a time it failed).
_READY = -1.0


class Pool:
    """The servers of a ``HashClient``, each key kept on the server the full
    list gives it, whether that server is up or not.

    ``HashClient`` hashes a key over the servers it considers alive; the pool
    hashes it over all of them, once (the same hasher, so while every server
    is up both agree), and calls that server's own client in
    ``HashClient.clients``. When the server fails, the check raises
    ``CounterUnavailable``; the pool then answers for that server without
    asking it until ``retry_timeout`` (the ``HashClient`` option, default 1 s)
    has passed, and asks again on the next check after that. ``dead_timeout``
    and ``retry_attempts`` do not apply: no key ever moves to another server.

    A server that comes back after a restart is empty: the counters of its
    clients start again from zero. On its first answer after a failure the
    pool compares its ``pid`` and start time (``stats``) with what this
    process saw before, and logs a warning once per restart.

    One per store, so per thread (Django gives each thread its own cache
    object and ``HashClient``); only the servers' identities are per process.
    """

    def __init__(self, client: Any) -> None:
        from pymemcache.exceptions import MemcacheError, MemcacheUnexpectedCloseError

        #: HashClient's own dict: it puts a new client in place when it re-adds
        #: a server, so a server's client is looked up on every call.
        self.clients: dict[str, Any] = client.clients
        self.hasher = type(client.hasher)()  # HashClient builds its hasher the same way
        for node in self.clients:
            self.hasher.add_node(node)
        self.retry_timeout = float(client.retry_timeout or 0)
        self.routes: dict[str, str] = {}
        #: Servers not to call without a look first: when each last failed
        #: (time.monotonic()), or None for a server this pool has not used yet.
        self.unready: dict[str, float | None] = dict.fromkeys(self.clients)
        self.down_errors: tuple[type[BaseException], ...] = (OSError, MemcacheUnexpectedCloseError)
        self.memcache_error: type[BaseException] = MemcacheError

    def route(self, key: str, full_key: str) -> str:
        """The server of ``key`` (``full_key`` is what the server stores it under)."""
        node = self.routes.get(key)
        if node is None:
            node = self.hasher.get_node(full_key)
            if len(self.routes) >= ROUTES_KEPT:
                self.routes.clear()
            self.routes[key] = node
        if node in self.unready:
            self._reach(node)
        return node

    def failed(self, node: str, exc: BaseException) -> None:
        """After ``exc`` from ``node``: a connection that failed (not, say, a
        key the client refused) keeps the server out of use for ``retry_timeout``."""
        if isinstance(exc, self.down_errors):
            self.unready[node] = time.monotonic()

    def _reach(self, node: str) -> None:
        """Make ``node`` usable, or raise CounterUnavailable."""
        failed_at = self.unready.get(node, _READY)
        if failed_at is _READY:  # another thread sharing this cache object got there first
            return
        if failed_at is not None:
            since = time.monotonic() - failed_at
            if since < self.retry_timeout:
                raise CounterUnavailable(
                    f"{NAME}: server {node} failed {since:.2f}s ago; "
                    f"it is asked again after retry_timeout={self.retry_timeout:g}s"
                )
        if failed_at is not None or node not in _IDENTITIES:
            self._identify(node)
        self.unready.pop(node, None)

    def _identify(self, node: str) -> None:
        """Ask the server who it is; warn when it is not the one seen before."""
        try:
            stats = self.clients[node].stats()
        except self.down_errors as exc:
            self.failed(node, exc)
            raise unavailable(f"{NAME} {node}", exc) from exc
        except self.memcache_error:  # no stats (a proxy?): nothing to compare
            return
        _remember(node, stats)


#: Per server, the ``pid`` and start time (server clock, seconds) last seen.
_IDENTITIES: dict[str, tuple[Any, Any]] = {}
_IDENTITIES_LOCK = threading.Lock()


def _remember(node: str, stats: dict[bytes, Any]) -> None:
    uptime = stats.get(b"uptime")
    now = stats.get(b"time")
    started = now - uptime if type(uptime) is int and type(now) is int else None
    identity = (stats.get(b"pid"), started)
    with _IDENTITIES_LOCK:
        known = _IDENTITIES.get(node)
        _IDENTITIES[node] = identity
    if known is not None and known != identity:
        logger.warning(
            "memcached server %s restarted (pid %s, up %ss): the rate limits of the clients "
            "counted on it start again from zero, so they may get up to their limit again "
            "in the current period",
            node,
            identity[0],
            uptime,
        )


class PoolCounters(PyMemcacheCounters):
    """Counters on a :class:`Pool`: each key on its own server's client."""

    def __init__(self, cache: Any, pool: Pool) -> None:
        super().__init__(cache)
        self.pool = pool

    def add(self, keys: Sequence[str], delta: int, timeouts: Sequence[int]) -> list[int]:
        pool, clients = self.pool, self.pool.clients
        counts = []
        for key, timeout in zip(keys, timeouts, strict=True):
            full_key = self.make_key(key)
            node = pool.route(key, full_key)
            try:
                counts.append(self._add(clients[node], full_key, delta, timeout))
            except self.errors as exc:
                pool.failed(node, exc)
                raise unavailable(f"{NAME} {node}", exc) from exc
        return counts

    def give_back(self, keys: Sequence[str], delta: int) -> None:
        pool = self.pool
        for key in keys:
            full_key = self.make_key(key)
            node = pool.route(key, full_key)
            try:
                pool.clients[node].decr(full_key, delta, noreply=False)
            except self.errors as exc:
                pool.failed(node, exc)
                raise unavailable(f"{NAME} {node}", exc) from exc


class PoolSwapper(MemcachedSwapper):
    """Compare-and-swap on a :class:`Pool`: each key on its own server's client."""

    def __init__(self, cache: Any, pool: Pool) -> None:
        super().__init__(cache)
        self.pool = pool

    def gets(self, key: str) -> tuple[Any, Any]:
        pool = self.pool
        full_key = self.make_key(key)
        node = pool.route(key, full_key)
        try:
            answer = pool.clients[node].gets(full_key)
        except self.errors as exc:
            pool.failed(node, exc)
            raise unavailable(f"{NAME} {node}", exc) from exc
        if answer is None:  # a server's own client answers a tuple; never read None as "missing"
            raise unavailable(f"{NAME} {node}", LookupError("gets answered None"))
        value, token = answer
        return value, token

    def swap(self, key: str, value: Any, token: Any, timeout: int) -> bool:
        pool = self.pool
        full_key = self.make_key(key)
        node = pool.route(key, full_key)
        expiry = self.backend_timeout(timeout)
        client = pool.clients[node]
        try:
            if token is None:
                return bool(client.add(full_key, value, expiry, noreply=False))
            return bool(client.cas(full_key, value, token, expiry, noreply=False))
        except self.errors as exc:
            pool.failed(node, exc)
            raise unavailable(f"{NAME} {node}", exc) from exc
