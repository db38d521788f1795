"""Redis (django-redis and Django's built-in backend): one script per check.

Each algorithm ships one Lua script that reads every quota of the check,
decides, and charges all of them or none, in one atomic server-side step:
one ``EVALSHA`` however many rates a throttle has. The keys of one check
share a ``{client}`` hash tag, so on a Redis Cluster they are in one slot
and on django-redis's ShardClient on one server, where the script runs.
Scripts run through the
cache's own client and connection pool, on the same full keys
(``KEY_PREFIX``, ``VERSION``) and the raw-integer encoding Django uses, so
``cache.get`` and django-ratelimit see the same fixed-window counters. After
a server restart or ``SCRIPT FLUSH`` the ``NOSCRIPT`` answer is followed by
one ``EVAL``, which reloads the script.

Every script takes the same arguments: the time in microseconds (``''`` for
the server's ``TIME``, so app servers with skewed clocks still agree), the
cost, ``1`` to charge denied requests, then the algorithm's own per quota;
and answers ``{allowed, counted, now, state...}``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.base import BaseCache
from redis.exceptions import (
    AskError,
    ClusterCrossSlotError,
    ClusterDownError,
    NoScriptError,
    RedisClusterException,
    RedisError,
    ResponseError,
)

from drf_ratelimit._algorithms.base import Algorithm, Charge, Outcome
from drf_ratelimit._storage.base import Quotas, key_maker, unavailable

#: What a failing Redis client raises: its own errors (a cluster's are not
#: RedisErrors), and socket errors.
CLIENT_ERRORS = (RedisError, RedisClusterException, OSError)


class RedisStore:
    """Every algorithm, one ``EVALSHA`` per check, the clock of the server."""

    name = "redis"
    server_clock = True

    def __init__(
        self,
        get_client: Callable[[], Any],
        make_key: Callable[[str], str],
        shard_of: Callable[[str], Any] | None = None,
    ) -> None:
        self.get_client = get_client
        self.make_key = make_key
        #: A sharding client's server for a key (django-redis's ShardClient):
        #: the keys of one check share a hash tag, so they share a server.
        self.shard_of = shard_of

    def accepts(self, algorithm: Algorithm) -> bool:
        return True

    def run(self, quotas: Quotas, charge: Charge) -> Outcome:
        full = list(map(self.make_key, charge.keys))
        now_us = charge.now_us
        shared = ("" if now_us is None else now_us, charge.cost, 1 if charge.count_denied else 0)
        arguments = (len(full), *full, *shared, *quotas.script_args)
        script = quotas.algorithm.script
        try:
            shard_of = self.shard_of
            client = self.get_client() if shard_of is None else shard_of(full[0])
            try:
                reply = client.execute_command("EVALSHA", script.sha, *arguments)
            except NoScriptError:
                reply = client.eval(script.source, *arguments)
        except CLIENT_ERRORS as exc:
            raise unavailable(self.name, _explained(exc)) from exc
        # Built as the tuple it is (a NamedTuple's own __new__ is Python code).
        return tuple.__new__(Outcome, (reply[0] == 1, reply[1] == 1, reply[2], reply[3:], True))


#: What a Redis Cluster node answers a client that does not know it is one.
_CLUSTER_REPLIES = (AskError, ClusterCrossSlotError, ClusterDownError)


def _explained(exc: BaseException) -> BaseException:
    """``exc``, or, when a cluster node answered a single-server client, an
    error that says which backend to use instead (the fail policy still decides)."""
    if isinstance(exc, _CLUSTER_REPLIES):  # MovedError is an AskError
        return ResponseError(
            f"{type(exc).__name__}: {exc} (the server is a Redis Cluster node: use "
            "drf_ratelimit.cluster.RedisClusterCache, or django-redis with "
            "drf_ratelimit.cluster.RedisClusterClient)"
        )
    return exc


def redis_store(cache: BaseCache) -> RedisStore | None:
    """A script-based store for either Redis backend, or None for other caches."""
    from django.core.cache.backends.redis import RedisCache

    if isinstance(cache, RedisCache):
        # Django's get_client() builds a new redis.Redis around the same pool on
        # every call, which costs more than the round trip: build it once, on
        # first use (so merely inspecting the store, as the checks do, connects
        # to nothing and parses no URL).
        client = functools.cache(lambda: cache._cache.get_client(write=True))
        return RedisStore(client, key_maker(cache))
    client = _django_redis_client(cache)
    if client is None:
        return None
    if hasattr(client, "get_server"):  # ShardClient: the server of the check's hash tag
        return RedisStore(_no_single_client, key_maker(cache), client.get_server)
    # The write client: the one at index 0, made once by django-redis and kept.
    get_client = functools.cache(functools.partial(client.get_client, write=True))
    return RedisStore(get_client, key_maker(cache))


def _no_single_client() -> Any:
    raise AssertionError("a sharded store picks its server by key")


def _django_redis_client(cache: BaseCache) -> Any:
    """django-redis's client when it is the DefaultClient, a subclass (Sentinel,
    a cluster client) or the ShardClient; None for other caches."""
    try:
        from django_redis.cache import RedisCache as DjangoRedisCache
        from django_redis.client import DefaultClient
    except ImportError:
        return None
    if not isinstance(cache, DjangoRedisCache):
        return None
    client = cache.client
    return client if isinstance(client, DefaultClient) else None
