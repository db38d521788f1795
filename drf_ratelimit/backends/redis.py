"""Redis (django-redis and Django's built-in backend): one script per check.

The script creates each window key with its expiry (``SET NX EX``) and adds the
hit (``INCRBY``) in one atomic server-side step, so a check of any number of
keys costs one round trip. It runs through the cache's own client and
connection pool, on the same full keys (``KEY_PREFIX``, ``VERSION``) and with
the same raw-integer encoding Django uses, so ``cache.get`` and django-ratelimit
see the same counters. ``EVALSHA`` is tried first; after a server restart or
``SCRIPT FLUSH`` the ``NOSCRIPT`` answer is followed by one ``EVAL``, which
reloads it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from django.core.cache.backends.base import BaseCache

from drf_ratelimit.backends.base import WindowHit
from drf_ratelimit.backends.errors import unavailable_on_error

FIXED_WINDOW_SCRIPT = b"""
local counts = {}
for i, key in ipairs(KEYS) do
  local delta = tonumber(ARGV[2 * i - 1])
  if delta == 0 then
    counts[i] = tonumber(redis.call('GET', key) or '0')
  else
    redis.call('SET', key, 0, 'EX', ARGV[2 * i], 'NX')
    counts[i] = redis.call('INCRBY', key, delta)
  end
end
return counts
"""


class RedisScript:
    """A Lua script run by SHA, reloaded transparently when the server lost it."""

    def __init__(self, source: bytes) -> None:
        self.source = source
        self.sha = hashlib.sha1(source).hexdigest()

    def __call__(self, client: Any, keys: Sequence[str], args: Sequence[object]) -> Any:
        from redis.exceptions import NoScriptError

        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return client.eval(self.source, len(keys), *keys, *args)


class RedisCounter:
    name = "redis"

    def __init__(
        self,
        get_client: Callable[[], Any],
        make_key: Callable[[str], str],
        script: RedisScript | None = None,
    ) -> None:
        self.get_client = get_client
        self.make_key = make_key
        self.script = script or RedisScript(FIXED_WINDOW_SCRIPT)

    def count(self, hits: Sequence[WindowHit]) -> list[int]:
        keys = [self.make_key(hit.key) for hit in hits]
        args: list[object] = []
        for hit in hits:
            args += [hit.delta, hit.timeout]
        with unavailable_on_error(self.name):
            return [int(count) for count in self.script(self.get_client(), keys, args)]


def redis_counter(cache: BaseCache) -> RedisCounter | None:
    """A script-based counter for either Redis backend, or None for other caches."""
    from django.core.cache.backends.redis import RedisCache

    if isinstance(cache, RedisCache):
        # Django's get_client() builds a new redis.Redis around the same pool on
        # every call, which costs more than the round trip; build it once.
        client = cache._cache.get_client(write=True)
        return RedisCounter(lambda: client, cache.make_and_validate_key)
    client = _django_redis_default_client(cache)
    if client is not None:
        return RedisCounter(lambda: client.get_client(write=True), client.make_key)
    return None


def _django_redis_default_client(cache: BaseCache) -> Any:
    """django-redis's DefaultClient (and subclasses such as Sentinel), if in use.

    The sharded client spreads keys over servers by key, so one script cannot
    see them all: it falls back to add+incr, which django-redis makes atomic.
    """
    try:
        from django_redis.cache import RedisCache as DjangoRedisCache
        from django_redis.client import DefaultClient, ShardClient
    except ImportError:
        return None
    if not isinstance(cache, DjangoRedisCache):
        return None
    client = cache.client
    if isinstance(client, DefaultClient) and not isinstance(client, ShardClient):
        return client
    return None
