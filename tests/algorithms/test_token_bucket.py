"""Token-bucket (GCRA) maths (:mod:`drf_ratelimit._algorithms.token_bucket`): pure integers, no I/O.

One timestamp per client (the TAT) must give: ``burst`` at once, then one
every ``T``; never more than ``burst + L/T`` in any span ``L``; and waits
exact to the microsecond.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from drf_ratelimit._algorithms.base import US
from drf_ratelimit._algorithms.token_bucket import (
    allows,
    arrival,
    interval_us,
    key_timeout_ms,
    retry_after_us,
    used,
)

NOW = 1_700_000_000 * US
#: 3 per minute: one token every 20 s.
T = 20 * US


# --- interval_us ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "period", "expected"),
    [
        (3, 60, 20 * US),
        (1, 86_400, 86_400 * US),
        (7, 1, 142_858),  # 142857.14... rounded up, never down
        (3, 1, 333_334),
        (1_000_000, 1, 1),
        (3_000_000, 1, 1),  # below a microsecond: still 1, the strictest it can be
        (0, 60, 60 * US),  # a limit of 0: any interval will do, nothing is admitted
    ],
)
def test_interval_rounds_up(limit: int, period: int, expected: int) -> None:
    assert interval_us(limit, period) == expected


@hypothesis_settings(max_examples=200)
@given(
    limit=st.integers(min_value=1, max_value=10**7),
    period=st.integers(min_value=1, max_value=10**6),
)
def test_property_rounding_only_makes_the_limit_stricter(limit: int, period: int) -> None:
    """``limit`` intervals never fit in less than the period (so a full bucket
    refills no faster than the rate), and the rounding is the least possible."""
    interval = interval_us(limit, period)
    assert limit * interval >= period * US
    assert limit * (interval - 1) < period * US


# --- arrival / allows / used ---------------------------------------------------------------


def test_arrival_starts_from_now_when_the_bucket_is_idle() -> None:
    assert arrival(0, NOW, 1, T) == NOW + T  # no key yet: TAT 0
    assert arrival(NOW - 5 * US, NOW, 2, T) == NOW + 2 * T  # a TAT in the past
    assert arrival(NOW + 7, NOW, 1, T) == NOW + 7 + T  # a TAT in the future
    assert arrival(NOW + 7, NOW, 0, T) == NOW + 7  # cost 0 moves nothing


def test_a_full_bucket_allows_burst_at_once_then_one_per_interval() -> None:
    tat, admitted = 0, []
    for _ in range(5):
        ok = allows(tat, NOW, 1, T, 3)
        admitted.append(ok)
        if ok:
            tat = arrival(tat, NOW, 1, T)
    assert admitted == [True, True, True, False, False]
    assert tat == NOW + 3 * T
    assert not allows(tat, NOW + T - 1, 1, T, 3)
    assert allows(tat, NOW + T, 1, T, 3)
    assert not allows(tat, NOW + 2 * T - 1, 2, T, 3)
    assert allows(tat, NOW + 2 * T, 2, T, 3)


def test_a_cost_above_the_burst_and_a_zero_burst_never_pass() -> None:
    assert not allows(0, NOW, 4, T, 3)
    assert allows(0, NOW, 3, T, 3)
    zero = interval_us(0, 60)
    assert not allows(0, NOW, 1, zero, 0)
    assert allows(0, NOW, 0, zero, 0)  # a read is always answered


@pytest.mark.parametrize(
    ("ahead", "tokens"),
    [(-5 * US, 0), (0, 0), (1, 1), (T - 1, 1), (T, 1), (T + 1, 2), (3 * T, 3)],
)
def test_used_counts_intervals_ahead_rounded_up(ahead: int, tokens: int) -> None:
    assert used(NOW + ahead, NOW, T) == tokens


# --- retry_after_us / key_timeout_ms -------------------------------------------------------


def test_retry_after_is_when_the_overflowing_tat_fits() -> None:
    full = NOW + 3 * T
    overflow = arrival(full, NOW, 1, T)
    retry = retry_after_us(overflow, NOW, T, 3)
    assert retry == T
    assert allows(full, NOW + retry, 1, T, 3)
    assert not allows(full, NOW + retry - 1, 1, T, 3)
    assert retry_after_us(arrival(0, NOW, 1, T), NOW, T, 3) == 0


def test_key_timeout_lasts_until_the_tat_plus_grace() -> None:
    assert key_timeout_ms(NOW + 3 * T, NOW, 5000) == 60_000 + 5000
    assert key_timeout_ms(NOW + 1, NOW, 0) == 1  # rounded up to the millisecond
    assert key_timeout_ms(NOW - 10 * US, NOW, 5000) == 5000  # a TAT in the past


# --- properties ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    at_us: int
    cost: int


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[int, int, list[Arrival]]:
    """(interval, burst, arrivals) for a rate of 1..20 per 1..120 s."""
    limit = draw(st.integers(min_value=1, max_value=20))
    period = draw(st.integers(min_value=1, max_value=120))
    burst = draw(st.one_of(st.just(limit), st.integers(min_value=1, max_value=20)))
    interval = interval_us(limit, period)
    start = draw(st.integers(min_value=0, max_value=10**12))
    gap = st.one_of(
        st.just(0),
        st.integers(min_value=0, max_value=interval),
        st.integers(min_value=0, max_value=period * US),
    )
    steps = draw(
        st.lists(st.tuples(gap, st.integers(min_value=1, max_value=3)), min_size=1, max_size=60)
    )
    arrivals, now = [], start
    for step, cost in steps:
        now += step
        arrivals.append(Arrival(now, cost))
    return interval, burst, arrivals


def simulate(
    interval: int, burst: int, arrivals: list[Arrival]
) -> tuple[list[Arrival], list[tuple[int, Arrival]]]:
    """(admitted, denied with the TAT each found), as a store would decide."""
    tat = 0
    admitted: list[Arrival] = []
    denied: list[tuple[int, Arrival]] = []
    for a in arrivals:
        if allows(tat, a.at_us, a.cost, interval, burst):
            tat = arrival(tat, a.at_us, a.cost, interval)
            admitted.append(a)
        else:
            denied.append((tat, a))
    return admitted, denied


@hypothesis_settings(max_examples=300, deadline=None)
@given(scenarios())
def test_property_at_most_burst_plus_l_over_t_in_any_span(
    scenario: tuple[int, int, list[Arrival]],
) -> None:
    """Admitted cost over ``[s, s + L]`` is at most ``burst + L/T``.

    After the last admitted request of the span, ``TAT - t_last <= burst*T``;
    the TAT started at or after the first one's time and grew by ``cost*T`` for
    each admitted request, so ``t_first + S*T <= t_last + burst*T``. Compared
    in integers; the worst spans start and end on admitted requests.
    """
    interval, burst, arrivals = scenario
    admitted, _ = simulate(interval, burst, arrivals)
    for i, first in enumerate(admitted):
        total = 0
        for last in admitted[i:]:
            total += last.cost
            span = last.at_us - first.at_us
            assert total * interval <= burst * interval + span, (first, last, total)


@hypothesis_settings(max_examples=300, deadline=None)
@given(scenarios())
def test_property_a_full_bucket_is_never_refused(
    scenario: tuple[int, int, list[Arrival]],
) -> None:
    """The other side of the bound: a request within the burst is admitted
    whenever the bucket has had time to refill (no spurious denials)."""
    interval, burst, arrivals = scenario
    tat = 0
    for a in arrivals:
        ok = allows(tat, a.at_us, a.cost, interval, burst)
        if tat <= a.at_us:  # everything has drained
            assert ok == (a.cost <= burst)
        if ok:
            tat = arrival(tat, a.at_us, a.cost, interval)


@hypothesis_settings(max_examples=300, deadline=None)
@given(scenarios())
def test_property_retry_after_is_exact(scenario: tuple[int, int, list[Arrival]]) -> None:
    """Every denied request within the burst passes at ``now + retry`` (if nothing
    else arrives) and not one microsecond earlier; one above it never passes."""
    interval, burst, arrivals = scenario
    _, denied = simulate(interval, burst, arrivals)
    for tat, a in denied:
        retry = retry_after_us(arrival(tat, a.at_us, a.cost, interval), a.at_us, interval, burst)
        assert retry > 0
        if a.cost > burst:
            for later in (retry, retry + burst * interval, 10**12):
                assert not allows(tat, a.at_us + later, a.cost, interval, burst)
            continue
        assert allows(tat, a.at_us + retry, a.cost, interval, burst)
        assert not allows(tat, a.at_us + retry - 1, a.cost, interval, burst)


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    ahead=st.integers(min_value=-(10**9), max_value=10**11),
    cost=st.integers(min_value=0, max_value=20),
    interval=st.integers(min_value=1, max_value=10**9),
    burst=st.integers(min_value=1, max_value=20),
)
def test_property_used_agrees_with_allows(ahead: int, cost: int, interval: int, burst: int) -> None:
    """``used`` is what the engine reports as the count and ``allows`` what it
    decides: a request is denied exactly when the count it would reach exceeds
    the burst, which is what keeps ``should_limit == count > limit``."""
    tat = NOW + ahead
    reached = used(arrival(tat, NOW, cost, interval), NOW, interval)
    assert allows(tat, NOW, cost, interval, burst) == (reached <= burst)
