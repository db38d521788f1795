"""The counting engine under both the decorator and the DRF throttles.

One call checks any number of limits for one request against the configured
cache in one adapter call (one round trip on Redis). Backend failures are
resolved here and nowhere else: logged on the ``drf_ratelimit`` logger, then
``RATELIMIT_FAIL_OPEN`` decides.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.cache import InvalidCacheBackendError, caches
from django.core.cache.backends.base import BaseCache

from drf_ratelimit import clock, conf, overrides, signals
from drf_ratelimit.backends import WindowHit, counter_for
from drf_ratelimit.cachekeys import HashFunction, fixed_window_cache_key, throttle_cache_key
from drf_ratelimit.exceptions import CounterUnavailable
from drf_ratelimit.rates import Rate
from drf_ratelimit.usage import FAIL_CLOSED, Usage
from drf_ratelimit.windows import (
    aligned_window,
    decorator_reset_after,
    fixed_window_end,
    key_timeout,
)

logger = logging.getLogger("drf_ratelimit")


@dataclass(frozen=True)
class Limit:
    """One rate applied to one client of one group.

    ``aligned`` selects the throttles' clock-aligned window layout instead of
    the decorator's django-ratelimit-compatible one (see :mod:`.windows`).
    """

    group: str
    rate: Rate
    value: str
    methods: str = ""
    aligned: bool = False


@dataclass(frozen=True)
class _Window:
    key: str
    time_left: int
    reset_after: float


def ratelimit_cache() -> BaseCache:
    """The cache named by ``RATELIMIT_USE_CACHE``."""
    alias = conf.cache_alias()
    try:
        return caches[alias]
    except InvalidCacheBackendError as exc:
        raise InvalidCacheBackendError(
            f"RATELIMIT_USE_CACHE={alias!r} is not an alias in CACHES"
        ) from exc


def check(
    limits: Sequence[Limit],
    delta: int = 1,
    *,
    now: float | None = None,
    cache: BaseCache | None = None,
) -> list[Usage] | None:
    """Add ``delta`` to every limit's counter (0 only reads) and report usage.

    ``now`` defaults to :func:`.clock.now` and ``cache`` to the
    ``RATELIMIT_USE_CACHE`` cache. Returns None when the cache failed and the
    policy is to fail open.
    """
    now = clock.now() if now is None else now
    limits = overrides.applied(limits)
    prefix, hasher = conf.cache_prefix(), conf.hash_function()
    windows = [_window(limit, now, prefix, hasher) for limit in limits]
    hits = [
        WindowHit(window.key, delta, key_timeout(limit.rate.period))
        for limit, window in zip(limits, windows, strict=True)
    ]
    try:
        counts = counter_for(cache if cache is not None else ratelimit_cache()).count(hits)
    except CounterUnavailable as exc:
        return apply_fail_policy(exc, len(limits))
    return [
        _usage(limit, count, window)
        for limit, count, window in zip(limits, counts, windows, strict=True)
    ]


def cache_keys(limits: Sequence[Limit], *, now: float | None = None) -> list[str]:
    """The cache key of each limit's current window: what a reset deletes."""
    now = clock.now() if now is None else now
    prefix, hasher = conf.cache_prefix(), conf.hash_function()
    return [_window(limit, now, prefix, hasher).key for limit in overrides.applied(limits)]


def apply_fail_policy(exc: Exception, how_many: int) -> list[Usage] | None:
    """The single place a cache failure is resolved (and ``fail_policy_used`` sent)."""
    fail_open = conf.fail_open()
    if fail_open:
        logger.warning("Rate limit cache failed; failing open (request allowed): %s", exc)
    else:
        logger.error("Rate limit cache failed; failing closed (request limited): %s", exc)
    signals.send_fail_policy_used(exc, fail_open=fail_open)
    return None if fail_open else [FAIL_CLOSED] * how_many


def _window(limit: Limit, now: float, prefix: str, hasher: HashFunction) -> _Window:
    if limit.aligned:
        return _aligned_window(limit, now, prefix, hasher)
    end = fixed_window_end(now, limit.rate.period, limit.value)
    key = fixed_window_cache_key(
        prefix=prefix,
        hasher=hasher,
        group=limit.group,
        rate=str(limit.rate),
        value=limit.value,
        window_end=end,
        methods=limit.methods,
    )
    return _Window(key, end - int(now), decorator_reset_after(now, end))


def _aligned_window(limit: Limit, now: float, prefix: str, hasher: HashFunction) -> _Window:
    start, reset_after = aligned_window(now, limit.rate.period)
    key = throttle_cache_key(
        prefix=prefix,
        hasher=hasher,
        group=limit.group,
        rate=str(limit.rate),
        value=limit.value,
        window_start=start,
    )
    return _Window(key, math.ceil(reset_after), reset_after)


def _usage(limit: Limit, count: int, window: _Window) -> Usage:
    return Usage(
        count=count,
        limit=limit.rate.limit,
        should_limit=count > limit.rate.limit,
        time_left=window.time_left,
        period=limit.rate.period,
        reset_after=window.reset_after,
    )
