"""The three algorithms end to end: the engine on every backend, and through
``get_usage``, ``@ratelimit`` and the DRF throttles.

Unless a test says otherwise the clock is the frozen ``clock`` fixture at
1_700_000_000 s, which is 20 s into its minute, 800 s into its hour and on a
10-second boundary. For 3 requests per 60 s that means:

* fixed window (clock-aligned, as the throttles lay it out): resets 40 s later;
* sliding window: the 3 weigh until the end of the next minute (100 s), and a
  4th fits 60 s later, when 2/3 of the previous minute is still counted;
* token bucket: one token every 20 s, the bucket is full again 60 s later.

Pure maths is in test_sliding_window.py / test_token_bucket.py; contention in
tests/storage/test_algorithm_concurrency.py.
"""

from __future__ import annotations

import itertools
import math
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from redis.cluster import RedisCluster
from rest_framework.decorators import api_view, throttle_classes
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from drf_ratelimit import clock as clock_module
from drf_ratelimit import conf
from drf_ratelimit._algorithms import NAMES, algorithm_named
from drf_ratelimit._algorithms import sliding_window as sliding
from drf_ratelimit._algorithms import token_bucket as gcra
from drf_ratelimit._algorithms.base import US, Charge, KeyScope
from drf_ratelimit._engine import DECLARED, Limit, check
from drf_ratelimit._spec.rates import Rate
from drf_ratelimit._storage import Quotas
from drf_ratelimit._storage.redis import RedisStore
from drf_ratelimit.clock import FakeClock, use_clock
from drf_ratelimit.core import get_usage
from drf_ratelimit.decorators import ratelimit
from drf_ratelimit.exceptions import CounterUnavailable, Ratelimited
from drf_ratelimit.throttles import AnonRateThrottle, RatelimitThrottle
from drf_ratelimit.usage import Usage
from tests.conftest import (
    NO_TOKEN_BUCKET_ON_PYLIBMC,
    SWAPPING_ALGORITHMS,
    Backend,
    install_backend,
    skip_token_bucket_on_pylibmc,
)
from tests.servers import (
    MemcachedServer,
    find_binary,
    free_cluster_port,
    server_unavailable,
    wait_for_port,
)

T0 = 1_700_000_000.0
FIXED_WINDOW, SLIDING_WINDOW, TOKEN_BUCKET, SLIDING_LOG = NAMES
ALGORITHMS = [FIXED_WINDOW, SLIDING_WINDOW, TOKEN_BUCKET, SLIDING_LOG]
TIMED = [SLIDING_WINDOW, TOKEN_BUCKET, SLIDING_LOG]
REDIS_BACKENDS = ["redis", "django_redis"]
CAS_BACKENDS = ["locmem", "memcached"]


@pytest.fixture(autouse=True)
def _no_token_bucket_on_pylibmc(request: pytest.FixtureRequest) -> None:
    """pylibmc refuses the token bucket (E008); the refusal is tested below."""
    skip_token_bucket_on_pylibmc(request, always=request.node.originalname in USE_THE_TOKEN_BUCKET)


#: Tests that run the token bucket without an ``algorithm`` parameter.
USE_THE_TOKEN_BUCKET = {
    "test_token_bucket_refills_one_token_every_interval",
    "test_token_bucket_burst_sets_the_bucket_not_the_rate",
    "test_get_usage_arguments_override_the_settings",
    "test_a_throttle_may_override_get_cost",
    "test_a_throttle_burst_sizes_its_bucket",
}


def test_pylibmc_refuses_the_token_bucket(
    request: pytest.FixtureRequest, settings: Any, clock: FakeClock
) -> None:
    install_backend(request, settings, "pylibmc")
    limits = [Limit("refused", Rate(3, 60), "10.0.0.1")]
    with pytest.raises(ImproperlyConfigured, match=r"'token-bucket'.*pymemcache"):
        check(limits, algorithm=TOKEN_BUCKET)
    assert check(limits, algorithm=SLIDING_WINDOW) is not None


Fields = tuple[int, int, bool, int, int, float, float, bool]


@pytest.fixture(params=ALGORITHMS)
def algorithm(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def _declarations() -> Iterator[None]:
    """Throttles and decorated views defined by these tests leave the registry
    (read by the system checks) as they found it."""
    saved = list(DECLARED)
    yield
    DECLARED[:] = saved


def skip_token_bucket_on_pylibmc_for(backend: Backend, algorithm: str) -> None:
    """pylibmc refuses the algorithms that need compare-and-swap (E008)."""
    if backend.name == "pylibmc" and algorithm in SWAPPING_ALGORITHMS:
        pytest.skip(NO_TOKEN_BUCKET_ON_PYLIBMC)


def limit(
    count: int = 3, period: int = 60, *, value: str = "10.0.0.1", burst: int | None = None
) -> Limit:
    """One rate for one client, in the throttles' clock-aligned layout."""
    return Limit("g", Rate(count, period), value, aligned=True, burst=burst)


def run(
    limits: list[Limit],
    algorithm: str,
    cost: int = 1,
    *,
    count_denied: bool = False,
    cache: BaseCache | None = None,
) -> list[Usage]:
    usages = check(limits, cost, algorithm=algorithm, count_denied=count_denied, cache=cache)
    assert usages is not None
    assert not any(usage.failed for usage in usages)
    # The contract every answer keeps, whatever the algorithm or backend.
    assert all(usage.should_limit == (usage.count > usage.limit) for usage in usages)
    return usages


def one(lim: Limit, algorithm: str, cost: int = 1, *, count_denied: bool = False) -> Usage:
    (usage,) = run([lim], algorithm, cost, count_denied=count_denied)
    return usage


def peek(limits: list[Limit], algorithm: str, cache: BaseCache | None = None) -> list[Usage]:
    return run(limits, algorithm, 0, cache=cache)


def fields(usage: Usage) -> Fields:
    """Every field of a Usage (it compares by identity)."""
    return (
        usage.count,
        usage.limit,
        usage.should_limit,
        usage.time_left,
        usage.period,
        usage.reset_after,
        usage.retry_after,
        usage.failed,
    )


def flags(usages: list[Usage]) -> list[bool]:
    return [usage.should_limit for usage in usages]


def assert_retry_is_exact(
    clock: FakeClock, limits: list[Limit], algorithm: str, cost: int = 1
) -> float:
    """A check denied now passes ``retry_after`` later, and not 1 ms sooner.

    Denied requests are not charged here, so probing does not move the answer.
    """
    start = clock.time
    usages = run(limits, algorithm, cost)
    assert any(flags(usages))
    wait = max(usage.retry_after for usage in usages)
    assert wait > 0.001
    clock.time = start + wait - 0.001
    assert any(flags(run(limits, algorithm, cost))), "admitted before retry_after"
    clock.time = start + wait
    assert not any(flags(run(limits, algorithm, cost))), "still denied at retry_after"
    return wait


# --- exact sequences -----------------------------------------------------------------------

#: (count, should_limit, time_left, reset_after, retry_after) for 4 requests at T0 against
#: 3/60 s. ``None``: not pinned here (a denied token-bucket request's reset_after, see
#: test_a_denied_request_reports_when_the_quota_it_left_is_back).
SEQUENCES: dict[str, list[tuple[int, bool, int, float | None, float]]] = {
    FIXED_WINDOW: [
        (1, False, 40, 40.0, 0.0),
        (2, False, 40, 40.0, 0.0),
        (3, False, 40, 40.0, 40.0),
        (4, True, 40, 40.0, 40.0),
    ],
    SLIDING_WINDOW: [
        (1, False, 100, 100.0, 0.0),
        (2, False, 100, 100.0, 0.0),
        (3, False, 100, 100.0, 60.0),
        (4, True, 60, 100.0, 60.0),
    ],
    TOKEN_BUCKET: [
        (1, False, 20, 20.0, 0.0),
        (2, False, 40, 40.0, 0.0),
        (3, False, 60, 60.0, 20.0),
        (4, True, 20, None, 20.0),
    ],
    SLIDING_LOG: [
        (1, False, 60, 60.0, 0.0),
        (2, False, 60, 60.0, 0.0),
        (3, False, 60, 60.0, 60.0),
        (4, True, 60, 60.0, 60.0),
    ],
}


def test_three_per_minute_then_an_exact_wait(
    backend: Backend, clock: FakeClock, algorithm: str
) -> None:
    lim = limit(3, 60)
    usages = [one(lim, algorithm) for _ in range(4)]

    for usage, (count, limited, time_left, reset_after, retry_after) in zip(
        usages, SEQUENCES[algorithm], strict=True
    ):
        assert (usage.count, usage.should_limit, usage.time_left) == (count, limited, time_left)
        assert usage.retry_after == retry_after
        if reset_after is not None:
            assert usage.reset_after == reset_after
        assert (usage.limit, usage.period) == (3, 60)
        assert usage.should_limit == (usage.count > usage.limit)
    # The 4th was not charged (count_denied is off): the wait did not grow.
    assert assert_retry_is_exact(clock, [lim], algorithm) == SEQUENCES[algorithm][3][4]


#: Requests admitted (out of 10 each time) 0.5 s before a minute boundary, 0.5 s
#: after it, and 30 s after it, against 5/60 s.
EDGE_ADMITTED = {
    FIXED_WINDOW: [5, 5, 0],  # 2N within one second: the fixed window's known weakness
    SLIDING_WINDOW: [5, 0, 2],  # 5 * 59.5/60 still weighs; half a window later 2.5 does
    TOKEN_BUCKET: [5, 0, 2],  # one token per 12 s
    SLIDING_LOG: [5, 0, 0],  # the 5 of 39.5 s are in every minute until 99.5 s
}


def test_a_burst_across_a_window_edge(backend: Backend, clock: FakeClock, algorithm: str) -> None:
    """Why the throttles do not default to the fixed window: it admits 2N
    within one second around an aligned edge; the other two do not."""
    lim = limit(5, 60)
    admitted = []
    for at in (39.5, 40.5, 70.0):
        clock.time = T0 + at
        admitted.append(sum(not one(lim, algorithm).should_limit for _ in range(10)))
    assert admitted == EDGE_ADMITTED[algorithm]


def test_token_bucket_refills_one_token_every_interval(backend: Backend, clock: FakeClock) -> None:
    lim = limit(3, 60)  # T = 20 s
    assert flags([one(lim, TOKEN_BUCKET) for _ in range(4)]) == [False, False, False, True]
    for k in (1, 2, 3):
        clock.time = T0 + 20 * k - 0.001
        assert one(lim, TOKEN_BUCKET).should_limit
        clock.time = T0 + 20 * k
        assert flags([one(lim, TOKEN_BUCKET) for _ in range(2)]) == [False, True]


@pytest.mark.parametrize(("burst", "at_once"), [(1, 1), (5, 5)])
def test_token_bucket_burst_sets_the_bucket_not_the_rate(
    backend: Backend, clock: FakeClock, burst: int, at_once: int
) -> None:
    """``burst`` changes how many pass at once (reported as the limit); the
    refill stays one every ``P/N``."""
    lim = limit(3, 60, burst=burst)
    usages = [one(lim, TOKEN_BUCKET) for _ in range(at_once + 1)]
    assert flags(usages) == [False] * at_once + [True]
    assert {usage.limit for usage in usages} == {burst}
    assert usages[-1].retry_after == 20.0
    assert_retry_is_exact(clock, [lim], TOKEN_BUCKET)


def test_sliding_window_forgets_the_previous_window_gradually(
    backend: Backend, clock: FakeClock
) -> None:
    """3 at 20 s into minute k. In minute k+1 they weigh 3*(60-e)/60: at e=20
    (2) one more fits, at e=40 (1) one more again; at e=59 (0.05) none, as the
    current minute already holds those 2."""
    lim = limit(3, 60)
    assert flags([one(lim, SLIDING_WINDOW) for _ in range(3)]) == [False] * 3
    admitted = []
    for at in (60.0, 80.0, 99.0):
        clock.time = T0 + at
        admitted.append(sum(not one(lim, SLIDING_WINDOW).should_limit for _ in range(5)))
    assert admitted == [1, 1, 0]


RESET_AFTER = {FIXED_WINDOW: 40.0, SLIDING_WINDOW: 100.0, TOKEN_BUCKET: 60.0, SLIDING_LOG: 60.0}


def test_the_whole_quota_is_back_after_reset_after(
    backend: Backend, clock: FakeClock, algorithm: str
) -> None:
    lim = limit(3, 60)
    usages = [one(lim, algorithm) for _ in range(3)]
    assert usages[-1].reset_after == RESET_AFTER[algorithm]

    clock.time = T0 + RESET_AFTER[algorithm] - 0.001
    (almost,) = peek([lim], algorithm)
    assert almost.count >= 1, "something still counted 1 ms before the reset"

    clock.time = T0 + RESET_AFTER[algorithm]
    (fresh,) = peek([lim], algorithm)
    assert (fresh.count, fresh.should_limit, fresh.retry_after) == (0, False, 0.0)
    if algorithm != FIXED_WINDOW:  # the fixed window reports its new window's reset
        assert fresh.reset_after == 0.0
    assert flags([one(lim, algorithm) for _ in range(4)]) == [False, False, False, True]


# --- several limits in one check -----------------------------------------------------------


def test_a_check_of_several_limits_charges_all_or_none(
    backend: Backend, clock: FakeClock, algorithm: str
) -> None:
    """A request denied by one rate must not spend the other's quota: peeks
    before and after the denied check are identical, and the rate that would
    have admitted it reports its own state."""
    short, long = limit(2, 10), limit(3, 3600)
    both = [short, long]
    assert [flags(run(both, algorithm)) for _ in range(2)] == [[False, False]] * 2

    before = peek(both, algorithm)
    denied = run(both, algorithm)
    assert flags(denied) == [True, False]  # the short rate refuses
    assert fields(denied[1]) == fields(before[1])
    assert [fields(u) for u in peek(both, algorithm)] == [fields(u) for u in before]

    clock.time = T0 + 40  # the short rate has recovered on every algorithm
    assert flags(run(both, algorithm)) == [False, False]  # the long one now at 3

    clock.time = T0 + 80
    before = peek(both, algorithm)
    assert before[0].count == 0
    denied = run(both, algorithm)
    assert flags(denied) == [False, True]  # the long rate refuses
    assert fields(denied[0]) == fields(before[0])
    assert [fields(u) for u in peek(both, algorithm)] == [fields(u) for u in before]

    # Charging denied requests charges every rate of the check (the log keeps
    # only the newest N entries, so it stays at the limit).
    assert flags(run(both, algorithm, count_denied=True)) == [False, True]
    after = peek(both, algorithm)
    assert [u.count for u in after] == [1, 3 if algorithm == SLIDING_LOG else 4]


#: retry_after of 3 denied requests after 3 admitted (3/60 s at T0), without and with
#: count_denied. Charging denied requests extends the lockout of the timed algorithms.
DENIED_RETRIES = {
    FIXED_WINDOW: ([40.0] * 3, [40.0] * 3),
    SLIDING_WINDOW: ([60.0] * 3, [70.0, 76.0, 80.0]),
    TOKEN_BUCKET: ([20.0] * 3, [40.0, 60.0, 80.0]),
    SLIDING_LOG: ([60.0] * 3, [60.0] * 3),  # a period after the newest N, at most
}
#: Counts of those 3 denied requests, and the count after them, with count_denied.
#: The log keeps the newest N entries only, so its lockout never grows past a period.
CHARGED_DENIAL_COUNTS = {SLIDING_LOG: ([4, 4, 4], 3)}


@pytest.mark.parametrize("count_denied", [False, True])
def test_count_denied_charges_denied_requests(
    backend: Backend, clock: FakeClock, algorithm: str, count_denied: bool
) -> None:
    lim = limit(3, 60)
    assert flags([one(lim, algorithm) for _ in range(3)]) == [False] * 3

    denied = [one(lim, algorithm, count_denied=count_denied) for _ in range(3)]

    assert flags(denied) == [True] * 3
    counts, after = CHARGED_DENIAL_COUNTS.get(algorithm, ([4, 5, 6], 6))
    assert [u.count for u in denied] == (counts if count_denied else [4, 4, 4])
    assert [u.retry_after for u in denied] == DENIED_RETRIES[algorithm][count_denied]
    (state,) = peek([lim], algorithm)
    assert state.count == (after if count_denied else 3)
    assert assert_retry_is_exact(clock, [lim], algorithm) == denied[-1].retry_after


# --- cost ----------------------------------------------------------------------------------


def test_a_request_may_cost_more_than_one(
    backend: Backend, clock: FakeClock, algorithm: str
) -> None:
    lim = limit(5, 60)
    usages = [one(lim, algorithm, cost) for cost in (2, 2, 2, 1, 1)]
    assert flags(usages) == [False, False, True, False, True]
    assert [u.count for u in usages] == [2, 4, 6, 5, 6]


#: Seconds until a cost-2 request fits after 4 of 5 were used at T0.
COST_TWO_WAIT = {FIXED_WINDOW: 40.0, SLIDING_WINDOW: 55.0, TOKEN_BUCKET: 12.0, SLIDING_LOG: 60.0}


def test_retry_after_is_for_a_request_of_the_same_cost(
    backend: Backend, clock: FakeClock, algorithm: str
) -> None:
    lim = limit(5, 60)
    one(lim, algorithm, 4)
    assert not one(lim, algorithm, 0).should_limit
    wait = assert_retry_is_exact(clock, [lim], algorithm, cost=2)
    assert wait == COST_TWO_WAIT[algorithm]


def test_a_cost_above_the_limit_is_never_admitted(
    backend: Backend, clock: FakeClock, algorithm: str
) -> None:
    lim = limit(3, 60)
    first = one(lim, algorithm, 4)
    assert (first.should_limit, first.count) == (True, 4)
    assert first.retry_after > 0
    assert peek([lim], algorithm)[0].count == 0  # not charged
    for later in sorted({first.retry_after, 60.0, 3600.0}):
        clock.time = T0 + later
        assert one(lim, algorithm, 4).should_limit
    assert not one(lim, algorithm, 3).should_limit  # the limit itself fits


def test_a_limit_of_zero_admits_nothing(backend: Backend, clock: FakeClock, algorithm: str) -> None:
    """``(0, 60)`` blocks outright (a rate callable's way to shut a client out)."""
    lim = limit(0, 60)
    first = one(lim, algorithm)
    assert (first.should_limit, first.limit, first.retry_after > 0) == (True, 0, True)
    for later in sorted({first.retry_after, 60.0, 86400.0}):
        clock.time = T0 + later
        assert one(lim, algorithm).should_limit
    assert peek([lim], algorithm)[0].count == 0


def test_a_peek_never_writes(backend: Backend, clock: FakeClock, algorithm: str) -> None:
    """cost=0 reads: no key is created, nothing changes, and the requests
    after it count exactly as if it had not happened."""
    lim = limit(3, 60)
    with no_writes(backend):
        assert [peek([lim], algorithm)[0].count for _ in range(3)] == [0, 0, 0]
    one(lim, algorithm)
    one(lim, algorithm)
    (before,) = peek([lim], algorithm)
    with no_writes(backend):
        repeated = [peek([lim], algorithm)[0] for _ in range(5)]
    assert {fields(u) for u in repeated} == {fields(before)}
    assert [u.count for u in (one(lim, algorithm), one(lim, algorithm))] == [3, 4]


def test_the_write_probe_sees_a_charge(backend: Backend, clock: FakeClock, algorithm: str) -> None:
    """The control for the test above: one counted request is a write it catches."""
    with pytest.raises(AssertionError), no_writes(backend):
        one(limit(3, 60), algorithm)


def test_the_same_scenario_reports_the_same_on_every_backend(
    backend: Backend, clock: FakeClock, algorithm: str
) -> None:
    """Every field of every Usage, through several rates, costs, peeks,
    charged denials and window changes, is identical to local memory's (which
    is the pure Python maths): so the Lua scripts, the counters and the
    compare-and-swap all implement the same algorithm."""
    reference = LocMemCache(f"reference-{uuid.uuid4()}", {})
    assert scenario(algorithm, clock, backend.cache) == scenario(algorithm, clock, reference)


def scenario(algorithm: str, clock: FakeClock, cache: BaseCache) -> list[list[Fields]]:
    a, b = limit(3, 60, value="scenario"), limit(5, 3600, value="scenario")
    steps: list[tuple[float, list[Limit], int, bool]] = [
        (0.0, [a, b], 1, False),
        (0.0, [a, b], 2, False),
        (0.0, [a, b], 1, False),
        (0.0, [a, b], 1, True),
        (0.0, [a, b], 0, False),
        (30.5, [a, b], 1, False),
        (30.5, [a], 3, False),
        (61.25, [a, b], 1, False),
        (61.25, [b], 0, False),
        (200.0, [a, b], 2, True),
        (200.0, [b, a], 2, False),
        (3000.0, [a, b], 1, False),
    ]
    results = []
    for at, limits, cost, count_denied in steps:
        clock.time = T0 + at
        usages = run(limits, algorithm, cost, count_denied=count_denied, cache=cache)
        results.append([fields(u) for u in usages])
    return results


@pytest.mark.parametrize("algorithm", TIMED)
def test_engine_decides_like_the_pure_model(backend: Backend, algorithm: str) -> None:
    """Random arrivals (costs 1..3, rates 1..20 per 1..120 s) through the real
    store give the decisions, counts and exact waits of the pure functions."""
    values = itertools.count()

    @hypothesis_settings(max_examples=15, deadline=None, database=None)
    @given(
        count=st.integers(min_value=1, max_value=20),
        period=st.integers(min_value=1, max_value=120),
        data=st.data(),
    )
    def run_model(count: int, period: int, data: st.DataObject) -> None:
        period_us = period * US
        steps = data.draw(
            st.lists(
                st.tuples(
                    st.one_of(st.just(0), st.integers(0, period_us // count)),
                    st.integers(1, 3),
                ),
                min_size=1,
                max_size=25,
            )
        )
        lim = limit(count, period, value=f"model-{next(values)}")
        model = Model(algorithm, count, period)
        now = int(T0) * US + data.draw(st.integers(0, period_us))
        for gap, cost in steps:
            now += gap
            (usage,) = check([lim], cost, algorithm=algorithm, now=now / US, cache=backend.cache)  # type: ignore[misc]
            expected = model.decide(now, cost)
            got = (usage.should_limit, usage.count, round(usage.retry_after * US))
            assert got == expected, (now, cost)

    run_model()


class Model:
    """One client's state under the pure functions, decided as the engine reports."""

    def __init__(self, algorithm: str, count: int, period: int) -> None:
        self.algorithm, self.count, self.period_us = algorithm, count, period * US
        self.interval = gcra.interval_us(count, period)
        self.windows: dict[int, int] = {}
        self.tat = 0
        self.admitted: list[int] = []

    def decide(self, now: int, cost: int) -> tuple[bool, int, int]:
        """(should_limit, count, retry_after in µs) for a request of ``cost``."""
        if self.algorithm == SLIDING_WINDOW:
            return self._sliding(now, cost)
        if self.algorithm == SLIDING_LOG:
            return self._log(now, cost)
        return self._token(now, cost)

    def _log(self, now: int, cost: int) -> tuple[bool, int, int]:
        """DRF's log, written plainly: the times of the admitted requests, and
        the retry found by trying every moment one of them expires."""
        recent = [t for t in self.admitted if t > now - self.period_us]
        denied = len(recent) + cost > self.count
        if not denied:
            recent += [max([now, *recent])] * cost
        self.admitted = recent

        def admits(at: int) -> bool:
            return sum(t > at - self.period_us for t in recent) + cost <= self.count

        if admits(now):
            retry = 0
        elif cost > self.count:
            retry = max(recent) + self.period_us - now if recent else self.period_us
        else:
            retry = min(t + self.period_us for t in recent if admits(t + self.period_us)) - now
        return denied, len(recent) + (cost if denied else 0), retry

    def _sliding(self, now: int, cost: int) -> tuple[bool, int, int]:
        index, into = (
            sliding.window_index(now, self.period_us),
            sliding.elapsed(now, self.period_us),
        )
        found = sliding.SlidingCounts(self.windows.get(index - 1, 0), self.windows.get(index, 0))
        charged = sliding.SlidingCounts(found.previous, found.current + cost)
        denied = not sliding.allows(found, cost, self.count, into, self.period_us)
        if not denied:
            self.windows[index] = charged.current
        stored = found if denied else charged
        retry = sliding.retry_after_us(stored, cost, self.count, into, self.period_us)
        return denied, math.ceil(sliding.estimate(charged, into, self.period_us)), retry

    def _token(self, now: int, cost: int) -> tuple[bool, int, int]:
        denied = not gcra.allows(self.tat, now, cost, self.interval, self.count)
        reached = gcra.arrival(self.tat, now, cost, self.interval)
        if not denied:
            self.tat = reached
        following = gcra.arrival(max(self.tat, now), now, cost, self.interval)
        retry = gcra.retry_after_us(following, now, self.interval, self.count)
        return denied, gcra.used(reached, now, self.interval), retry


# --- the functional API, the decorator and the throttles -----------------------------------


def client_request(method: str = "get", ip: str = "10.1.1.1") -> HttpRequest:
    return getattr(RequestFactory(), method)("/", REMOTE_ADDR=ip)  # type: ignore[no-any-return]


def usage_of(request: HttpRequest, *, increment: bool = True, **options: Any) -> Usage:
    usage = get_usage(request, group="api", key="ip", rate="3/m", increment=increment, **options)
    assert usage is not None
    return usage


def test_get_usage_defaults_to_django_ratelimits_fixed_window(
    backend: Backend, clock: FakeClock
) -> None:
    """No settings: the fixed window, charging denied requests as django-ratelimit does."""
    request = client_request()
    usages = [usage_of(request) for _ in range(5)]
    assert [u.count for u in usages] == [1, 2, 3, 4, 5]
    assert flags(usages) == [False, False, False, True, True]
    assert usage_of(request, increment=False).count == 5


@pytest.mark.parametrize("algorithm", TIMED)
def test_get_usage_with_another_algorithm_does_not_charge_denied_requests(
    backend: Backend, clock: FakeClock, settings: Any, algorithm: str
) -> None:
    settings.RATELIMIT_ALGORITHM = algorithm
    request = client_request()
    assert flags([usage_of(request) for _ in range(5)]) == [False, False, False, True, True]
    assert usage_of(request, increment=False).count == 3

    settings.RATELIMIT_COUNT_DENIED = True
    usage_of(request)
    # The log keeps the newest N entries only: charged, but it stays at the limit.
    assert usage_of(request, increment=False).count == (3 if algorithm == SLIDING_LOG else 4)


def test_the_count_denied_setting_applies_to_the_fixed_window_too(
    backend: Backend, clock: FakeClock, settings: Any
) -> None:
    settings.RATELIMIT_COUNT_DENIED = False
    request = client_request()
    assert flags([usage_of(request) for _ in range(5)]) == [False, False, False, True, True]
    assert usage_of(request, increment=False).count == 3


def test_get_usage_arguments_override_the_settings(
    backend: Backend, clock: FakeClock, settings: Any
) -> None:
    settings.RATELIMIT_ALGORITHM = SLIDING_WINDOW
    request = client_request()
    usages = [usage_of(request, algorithm=TOKEN_BUCKET, burst=1) for _ in range(2)]
    assert flags(usages) == [False, True]
    assert usages[0].limit == 1
    assert usages[1].retry_after == 20.0
    usage_of(request, algorithm=TOKEN_BUCKET, burst=1, count_denied=True)
    assert usage_of(request, increment=False, algorithm=TOKEN_BUCKET, burst=1).count == 2


def cost_of_two(request: HttpRequest) -> int:
    """A dotted-path cost (``tests.algorithms.test_on_every_backend.cost_of_two``)."""
    return 2


def test_a_cost_callable_or_dotted_path_is_called_per_request(
    backend: Backend, clock: FakeClock, algorithm: str
) -> None:
    def by_method(request: HttpRequest) -> int:
        return 3 if request.method == "POST" else 1

    post, get = client_request("post"), client_request("get")
    assert not usage_of(post, algorithm=algorithm, cost=by_method).should_limit
    assert usage_of(get, algorithm=algorithm, cost=by_method, count_denied=False).should_limit

    other = client_request(ip="10.2.2.2")
    dotted = "tests.algorithms.test_on_every_backend.cost_of_two"
    usages = [usage_of(other, algorithm=algorithm, cost=dotted) for _ in range(2)]
    assert [u.count for u in usages] == [2, 4]
    assert flags(usages) == [False, True]


@pytest.mark.parametrize("algorithm", TIMED)
def test_the_decorator_counts_with_the_algorithm_and_cost_it_names(
    backend: Backend, clock: FakeClock, algorithm: str
) -> None:
    @ratelimit(
        key="ip",
        rate="3/m",
        algorithm=algorithm,
        cost="tests.algorithms.test_on_every_backend.cost_of_two",
    )
    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    request = client_request()
    assert view(request).status_code == 200
    with pytest.raises(Ratelimited):
        view(client_request())  # 2 + 2 > 3
    assert view(client_request(ip="10.3.3.3")).status_code == 200  # another client
    usage = get_usage(client_request(), fn=view, key="ip", rate="3/m", algorithm=algorithm)
    assert usage is not None
    assert usage.count == 2  # the denied request was not charged (not the fixed window)


def test_the_decorator_refuses_a_bad_cost_where_it_is_declared() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"@ratelimit\(cost\)=-1 "):
        ratelimit(key="ip", rate="3/m", cost=-1)
    with pytest.raises(ImproperlyConfigured, match=r"@ratelimit\(cost\)=True "):
        ratelimit(key="ip", rate="3/m", cost=True)
    with pytest.raises(ImproperlyConfigured, match=r"@ratelimit\(cost\)=1\.5 "):
        ratelimit(key="ip", rate="3/m", cost=1.5)


def test_a_cost_callable_returning_nonsense_is_named(backend: Backend, clock: FakeClock) -> None:
    def negative(request: HttpRequest) -> int:
        return -1

    with pytest.raises(ImproperlyConfigured, match=r"cost callable '.*negative' returned=-1"):
        usage_of(client_request(), cost=negative)


def throttled_view(throttle: type[RatelimitThrottle]) -> Callable[..., Any]:
    @api_view(["GET", "POST"])
    @throttle_classes([throttle])
    def view(request: Request) -> Response:
        return Response({"ok": True})

    return view


def throttle_class(name: str, **attrs: Any) -> type[RatelimitThrottle]:
    body = {"key": "ip", "rate": "3/m", "__module__": __name__, "__qualname__": name, **attrs}
    return type(name, (RatelimitThrottle,), body)


def call(view: Callable[..., Any], method: str = "get", **params: Any) -> Any:
    request = getattr(APIRequestFactory(), method)("/", params, REMOTE_ADDR="10.4.4.4")
    return view(request)


RETRY_AFTER_HEADER = {
    FIXED_WINDOW: "40",
    SLIDING_WINDOW: "60",
    TOKEN_BUCKET: "20",
    SLIDING_LOG: "60",
}


def test_a_throttle_with_an_algorithm(backend: Backend, clock: FakeClock, algorithm: str) -> None:
    view = throttled_view(throttle_class("AlgorithmThrottle", algorithm=algorithm))
    responses = [call(view) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[-1]["Retry-After"] == RETRY_AFTER_HEADER[algorithm]

    wait = float(RETRY_AFTER_HEADER[algorithm])
    clock.time = T0 + wait - 0.001
    assert call(view).status_code == 429
    clock.time = T0 + wait
    assert call(view).status_code == 200


@pytest.mark.parametrize("setting", [None, *ALGORITHMS])
def test_throttles_default_to_the_sliding_window(
    backend: Backend, clock: FakeClock, settings: Any, setting: str | None
) -> None:
    """No ``algorithm`` on the class: RATELIMIT_ALGORITHM, else the sliding window."""
    if setting is not None:
        settings.RATELIMIT_ALGORITHM = setting
    view = throttled_view(throttle_class("DefaultAlgorithmThrottle"))
    responses = [call(view) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[-1]["Retry-After"] == RETRY_AFTER_HEADER[setting or SLIDING_WINDOW]


@pytest.mark.parametrize("setting", [None, *ALGORITHMS])
def test_drop_ins_default_to_drfs_sliding_log(
    backend: Backend, clock: FakeClock, settings: Any, setting: str | None
) -> None:
    """DRF's own classes, replaced: RATELIMIT_ALGORITHM, else DRF's algorithm."""
    if setting is not None:
        settings.RATELIMIT_ALGORITHM = setting
    skip_token_bucket_on_pylibmc_for(backend, setting or SLIDING_LOG)
    throttle = type("DropIn", (AnonRateThrottle,), {"rate": "3/m", "__module__": __name__})
    view = throttled_view(throttle)  # type: ignore[arg-type]
    responses = [call(view) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[-1]["Retry-After"] == RETRY_AFTER_HEADER[setting or SLIDING_LOG]


@pytest.mark.parametrize("how", ["attribute", "setting"])
def test_a_throttle_may_charge_denied_requests(
    backend: Backend, clock: FakeClock, settings: Any, how: str
) -> None:
    """Brute-force defence: each refused attempt pushes the sliding window's
    wait further (60, 70, 76 s); without it the wait stays 60 s."""
    if how == "setting":
        settings.RATELIMIT_COUNT_DENIED = True
        throttle = throttle_class("ChargedBySettingThrottle")
    else:
        throttle = throttle_class("ChargedThrottle", count_denied=True)
    plain = throttle_class("UnchargedThrottle", count_denied=False)
    for cls, waits in ((throttle, ["70", "76", "80"]), (plain, ["60", "60", "60"])):
        view = throttled_view(cls)
        assert [call(view).status_code for _ in range(3)] == [200] * 3
        assert [call(view)["Retry-After"] for _ in range(3)] == waits


def test_a_throttle_cost_function_in_the_class_body(backend: Backend, clock: FakeClock) -> None:
    """``def cost(request)`` in the class body is a plain function, not a method."""

    class PostCostsThree(RatelimitThrottle):
        key = "ip"
        rate = "3/m"

        def cost(request: Request) -> int:  # type: ignore[misc]
            return 3 if request.method == "POST" else 1

    view = throttled_view(PostCostsThree)
    assert call(view, "post").status_code == 200
    assert call(view, "get").status_code == 429
    assert call(view, "post").status_code == 429


def test_a_throttle_may_override_get_cost(backend: Backend, clock: FakeClock) -> None:
    class WeightedThrottle(RatelimitThrottle):
        key = "ip"
        rate = "5/m"
        algorithm = TOKEN_BUCKET

        def get_cost(self, request: Request) -> int:
            return int(request.query_params.get("weight", 1))

    view = throttled_view(WeightedThrottle)
    statuses = [call(view, weight=w).status_code for w in (3, 3, 2, 1)]
    assert statuses == [200, 429, 200, 429]
    denied = call(view, weight=1)
    assert denied["Retry-After"] == "12"  # one token every 12 s


def test_a_throttle_cost_that_is_not_a_cost_is_named(backend: Backend, clock: FakeClock) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"LiteralCostThrottle\.cost=-2 "):
        throttle_class("LiteralCostThrottle", cost=-2)

    class NegativeCostThrottle(RatelimitThrottle):
        key = "ip"
        rate = "3/m"

        def cost(request: Request) -> int:  # type: ignore[misc]
            return -1

    view = throttled_view(NegativeCostThrottle)
    with pytest.raises(
        ImproperlyConfigured,
        match=r"NegativeCostThrottle\.cost callable '.*NegativeCostThrottle\.cost' returned=-1",
    ):
        call(view)


def test_a_throttle_burst_sizes_its_bucket(backend: Backend, clock: FakeClock) -> None:
    view = throttled_view(throttle_class("BurstThrottle", algorithm=TOKEN_BUCKET, burst=1))
    responses = [call(view) for _ in range(2)]
    assert [r.status_code for r in responses] == [200, 429]
    assert responses[1]["Retry-After"] == "20"


@pytest.mark.parametrize("algorithm", TIMED)
def test_throttle_wait_is_exact(backend: Backend, clock: FakeClock, algorithm: str) -> None:
    """``wait()`` is ``retry_after`` to the microsecond, not DRF's rounded guess."""
    throttle = throttle_class("ExactWaitThrottle", algorithm=algorithm, rate="7/m")()
    request = Request(APIRequestFactory().get("/", REMOTE_ADDR="10.5.5.5"))
    view = APIView()
    clock.time = T0 + 0.25
    assert [throttle.allow_request(request, view) for _ in range(7)] == [True] * 7
    clock.time = T0 + 0.5
    assert throttle.allow_request(request, view) is False
    wait = throttle.wait()
    assert wait is not None
    assert wait == throttle.usages[0].retry_after > 0
    assert wait != math.ceil(wait)  # not a whole number of seconds: exact, not rounded

    clock.time = T0 + 0.5 + wait - 0.000_01
    assert throttle.allow_request(request, view) is False
    clock.time = T0 + 0.5 + wait
    assert throttle.allow_request(request, view) is True


# --- backends that cannot run an algorithm --------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_sharded_django_redis_cache_runs_each_check_on_one_shard(
    redis_server: Any, settings: Any, clock: FakeClock, algorithm: str
) -> None:
    """django-redis's ShardClient: the check's hash tag picks the shard, one
    EVALSHA there decides (every algorithm, two rates), and clients spread
    over the shards."""
    shards = [redis_server.url[:-1] + "2", redis_server.url[:-1] + "3"]
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "sharded": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": shards,
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.ShardClient"},
        },
    }
    settings.RATELIMIT_USE_CACHE = "sharded"
    for url in shards:
        redis.Redis.from_url(url).flushdb()
    observer = redis.Redis.from_url(shards[0])
    clients = [f"10.8.0.{n}" for n in range(1, 21)]
    for value in clients:
        limits = [limit(3, 60, value=value), limit(5, 3600, value=value)]
        assert [flags(run(limits, algorithm)) for _ in range(4)] == [[False, False]] * 3 + [
            [True, False]
        ]
    observer.config_resetstat()
    run([limit(3, 60, value="10.8.1.1"), limit(5, 3600, value="10.8.1.1")], algorithm)
    calls = redis_calls(observer)
    # One script for both rates (the add+incr fallback would run none).
    assert (calls["evalsha"], calls.get("eval", 0)) == (1, 0)
    held = [redis.Redis.from_url(url).dbsize() for url in shards]
    assert all(held), f"every client on one shard: {held}"


# --- Redis's own clock ---------------------------------------------------------------------


@pytest.fixture(params=REDIS_BACKENDS)
def redis_backend(request: pytest.FixtureRequest, settings: Any) -> Backend:
    return install_backend(request, settings, request.param)


@pytest.fixture
def observer(redis_backend: Backend) -> Iterator[redis.Redis]:
    """A separate connection to the same server, for its statistics."""
    assert redis_backend.server is not None
    client = redis.Redis(port=redis_backend.server.port, socket_timeout=10)
    try:
        yield client
    finally:
        client.close()


def redis_calls(observer: redis.Redis) -> dict[str, int]:
    stats = observer.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(stat["calls"]) for name, stat in stats.items()}


def skewed(kind: str) -> Callable[[], float]:
    """An app server's clock that is badly wrong (or several that disagree)."""
    if kind == "epoch":
        return lambda: 0.0
    if kind == "far-future":
        return lambda: 1e10
    readings = itertools.cycle([1e10, 0.0])
    return lambda: next(readings)


@pytest.mark.parametrize("algorithm", TIMED)
@pytest.mark.parametrize("skew", ["epoch", "far-future", "disagreeing"])
def test_redis_decides_with_its_own_clock(
    redis_backend: Backend, monkeypatch: pytest.MonkeyPatch, algorithm: str, skew: str
) -> None:
    """No test clock: whatever the app servers' clocks say, Redis's ``TIME``
    decides, so exactly the limit passes and the waits stay within a period."""
    monkeypatch.setattr(clock_module, "system_clock", skewed(skew))
    lim = limit(5, 60, value=f"skew-{skew}")
    usages = [one(lim, algorithm) for _ in range(8)]

    assert flags(usages) == [False] * 5 + [True] * 3
    bound = 120.0 if algorithm == SLIDING_WINDOW else 60.0
    assert all(0 < u.reset_after <= bound for u in usages[:5])
    assert all(0 < u.retry_after <= bound for u in usages[5:])
    assert all(u.time_left <= bound for u in usages)


@pytest.mark.parametrize("algorithm", TIMED)
def test_redis_with_the_app_clocks_would_not_hold_the_limit(
    redis_backend: Backend, algorithm: str
) -> None:
    """The control for the test above: the same disagreeing clocks passed in as
    ``now`` (what deciding on the app's clock would mean) break the limit.

    Except the sliding log's: it stamps an entry no earlier than the newest,
    so a clock that jumps back still finds the entries a faster one wrote."""
    readings = itertools.cycle([1e9, 0.0])
    lim = limit(5, 60, value="control")
    usages = [check([lim], algorithm=algorithm, now=next(readings)) for _ in range(8)]
    admitted = sum(not u[0].should_limit for u in usages if u is not None)
    assert (admitted == 5) is (algorithm == SLIDING_LOG)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_redis_reads_time_only_without_a_test_clock(
    redis_backend: Backend, observer: redis.Redis, algorithm: str
) -> None:
    lim = limit(5, 60, value="time")
    one(lim, algorithm)  # warm-up: script loaded, connection open

    observer.config_resetstat()
    one(lim, algorithm)
    # The timed algorithms' scripts call TIME once; the fixed window is keyed by the app's clock.
    assert redis_calls(observer).get("time", 0) == (0 if algorithm == FIXED_WINDOW else 1)
    assert redis_calls(observer)["evalsha"] == 1

    observer.config_resetstat()
    with use_clock(FakeClock(time.time())):
        one(lim, algorithm)
    check([lim], algorithm=algorithm, now=time.time())
    calls = redis_calls(observer)
    assert calls.get("time", 0) == 0
    assert calls["evalsha"] == 2


# --- Redis Cluster -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_cluster_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A single-node Redis Cluster owning all 16384 slots."""
    binary = find_binary("redis-server")
    workdir = tmp_path_factory.mktemp("redis-cluster")
    port = free_cluster_port()
    command = [
        binary,
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        str(workdir / "nodes.conf"),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        try:
            wait_for_port(port)
            start_cluster(port)
        except (OSError, RuntimeError, redis.RedisError) as exc:
            server_unavailable(f"a single-node Redis Cluster could not start: {exc}")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def start_cluster(port: int) -> None:
    client = redis.Redis(port=port, socket_timeout=5)
    try:
        client.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)  # type: ignore[no-untyped-call]
        deadline = time.monotonic() + 20
        while client.cluster("info").get("cluster_state") != "ok":
            if time.monotonic() > deadline:
                raise RuntimeError("cluster_state did not become ok")
            time.sleep(0.05)
    finally:
        client.close()


TWO_RATES = (Rate(3, 60), Rate(100, 86400))


def two_rate_keys(algorithm: str, value: str) -> tuple[Quotas, list[str]]:
    """The quotas and keys the engine builds for one client checked against two rates."""
    chosen = algorithm_named(algorithm, aligned_windows=True)
    quotas = Quotas.compile(chosen, TWO_RATES, None)
    scope = KeyScope(conf.snapshot().cache_prefix, conf.snapshot().hasher, "cluster")
    return quotas, chosen.keys(quotas.items, scope, value, T0)


def counts_before(found: Sequence[Any]) -> list[int]:
    """The count each quota had before the request (fixed and sliding window, sliding log)."""
    return [
        state if isinstance(state, int) else getattr(state, "current", None) or state[0]
        for state in found
    ]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_redis_cluster_runs_a_two_rate_check_in_one_slot(
    redis_cluster_port: int, algorithm: str
) -> None:
    """The keys of one check share a hash tag, so one script may touch them all
    on a cluster: no CROSSSLOT, and the counting is the same as on one server."""
    cluster = RedisCluster(host="127.0.0.1", port=redis_cluster_port)
    store = RedisStore(lambda: cluster, lambda key: key)
    try:
        # First on the app's time, then (another client) on the server's.
        for client, now_us in (("10.6.6.6", int(T0 * US)), ("10.7.7.7", None)):
            quotas, keys = two_rate_keys(algorithm, client)
            assert len({cluster.keyslot(key) for key in keys}) == 1  # type: ignore[no-untyped-call]
            outcomes = [store.run(quotas, Charge(keys, 1, False, now_us)) for _ in range(4)]
            assert [o.counted for o in outcomes] == [True, True, True, False]
            if algorithm != TOKEN_BUCKET:  # counts before each request, per rate
                found = [quotas.algorithm.found(o.found) if o.raw else o.found for o in outcomes]
                assert [counts_before(states) for states in found] == [
                    [0, 0],
                    [1, 1],
                    [2, 2],
                    [3, 3],
                ]
    finally:
        cluster.close()


def test_redis_cluster_refuses_keys_without_a_shared_tag(redis_cluster_port: int) -> None:
    """The control: keys that hash to different slots fail, both in redis-py's
    cluster client and on the server itself, so the test above could fail."""
    untagged = ["rl:burst:10.6.6.6", "rl:daily:10.6.6.6"]
    quotas = Quotas.compile(algorithm_named(SLIDING_WINDOW, aligned_windows=True), TWO_RATES, None)
    charge = Charge(untagged, 1, False, int(T0 * US))
    cluster = RedisCluster(host="127.0.0.1", port=redis_cluster_port)
    plain = redis.Redis(port=redis_cluster_port, socket_timeout=5)
    try:
        assert len({cluster.keyslot(key) for key in untagged}) == 2  # type: ignore[no-untyped-call]
        with pytest.raises(CounterUnavailable, match="same key slot"):
            RedisStore(lambda: cluster, lambda key: key).run(quotas, charge)
        with pytest.raises(CounterUnavailable, match=r"CrossSlot|hash to the same slot"):
            RedisStore(lambda: plain, lambda key: key).run(quotas, charge)
    finally:
        cluster.close()
        plain.close()


# --- what a backend writes -----------------------------------------------------------------

#: memcached statistics that move when something is stored, changed or deleted
#: (``incr`` by 0 is how the counters read, so incr is not among them).
MEMCACHED_WRITES = (
    "cmd_set",
    "cmd_touch",
    "cas_hits",
    "cas_misses",
    "cas_badval",
    "decr_hits",
    "decr_misses",
    "delete_hits",
)
REDIS_WRITES = {"set", "hset", "incrby", "pexpire", "expire", "del", "decrby", "setex"}


@contextmanager
def no_writes(backend: Backend) -> Iterator[None]:
    """Fail if the block stored, changed or deleted anything in the backend."""
    if backend.name == "locmem":
        cache: Any = backend.cache
        before = (dict(cache._cache), dict(cache._expire_info))
        yield
        assert (dict(cache._cache), dict(cache._expire_info)) == before
    elif backend.name in REDIS_BACKENDS:
        assert backend.server is not None
        client = redis.Redis(port=backend.server.port, socket_timeout=10)
        try:
            client.config_resetstat()
            yield
            written = {k: n for k, n in redis_calls(client).items() if k in REDIS_WRITES}
            assert written == {}
        finally:
            client.close()
    else:
        read = memcached_stats(backend)
        before_stats = read()
        yield
        assert read() == before_stats


def memcached_stats(backend: Backend) -> Callable[[], dict[str, int]]:
    assert isinstance(backend.server, MemcachedServer)
    port = backend.server.port

    def read() -> dict[str, int]:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"stats\r\n")
            data = b""
            while not data.endswith(b"END\r\n"):
                data += sock.recv(65536)
        stats = dict(line.split()[1:3] for line in data.decode().splitlines() if " " in line)
        return {name: int(stats[name]) for name in MEMCACHED_WRITES}

    return read


def remaining_ttl(backend: Backend, key: str) -> float:
    """Seconds before the cache forgets ``key`` (local memory or memcached)."""
    full_key = backend.cache.make_and_validate_key(key)
    if backend.name == "locmem":
        cache: Any = backend.cache
        return float(cache._expire_info[full_key]) - time.time()
    assert isinstance(backend.server, MemcachedServer)
    with socket.create_connection(("127.0.0.1", backend.server.port), timeout=5) as sock:
        sock.sendall(f"mg {full_key} t\r\n".encode())
        answer = sock.recv(1024).decode().split()
    assert answer[0] == "HD", answer
    return float(answer[1].removeprefix("t"))


def token_key(lim: Limit) -> str:
    bucket = algorithm_named(TOKEN_BUCKET, aligned_windows=True)
    quotas = Quotas.compile(bucket, [lim.rate], lim.burst)
    (key,) = bucket.keys(quotas.items, lim.scope, lim.value, T0)
    return key


# --- regressions: reset times, refunds, peeks, methods, duplicate rates, cost errors ---------


@pytest.mark.parametrize("algorithm", TIMED)
def test_a_denied_request_reports_when_the_quota_it_left_is_back(
    backend: Backend, clock: FakeClock, algorithm: str
) -> None:
    """``reset_after`` is the seconds until the whole quota is back. A denied
    request that was not charged leaves the state as it was, so it must report
    what a peek reports, and after that long the quota must be whole again.

    Token bucket: 3 at T0 put the TAT at T0+60; the 4th is denied and reports
    80 s (its would-be TAT). Sliding: 3 in one minute, then a denied request 5 s
    into the next reports 115 s (as if it had been counted) instead of 55 s.
    """
    lim = limit(3, 60)
    for _ in range(3):
        one(lim, algorithm)
    if algorithm == SLIDING_WINDOW:
        clock.time = T0 + 45
    start = clock.time
    (state,) = peek([lim], algorithm)
    denied = one(lim, algorithm)
    assert denied.should_limit
    clock.time = start + state.reset_after
    assert peek([lim], algorithm)[0].count == 0  # the peek's answer is the right one
    assert denied.reset_after == state.reset_after


@pytest.mark.parametrize("name", CAS_BACKENDS)
def test_a_refund_keeps_the_tat_for_as_long_as_it_matters(
    name: str, request: pytest.FixtureRequest, settings: Any, clock: FakeClock
) -> None:
    """After a two-rate check is refused by its second rate, the first rate's
    charge is given back by compare-and-swap. The key must then live until its
    TAT has passed: here 2160 s of 3600 s are in use, but the refund stores it
    for only 365 s (one interval plus grace), after which the cache forgets
    the client and a full bucket of 10 is handed out again."""
    backend = install_backend(request, settings, name)
    tens, ones = limit(10, 3600, value="refund"), limit(1, 3600, value="refund")
    for _ in range(5):
        one(tens, TOKEN_BUCKET)
    assert flags(run([tens, ones], TOKEN_BUCKET)) == [False, False]
    assert remaining_ttl(backend, token_key(tens)) > 2160
    assert flags(run([tens, ones], TOKEN_BUCKET)) == [False, True]  # refunded
    assert peek([tens], TOKEN_BUCKET)[0].count == 6  # the TAT is right...
    assert remaining_ttl(backend, token_key(tens)) > 2160  # ...but it is kept for 365 s


@pytest.mark.parametrize("name", CAS_BACKENDS)
def test_a_peek_never_rewrites_a_token_bucket(
    name: str, request: pytest.FixtureRequest, settings: Any, clock: FakeClock
) -> None:
    """A rate over its burst (denied requests were charged) makes a read-only
    check "deny"; the store then "gives back" cost 0 to the earlier rates by
    rewriting their keys, with a lifetime of just the grace (5 s): a peek
    writes, and the client's first-rate TAT is forgotten 5 s later."""
    backend = install_backend(request, settings, name)
    tens, ones = limit(10, 3600, value="peek"), limit(1, 3600, value="peek")
    for _ in range(3):
        run([tens, ones], TOKEN_BUCKET, count_denied=True)
    ttl = remaining_ttl(backend, token_key(tens))
    assert ttl > 1000
    with no_writes(backend):
        assert flags(peek([tens, ones], TOKEN_BUCKET)) == [False, True]
    assert remaining_ttl(backend, token_key(tens)) > ttl - 5


@pytest.mark.parametrize("algorithm", TIMED)
def test_method_specific_limits_count_apart_in_every_algorithm(
    backend: Backend, clock: FakeClock, algorithm: str
) -> None:
    """``@ratelimit(method="GET")`` and ``@ratelimit(method="POST")`` with the same
    group, key and rate have separate counters in the fixed window (the method
    is part of django-ratelimit's key); switching the algorithm must not merge
    them, or two GETs would use up the POST quota."""

    def hit(method: str) -> bool:
        usage = get_usage(
            client_request(method.lower()),
            group="methods",
            key="ip",
            rate="2/m",
            method=method,
            increment=True,
            algorithm=algorithm,
        )
        assert usage is not None
        return usage.should_limit

    assert [hit("GET"), hit("GET"), hit("GET")] == [False, False, True]
    assert hit("POST") is False


def test_an_unimportable_cost_path_names_its_throttle(clock: FakeClock) -> None:
    view = throttled_view(throttle_class("MissingCostThrottle", cost="tests.no_such_module.cost"))
    with pytest.raises(ImproperlyConfigured, match=r"MissingCostThrottle\.cost"):
        call(view)


def test_a_cost_string_that_is_no_dotted_path_fails_where_it_is_declared() -> None:
    """The decorator promises that literal options are checked at import; a
    string that is not a dotted path can never be a cost."""
    with pytest.raises(ImproperlyConfigured, match=r"@ratelimit\(cost\)='2'"):
        ratelimit(key="ip", rate="3/m", cost="2")


@pytest.mark.parametrize("name", REDIS_BACKENDS)
def test_a_rate_listed_twice_counts_the_same_on_every_backend(
    name: str, request: pytest.FixtureRequest, settings: Any, clock: FakeClock, algorithm: str
) -> None:
    """``100/h`` and ``100/60m`` are the same Rate, so the same key. The Redis
    scripts read every key before writing any (the token bucket and sliding
    window then write the same new value twice: charged once), while the
    counters increment the key once per limit (charged twice). Local memory is
    the reference: every backend must answer the same."""
    backend = install_backend(request, settings, name)
    reference = LocMemCache(f"reference-{uuid.uuid4()}", {})
    twice = [limit(4, 60, value="twice"), limit(4, 60, value="twice")]

    def answers(cache: BaseCache) -> list[list[Fields]]:
        return [[fields(u) for u in run(twice, algorithm, cache=cache)] for _ in range(5)]

    assert answers(backend.cache) == answers(reference)
