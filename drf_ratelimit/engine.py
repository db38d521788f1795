"""The counting engine under both the decorator and the DRF throttles.

One call checks any number of limits for one request against the configured
cache with one algorithm, charging all of them or none (one round trip on
Redis). Backend failures are resolved here and nowhere else: logged on the
``drf_ratelimit`` logger, then ``RATELIMIT_FAIL_OPEN`` decides.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.cache import InvalidCacheBackendError, caches
from django.core.cache.backends.base import BaseCache
from django.core.exceptions import ImproperlyConfigured

from drf_ratelimit import clock, conf, gcra, overrides, signals, sliding
from drf_ratelimit.algorithms import FIXED_WINDOW, SLIDING_WINDOW, TOKEN_BUCKET, US
from drf_ratelimit.backends import Batch, Slot, SlotState, Store, store_for
from drf_ratelimit.cachekeys import (
    HashFunction,
    fixed_window_cache_key,
    state_cache_key,
    throttle_cache_key,
)
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

    ``aligned`` selects the throttles' clock-aligned fixed window instead of
    the decorator's django-ratelimit-compatible one (see :mod:`.windows`).
    ``burst`` is the token bucket's size (None: the rate's limit).
    """

    group: str
    rate: Rate
    value: str
    methods: str = ""
    aligned: bool = False
    burst: int | None = None


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
    cost: int = 1,
    *,
    algorithm: str = FIXED_WINDOW,
    count_denied: bool = False,
    now: float | None = None,
    cache: BaseCache | None = None,
) -> list[Usage] | None:
    """Charge ``cost`` to every limit if all of them admit it (0 only reads).

    ``count_denied`` charges a denied request too. ``now`` defaults to
    :func:`.clock.now`, or to the Redis server's clock for the algorithms that
    keep timestamps; ``cache`` to the ``RATELIMIT_USE_CACHE`` cache. Returns
    None when the cache failed and the policy is to fail open.
    """
    requested = overrides.applied(limits)
    limits = list(dict.fromkeys(requested))  # the same rate twice is one counter, charged once
    store = store_for(cache if cache is not None else ratelimit_cache())
    _require(store, algorithm)
    app_now = clock.now() if now is None else now
    server_time = store.server_clock and algorithm != FIXED_WINDOW
    use_server_clock = server_time and now is None and not clock.injected()
    slots, windows = _slots(limits, algorithm, app_now)
    batch = Batch(
        slots=slots,
        cost=cost,
        count_denied=count_denied,
        now_us=None if use_server_clock else clock.to_microseconds(app_now),
    )
    try:
        outcome = store.run(algorithm, batch)
    except CounterUnavailable as exc:
        return apply_fail_policy(exc, len(requested))
    usages = {
        limit: _usage(algorithm, slot, window, state, cost, outcome.counted, outcome.now_us)
        for limit, slot, window, state in zip(limits, slots, windows, outcome.states, strict=True)
    }
    return [usages[limit] for limit in requested]


def cache_keys(limits: Sequence[Limit], *, now: float | None = None) -> list[str]:
    """Every key a limit's state may be under now, whatever the algorithm and
    backend: what a reset deletes (deleting a key that is not there is harmless)."""
    now = clock.now() if now is None else now
    now_us = clock.to_microseconds(now)
    prefix, hasher = conf.cache_prefix(), conf.hash_function()
    keys: list[str] = []
    for limit in overrides.applied(limits):
        keys.append(_window(limit, now, prefix, hasher).key)
        keys.append(_state_slot(limit, TOKEN_BUCKET, prefix, hasher).key)
        sliding_slot = _state_slot(limit, SLIDING_WINDOW, prefix, hasher)
        index = sliding.window_index(now_us, sliding_slot.period_us)
        keys += [
            sliding_slot.key,  # Redis: one hash holds both windows
            sliding.window_key(sliding_slot.key, index),  # elsewhere: a key per window
            sliding.window_key(sliding_slot.key, index - 1),
        ]
    return keys


def apply_fail_policy(exc: Exception, how_many: int) -> list[Usage] | None:
    """The single place a cache failure is resolved (and ``fail_policy_used`` sent)."""
    fail_open = conf.fail_open()
    if fail_open:
        logger.warning("Rate limit cache failed; failing open (request allowed): %s", exc)
    else:
        logger.error("Rate limit cache failed; failing closed (request limited): %s", exc)
    signals.send_fail_policy_used(exc, fail_open=fail_open)
    return None if fail_open else [FAIL_CLOSED] * how_many


def _require(store: Store, algorithm: str) -> None:
    if algorithm not in store.algorithms:
        raise ImproperlyConfigured(
            f"The cache RATELIMIT_USE_CACHE={conf.cache_alias()!r} cannot run the "
            f"{algorithm!r} algorithm atomically (its adapter is {store.name!r}); "
            "use Redis, memcached through pymemcache or local memory, or another algorithm"
        )


def _slots(
    limits: Sequence[Limit], algorithm: str, now: float
) -> tuple[list[Slot], list[_Window | None]]:
    prefix, hasher = conf.cache_prefix(), conf.hash_function()
    if algorithm == FIXED_WINDOW:
        windows = [_window(limit, now, prefix, hasher) for limit in limits]
        slots = [
            Slot(window.key, limit.rate.limit, limit.rate.period, key_timeout(limit.rate.period))
            for limit, window in zip(limits, windows, strict=True)
        ]
        return slots, list(windows)
    return [_state_slot(limit, algorithm, prefix, hasher) for limit in limits], [None] * len(limits)


def _state_slot(limit: Limit, algorithm: str, prefix: str, hasher: HashFunction) -> Slot:
    rate = limit.rate
    key = state_cache_key(
        prefix=prefix,
        hasher=hasher,
        algorithm=algorithm,
        group=limit.group,
        rate=str(rate),
        value=limit.value,
        methods=limit.methods,
    )
    if algorithm == SLIDING_WINDOW:
        return Slot(key, rate.limit, rate.period)
    burst = rate.limit if limit.burst is None else limit.burst
    return Slot(key, burst, rate.period, interval_us=gcra.interval_us(rate.limit, rate.period))


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


def _usage(
    algorithm: str,
    slot: Slot,
    window: _Window | None,
    state: SlotState,
    cost: int,
    counted: bool,
    now_us: int,
) -> Usage:
    """What one slot reports. A denied slot shows the count it would have
    reached; a slot that admitted a request denied elsewhere shows its own.
    ``retry_after`` is for the next request of the same cost (at least 1, so a
    peek reports when the next counted request would pass)."""
    if algorithm == FIXED_WINDOW:
        assert window is not None
        return _fixed_usage(slot, window, state, cost, counted)
    if algorithm == SLIDING_WINDOW:
        return _sliding_usage(slot, state, cost, counted, now_us)
    assert algorithm == TOKEN_BUCKET
    return _token_bucket_usage(slot, state, cost, counted, now_us)


def _fixed_usage(slot: Slot, window: _Window, state: SlotState, cost: int, counted: bool) -> Usage:
    denied = state.before + cost > slot.limit
    stored = state.before + cost if counted else state.before
    count = state.before + cost if counted or denied else state.before
    full = stored + max(cost, 1) > slot.limit
    return Usage(
        count=count,
        limit=slot.limit,
        should_limit=denied,
        time_left=window.time_left,
        period=slot.period,
        reset_after=window.reset_after,
        retry_after=window.reset_after if full else 0.0,
    )


def _sliding_usage(slot: Slot, state: SlotState, cost: int, counted: bool, now_us: int) -> Usage:
    period_us, elapsed = slot.period_us, sliding.elapsed(now_us, slot.period_us)
    found = sliding.SlidingCounts(state.previous, state.before)
    charged = sliding.SlidingCounts(state.previous, state.before + cost)
    denied = not sliding.allows(found, cost, slot.limit, elapsed, period_us)
    stored = charged if counted else found
    shown = charged if counted or denied else found
    return _timed_usage(
        slot,
        count=math.ceil(sliding.estimate(shown, elapsed, period_us)),
        denied=denied,
        reset_us=sliding.reset_after_us(stored, elapsed, period_us),
        retry_us=sliding.retry_after_us(stored, max(cost, 1), slot.limit, elapsed, period_us),
    )


def _token_bucket_usage(
    slot: Slot, state: SlotState, cost: int, counted: bool, now_us: int
) -> Usage:
    interval = slot.interval_us
    denied = not gcra.allows(state.before, now_us, cost, interval, slot.limit)
    stored = gcra.arrival(state.before, now_us, cost if counted else 0, interval)
    shown = gcra.arrival(state.before, now_us, cost if counted or denied else 0, interval)
    next_request = gcra.arrival(stored, now_us, max(cost, 1), interval)
    return _timed_usage(
        slot,
        count=gcra.used(shown, now_us, interval),
        denied=denied,
        reset_us=max(0, stored - now_us),
        retry_us=gcra.retry_after_us(next_request, now_us, interval, slot.limit),
    )


def _timed_usage(slot: Slot, *, count: int, denied: bool, reset_us: int, retry_us: int) -> Usage:
    return Usage(
        count=count,
        limit=slot.limit,
        should_limit=denied,
        time_left=math.ceil((retry_us if denied else reset_us) / US),
        period=slot.period,
        reset_after=reset_us / US,
        retry_after=retry_us / US,
    )
