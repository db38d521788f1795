"""Redis (django-redis and Django's built-in backend): one script per check.

Each algorithm is one Lua script that reads every slot of the check, decides,
and charges all of them or none, in one atomic server-side step: one round
trip however many rates a throttle has. Scripts run through the cache's own
client and connection pool, on the same full keys (``KEY_PREFIX``,
``VERSION``) and the raw-integer encoding Django uses, so ``cache.get`` and
django-ratelimit see the same fixed-window counters. ``EVALSHA`` is tried
first; after a server restart or ``SCRIPT FLUSH`` the ``NOSCRIPT`` answer is
followed by one ``EVAL``, which reloads it.

The sliding window and the token bucket read the time from Redis (``TIME``)
unless the engine passes one (a test clock), so app servers with skewed
clocks still share one notion of "now". Their decisions are the same
expressions as :mod:`drf_ratelimit.sliding` and :mod:`drf_ratelimit.gcra`.

Arguments: ``ARGV[1]`` the time in microseconds or ``''`` for the server's,
``ARGV[2]`` the cost, ``ARGV[3]`` ``'1'`` to charge denied requests too, then
two values per key. Every script answers ``{counted, now, state...}``.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from django.core.cache.backends.base import BaseCache

from drf_ratelimit.algorithms import FIXED_WINDOW, SLIDING_WINDOW, TOKEN_BUCKET
from drf_ratelimit.backends.base import GRACE_SECONDS, Batch, Outcome, SlotState
from drf_ratelimit.backends.errors import unavailable_on_error

_PREAMBLE = b"""
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = t[1] * 1000000 + t[2]
else
  now = tonumber(ARGV[1])
end
local cost = tonumber(ARGV[2])
local charge_denied = ARGV[3] == '1'
local allowed = true
"""

# ARGV per key: limit, timeout (seconds). State: the count before this request.
# Charging denied requests too (django-ratelimit's way) needs no read first.
FIXED_WINDOW_SCRIPT = (
    _PREAMBLE
    + b"""
local before = {}
if cost == 0 or not charge_denied then
  for i, key in ipairs(KEYS) do
    before[i] = tonumber(redis.call('GET', key) or '0')
    if before[i] + cost > tonumber(ARGV[2 + 2 * i]) then allowed = false end
  end
end
local counted = 0
if cost > 0 and (allowed or charge_denied) then
  counted = 1
  for i, key in ipairs(KEYS) do
    redis.call('SET', key, 0, 'EX', ARGV[3 + 2 * i], 'NX')
    before[i] = redis.call('INCRBY', key, cost) - cost
  end
end
return {counted, now, unpack(before)}
"""
)

# ARGV per key: limit, period (microseconds). The key is a hash holding the
# window index (w), its count (c) and the previous window's count (p).
# State: previous, current (before this request), per key.
SLIDING_WINDOW_SCRIPT = (
    _PREAMBLE
    + b"""
local state, windows = {}, {}
for i, key in ipairs(KEYS) do
  local limit, period = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  local elapsed = math.fmod(now, period)
  local w = (now - elapsed) / period
  local stored = redis.call('HMGET', key, 'w', 'c', 'p')
  local sw, previous, current = tonumber(stored[1]), 0, 0
  if sw == w then
    previous, current = tonumber(stored[3]), tonumber(stored[2])
  elseif sw == w - 1 then
    previous = tonumber(stored[2])
  end
  state[2 * i - 1], state[2 * i], windows[i] = previous, current, w
  if previous * (period - elapsed) / period + current + cost > limit then allowed = false end
end
local counted = 0
if cost > 0 and (allowed or charge_denied) then
  counted = 1
  for i, key in ipairs(KEYS) do
    local period = tonumber(ARGV[3 + 2 * i])
    redis.call('HSET', key, 'w', windows[i], 'c', state[2 * i] + cost, 'p', state[2 * i - 1])
    redis.call('PEXPIRE', key, math.ceil(((windows[i] + 2) * period - now) / 1000) + GRACE_MS)
  end
end
return {counted, now, unpack(state)}
"""
).replace(b"GRACE_MS", str(GRACE_SECONDS * 1000).encode())

# ARGV per key: interval (microseconds), burst. The key holds the TAT.
# State: the TAT before this request (0 when there was none).
TOKEN_BUCKET_SCRIPT = (
    _PREAMBLE
    + b"""
local tats = {}
for i, key in ipairs(KEYS) do
  local interval, burst = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  tats[i] = tonumber(redis.call('GET', key) or '0')
  if math.max(tats[i], now) + cost * interval - now > burst * interval then allowed = false end
end
local counted = 0
if cost > 0 and (allowed or charge_denied) then
  counted = 1
  for i, key in ipairs(KEYS) do
    local tat = math.max(tats[i], now) + cost * tonumber(ARGV[2 + 2 * i])
    redis.call('SET', key, tat, 'PX', math.ceil((tat - now) / 1000) + GRACE_MS)
  end
end
return {counted, now, unpack(tats)}
"""
).replace(b"GRACE_MS", str(GRACE_SECONDS * 1000).encode())


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


SCRIPTS = {
    FIXED_WINDOW: RedisScript(FIXED_WINDOW_SCRIPT),
    SLIDING_WINDOW: RedisScript(SLIDING_WINDOW_SCRIPT),
    TOKEN_BUCKET: RedisScript(TOKEN_BUCKET_SCRIPT),
}


def _slot_arguments(algorithm: str, batch: Batch) -> list[object]:
    args: list[object] = []
    for slot in batch.slots:
        if algorithm == FIXED_WINDOW:
            args += [slot.limit, slot.timeout]
        elif algorithm == SLIDING_WINDOW:
            args += [slot.limit, slot.period_us]
        else:
            args += [slot.interval_us, slot.limit]
    return args


class RedisStore:
    """Every algorithm, one ``EVALSHA`` per check, the clock of the server."""

    name = "redis"
    algorithms = frozenset(SCRIPTS)
    server_clock = True

    def __init__(self, get_client: Callable[[], Any], make_key: Callable[[str], str]) -> None:
        self.get_client = get_client
        self.make_key = make_key

    def run(self, algorithm: str, batch: Batch) -> Outcome:
        keys = [self.make_key(slot.key) for slot in batch.slots]
        now = "" if batch.now_us is None else batch.now_us
        args = [now, batch.cost, int(batch.count_denied), *_slot_arguments(algorithm, batch)]
        with unavailable_on_error(self.name):
            reply = [int(value) for value in SCRIPTS[algorithm](self.get_client(), keys, args)]
        counted, now_us, values = bool(reply[0]), reply[1], reply[2:]
        if algorithm == SLIDING_WINDOW:
            states = [SlotState(values[i + 1], values[i]) for i in range(0, len(values), 2)]
        else:
            states = [SlotState(value) for value in values]
        return Outcome(counted, now_us, states)


def redis_store(cache: BaseCache) -> RedisStore | None:
    """A script-based store for either Redis backend, or None for other caches."""
    from django.core.cache.backends.redis import RedisCache

    if isinstance(cache, RedisCache):
        # Django's get_client() builds a new redis.Redis around the same pool on
        # every call, which costs more than the round trip: build it once, on
        # first use (so merely inspecting the store, as the checks do, connects
        # to nothing and parses no URL).
        client = functools.cache(lambda: cache._cache.get_client(write=True))
        return RedisStore(client, cache.make_and_validate_key)
    client = _django_redis_default_client(cache)
    if client is not None:
        return RedisStore(lambda: client.get_client(write=True), client.make_key)
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
