"""What is measured: one row per limiter configuration, each a zero-argument check.

A row is a name and a callable that performs one rate-limit check for the next
client of the scenario. drf_ratelimit's configurations are listed in
:func:`drf_ratelimit_rows`, one line each, so a new algorithm or entry point is
one more line there. Peers get the same clients, rate and cache.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import redis
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from rest_framework import throttling as drf_throttling
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from benchmarks.environment import DJANGO_REDIS, MEMCACHED, REDIS
from drf_ratelimit import throttles
from drf_ratelimit._engine import Limit, check
from drf_ratelimit._spec.rates import Rate, parse_rate
from drf_ratelimit.core import is_ratelimited
from drf_ratelimit.decorators import ratelimit

FLOOR = "floor"
OURS = "drf_ratelimit"
PEER = "peer"

# Row names the targets and calls-per-check sections look rows up by.
REDIS_FLOOR = "bare INCR (redis-py, same pool)"
ENGINE_FIXED = "drf_ratelimit engine.check fixed-window"
ENGINE_SLIDING = "drf_ratelimit engine.check sliding-window"
ENGINE_TOKEN = "drf_ratelimit engine.check token-bucket"
ENGINE_LOG = "drf_ratelimit engine.check sliding-log"
IS_RATELIMITED = "drf_ratelimit is_ratelimited"
VIEW_DECORATOR = "drf_ratelimit @ratelimit view"
ANON_THROTTLE = "drf_ratelimit AnonRateThrottle"
THROTTLE = "drf_ratelimit RatelimitThrottle"
THROTTLE_TWO_RATES = "drf_ratelimit RatelimitThrottle two rates"
THROTTLE_TOKEN = "drf_ratelimit RatelimitThrottle token-bucket"
THROTTLE_LOG = "drf_ratelimit RatelimitThrottle sliding-log"
THROTTLE_LOG_TWO_RATES = "drf_ratelimit RatelimitThrottle sliding-log two rates"
DJANGO_RATELIMIT = "django-ratelimit 4.1 is_ratelimited"
DRF_ANON = "DRF AnonRateThrottle"
LIMITS_FIXED = "limits FixedWindowRateLimiter"
LIMITS_SLIDING = "limits SlidingWindowCounterRateLimiter"
LIMITS_MOVING = "limits MovingWindowRateLimiter"

Check = Callable[[], object]


@dataclass(frozen=True)
class Scenario:
    """``clients`` distinct clients take turns, each limited to ``limit`` per hour."""

    limit: int = 1000
    clients: int = 100

    @property
    def rate(self) -> str:
        return f"{self.limit}/h"

    @property
    def daily_rate(self) -> str:
        """A second rate for the two-rate rows: ten hours' worth per day, never the
        one that refuses first, so both rates are counted on every check."""
        return f"{self.limit * 10}/d"

    def parsed_rate(self) -> Rate:
        parsed = parse_rate(self.rate)
        assert parsed is not None
        return parsed


@dataclass(frozen=True)
class Row:
    """One configuration. ``prefill(n)`` makes every client look as if it had sent
    ``n`` requests this window; None means "set the integer counters" (see observe)."""

    name: str
    kind: str
    check: Check
    prefill: Callable[[int], None] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Target:
    """One backend: the Django cache alias and the raw client below it, for the floor."""

    alias: str
    redis_url: str | None = None

    @property
    def cache(self) -> BaseCache:
        return caches[self.alias]

    def redis_client(self) -> redis.Redis | None:
        """The redis-py client the cache itself uses (same connection pool)."""
        cache: Any = self.cache
        if self.alias == REDIS:
            return cache._cache.get_client(write=True)  # type: ignore[no-any-return]
        if self.alias == DJANGO_REDIS:
            return cache.client.get_client(write=True)  # type: ignore[no-any-return]
        return None


_addresses: Iterator[int] = itertools.count(1)


def fresh_ips(n: int) -> list[str]:
    """Client addresses no other row has used, so rows never share a counter."""
    return [
        f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}" for i in itertools.islice(_addresses, n)
    ]


def rotate(checks: list[Check]) -> Check:
    """One check per call, clients taking turns."""
    turns = itertools.cycle(checks)
    return lambda: next(turns)()


def per_client(scenario: Scenario, make: Callable[[str], Check]) -> Check:
    return rotate([make(ip) for ip in fresh_ips(scenario.clients)])


def django_request(ip: str) -> HttpRequest:
    return RequestFactory().get("/bench/", REMOTE_ADDR=ip)


def drf_request(ip: str) -> Request:
    return Request(django_request(ip), authenticators=())


VIEW = APIView()


def throttle_check(throttle: type[BaseThrottle], request: Request) -> Check:
    """DRF instantiates every throttle class per request, so the check does too."""
    return lambda: throttle().allow_request(request, VIEW)


def plain_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


# drf_ratelimit --------------------------------------------------------------------


def ours(scenario: Scenario, name: str, make: Callable[[str], Check]) -> Row:
    return Row(name, OURS, per_client(scenario, make))


def throttle_class(name: str, **attributes: Any) -> type[BaseThrottle]:
    """A RatelimitThrottle subclass, as a project would declare one."""
    return type(name, (throttles.RatelimitThrottle,), {"key": "ip", **attributes})


def drf_ratelimit_rows(s: Scenario) -> list[Row]:
    """Every drf_ratelimit entry point and algorithm: one line per configuration.

    The decorator and ``is_ratelimited`` count in the fixed window, RatelimitThrottle
    in the sliding window and the drop-ins (AnonRateThrottle) in the sliding log
    (their defaults)."""
    rate = s.parsed_rate()
    args: dict[str, Any] = {"group": "bench", "key": "ip", "rate": s.rate, "increment": True}
    view = ratelimit(group="bench-view", key="ip", rate=s.rate, block=False)(plain_view)
    anon = type("BenchAnon", (throttles.AnonRateThrottle,), {"rate": s.rate})
    per_ip = throttle_class("BenchPerIp", rate=s.rate)
    two_rates = throttle_class("BenchTwoRates", rate=[s.rate, s.daily_rate])
    token = throttle_class("BenchToken", rate=s.rate, algorithm="token-bucket")
    log = throttle_class("BenchLog", rate=s.rate, algorithm="sliding-log")
    log_two_rates = throttle_class(
        "BenchLogTwoRates", rate=[s.rate, s.daily_rate], algorithm="sliding-log"
    )

    def engine(algorithm: str) -> Callable[[str], Check]:
        return lambda ip: partial(check, [Limit("bench", rate, ip)], algorithm=algorithm)

    def throttled(throttle: type[BaseThrottle]) -> Callable[[str], Check]:
        return lambda ip: throttle_check(throttle, drf_request(ip))

    return [
        ours(s, ENGINE_FIXED, engine("fixed-window")),
        ours(s, ENGINE_SLIDING, engine("sliding-window")),
        ours(s, ENGINE_TOKEN, engine("token-bucket")),
        ours(s, ENGINE_LOG, engine("sliding-log")),
        ours(s, IS_RATELIMITED, lambda ip: partial(is_ratelimited, django_request(ip), **args)),
        ours(s, VIEW_DECORATOR, lambda ip: partial(view, django_request(ip))),
        ours(s, ANON_THROTTLE, throttled(anon)),
        ours(s, THROTTLE, throttled(per_ip)),
        ours(s, THROTTLE_TWO_RATES, throttled(two_rates)),
        ours(s, THROTTLE_TOKEN, throttled(token)),
        ours(s, THROTTLE_LOG, throttled(log)),
        ours(s, THROTTLE_LOG_TWO_RATES, throttled(log_two_rates)),
    ]


# peers --------------------------------------------------------------------------


def django_ratelimit_row(scenario: Scenario) -> Row:
    from django_ratelimit.core import is_ratelimited as upstream  # type: ignore[import-untyped]

    def make(ip: str) -> Check:
        args: dict[str, Any] = {
            "group": "bench",
            "key": "ip",
            "rate": scenario.rate,
            "increment": True,
        }
        return partial(upstream, django_request(ip), **args)

    return Row(DJANGO_RATELIMIT, PEER, per_client(scenario, make))


def drf_row(target: Target, scenario: Scenario) -> Row:
    """DRF's own AnonRateThrottle, its ``cache`` pointed at the backend under test."""
    attributes = {"rate": scenario.rate, "cache": target.cache}
    throttle = type("BenchDrfAnon", (drf_throttling.AnonRateThrottle,), attributes)
    requests = [drf_request(ip) for ip in fresh_ips(scenario.clients)]

    def prefill(sent: int) -> None:
        """DRF's state is one timestamp per allowed request, newest first."""
        now = time.time()
        for request in requests:
            instance = throttle()
            key = instance.get_cache_key(request, VIEW)
            target.cache.set(key, [now] * sent, instance.duration)

    checks = [throttle_check(throttle, request) for request in requests]
    return Row(DRF_ANON, PEER, rotate(checks), prefill)


def limits_rows(target: Target, scenario: Scenario) -> list[Row]:
    """limits 5 on Redis, through the very connection pool the Django cache uses.

    Each strategy gets an identifier namespace of its own: limits keys a fixed
    and a moving window alike, and the moving window stores a list where the
    fixed window stores a string, so sharing a key would answer WRONGTYPE."""
    client = target.redis_client()
    if client is None or target.redis_url is None:
        return []
    from limits import RateLimitItemPerHour
    from limits.storage import RedisStorage
    from limits.strategies import (
        FixedWindowRateLimiter,
        MovingWindowRateLimiter,
        SlidingWindowCounterRateLimiter,
    )

    storage = RedisStorage(target.redis_url, connection_pool=client.connection_pool)
    item = RateLimitItemPerHour(scenario.limit)
    fixed, sliding = FixedWindowRateLimiter(storage), SlidingWindowCounterRateLimiter(storage)
    return [
        Row(
            LIMITS_FIXED,
            PEER,
            per_client(scenario, lambda ip: partial(fixed.hit, item, "fixed", ip)),
        ),
        Row(
            LIMITS_SLIDING,
            PEER,
            per_client(scenario, lambda ip: partial(sliding.hit, item, "sliding", ip)),
        ),
        limits_moving_row(MovingWindowRateLimiter(storage), item, scenario),
    ]


def limits_moving_row(moving: Any, item: Any, scenario: Scenario) -> Row:
    """limits' moving window: one timestamp per request in a list, like DRF's log.

    Its list is not an integer counter, so it prefills itself: each client's list
    is replaced by ``sent`` timestamps of now, in one call."""
    ips = fresh_ips(scenario.clients)

    def prefill(sent: int) -> None:
        for ip in ips:
            moving.clear(item, "moving", ip)
            moving.hit(item, "moving", ip, cost=sent)

    checks: list[Check] = [partial(moving.hit, item, "moving", ip) for ip in ips]
    return Row(LIMITS_MOVING, PEER, rotate(checks), prefill)


def floor_row(target: Target) -> Row | None:
    """One bare increment through the cache's own client: no check can cost less."""
    client = target.redis_client()
    if client is not None:
        return Row(REDIS_FLOOR, FLOOR, partial(client.incr, "bench:floor"))
    if target.alias == MEMCACHED:
        memcache: Any = target.cache._cache  # type: ignore[attr-defined]
        memcache.set("bench_floor", b"0")
        return Row(
            "bare incr (pymemcache, same client)", FLOOR, partial(memcache.incr, "bench_floor", 1)
        )
    return None


def all_rows(target: Target, scenario: Scenario) -> list[Row]:
    """The floor, drf_ratelimit's configurations, then the peers on the same backend."""
    floor = floor_row(target)
    return [
        *([floor] if floor else []),
        *drf_ratelimit_rows(scenario),
        django_ratelimit_row(scenario),
        drf_row(target, scenario),
        *limits_rows(target, scenario),
    ]
