"""The counting engine under both the decorator and the DRF throttles.

One call checks any number of limits for one request against the configured
cache in one adapter call (one round trip on Redis). Backend failures are
resolved here and nowhere else: logged on the ``drf_ratelimit`` logger, then
``RATELIMIT_FAIL_OPEN`` decides.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.cache import InvalidCacheBackendError, caches
from django.core.cache.backends.base import BaseCache

from drf_ratelimit import clock, conf
from drf_ratelimit.backends import WindowHit, counter_for
from drf_ratelimit.cachekeys import HashFunction, fixed_window_cache_key
from drf_ratelimit.exceptions import CounterUnavailable
from drf_ratelimit.rates import Rate
from drf_ratelimit.usage import FAIL_CLOSED, Usage
from drf_ratelimit.windows import fixed_window_end, key_timeout

logger = logging.getLogger("drf_ratelimit")


@dataclass(frozen=True)
class Limit:
    """One rate applied to one client of one group."""

    group: str
    rate: Rate
    value: str
    methods: str = ""


def ratelimit_cache() -> BaseCache:
    """The cache named by ``RATELIMIT_USE_CACHE``."""
    alias = conf.cache_alias()
    try:
        return caches[alias]
    except InvalidCacheBackendError as exc:
        raise InvalidCacheBackendError(
            f"RATELIMIT_USE_CACHE={alias!r} is not an alias in CACHES"
        ) from exc


def check(limits: Sequence[Limit], delta: int = 1) -> list[Usage] | None:
    """Add ``delta`` to every limit's counter (0 only reads) and report usage.

    Returns None when the cache failed and the policy is to fail open.
    """
    now = clock.now()
    ends = [fixed_window_end(now, limit.rate.period, limit.value) for limit in limits]
    prefix, hasher = conf.cache_prefix(), conf.hash_function()
    hits = [
        WindowHit(_cache_key(limit, end, prefix, hasher), delta, key_timeout(limit.rate.period))
        for limit, end in zip(limits, ends, strict=True)
    ]
    try:
        counts = counter_for(ratelimit_cache()).count(hits)
    except CounterUnavailable as exc:
        return apply_fail_policy(exc, len(limits))
    return [
        _usage(limit, count, end - int(now))
        for limit, count, end in zip(limits, counts, ends, strict=True)
    ]


def apply_fail_policy(exc: Exception, how_many: int) -> list[Usage] | None:
    """The single place a cache failure is resolved."""
    if conf.fail_open():
        logger.warning("Rate limit cache failed; failing open (request allowed): %s", exc)
        return None
    logger.error("Rate limit cache failed; failing closed (request limited): %s", exc)
    return [FAIL_CLOSED] * how_many


def _cache_key(limit: Limit, window_end: int, prefix: str, hasher: HashFunction) -> str:
    return fixed_window_cache_key(
        prefix=prefix,
        hasher=hasher,
        group=limit.group,
        rate=str(limit.rate),
        value=limit.value,
        window_end=window_end,
        methods=limit.methods,
    )


def _usage(limit: Limit, count: int, time_left: int) -> Usage:
    return Usage(
        count=count,
        limit=limit.rate.limit,
        should_limit=count > limit.rate.limit,
        time_left=time_left,
        period=limit.rate.period,
    )
