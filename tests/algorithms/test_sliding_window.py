"""Sliding-window counter maths (:mod:`drf_ratelimit._algorithms.sliding_window`).

Pure integers, no I/O. The engine and the Redis script decide with these
expressions, so the guarantees the throttles advertise stand or fall here: no
more than ``N`` per aligned window, no more than ``N + N*L/P`` in any span
``L <= P``, and waits that are exact to the microsecond.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from drf_ratelimit._algorithms.base import US
from drf_ratelimit._algorithms.sliding_window import (
    SlidingCounts,
    allows,
    elapsed,
    estimate,
    key_timeout_ms,
    reset_after_us,
    retry_after_us,
    window_index,
)

MINUTE = 60 * US
#: 1_700_000_000 s is 20 s into its minute.
NOW = 1_700_000_000 * US


def counts_at(counts: SlidingCounts, now_us: int, later_us: int, period_us: int) -> SlidingCounts:
    """The counters a request at ``later_us`` would find if nothing arrived after ``now_us``."""
    shift = window_index(later_us, period_us) - window_index(now_us, period_us)
    if shift == 0:
        return counts
    if shift == 1:
        return SlidingCounts(previous=counts.current, current=0)
    return SlidingCounts(0, 0)


def admitted_at(
    counts: SlidingCounts, cost: int, limit: int, now_us: int, later_us: int, period_us: int
) -> bool:
    found = counts_at(counts, now_us, later_us, period_us)
    return allows(found, cost, limit, elapsed(later_us, period_us), period_us)


# --- window_index / elapsed ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("now_us", "period_us", "index", "into"),
    [
        (0, MINUTE, 0, 0),
        (MINUTE - 1, MINUTE, 0, MINUTE - 1),
        (MINUTE, MINUTE, 1, 0),
        (NOW, MINUTE, 28_333_333, 20 * US),
        (NOW + 1, US, 1_700_000_000, 1),
        (NOW, 86_400 * US, 19_675, 80_000 * US),
    ],
)
def test_window_index_and_elapsed_are_clock_aligned(
    now_us: int, period_us: int, index: int, into: int
) -> None:
    assert window_index(now_us, period_us) == index
    assert elapsed(now_us, period_us) == into
    assert index * period_us + into == now_us


# --- estimate / allows ---------------------------------------------------------------------


def test_estimate_weights_the_previous_window_by_its_overlap() -> None:
    counts = SlidingCounts(previous=6, current=2)
    assert estimate(counts, 0, MINUTE) == 8.0  # the whole previous window still overlaps
    assert estimate(counts, MINUTE // 2, MINUTE) == 5.0  # half of it
    assert estimate(counts, MINUTE // 3, MINUTE) == 6.0
    assert estimate(counts, MINUTE - 1, MINUTE) == 2 + 6 / MINUTE  # one microsecond of it
    assert estimate(SlidingCounts(0, 0), 123, MINUTE) == 0.0


def test_estimate_divides_last_like_the_lua_script() -> None:
    """``previous * (P - e) / P``, not ``previous * ((P - e) / P)``: the Redis
    script evaluates left to right, and the other order rounds differently, so
    Python and Lua would disagree on requests that land exactly on the limit."""
    counts = SlidingCounts(previous=3, current=0)
    assert estimate(counts, 1, 7) == 18 / 7
    assert 3 * (6 / 7) != 18 / 7  # the order matters in floating point


def test_allows_up_to_and_including_the_limit() -> None:
    half_full = SlidingCounts(previous=4, current=1)
    # 30 s into the window: 4 * 1/2 + 1 = 3, so 2 more fit, not 3.
    assert allows(half_full, 2, 5, MINUTE // 2, MINUTE)
    assert not allows(half_full, 3, 5, MINUTE // 2, MINUTE)
    # One microsecond earlier the previous window weighs a little more.
    assert not allows(half_full, 2, 5, MINUTE // 2 - 1, MINUTE)


def test_allows_a_zero_cost_read_unless_already_over() -> None:
    assert allows(SlidingCounts(0, 5), 0, 5, 0, MINUTE)
    assert not allows(SlidingCounts(0, 6), 0, 5, 0, MINUTE)


def test_a_limit_of_zero_admits_nothing_but_reads() -> None:
    assert not allows(SlidingCounts(0, 0), 1, 0, 0, MINUTE)
    assert allows(SlidingCounts(0, 0), 0, 0, 0, MINUTE)


# --- retry_after_us ------------------------------------------------------------------------


def test_retry_after_is_zero_when_admitted_now() -> None:
    assert retry_after_us(SlidingCounts(0, 0), 1, 5, 0, MINUTE) == 0
    assert retry_after_us(SlidingCounts(0, 4), 1, 5, 123, MINUTE) == 0
    assert retry_after_us(SlidingCounts(4, 0), 1, 5, MINUTE // 2, MINUTE) == 0


@pytest.mark.parametrize(
    ("counts", "cost", "limit", "period_us", "elapsed_us", "expected_us"),
    [
        # room now: waits for the previous window to weigh little enough (30 s).
        (SlidingCounts(6, 1), 1, 5, MINUTE, 0, 30 * US),
        # full now: into the next window, where 5 current become previous (+12 s).
        (SlidingCounts(0, 5), 1, 5, MINUTE, 20 * US, 40 * US + 12 * US),
        # no room until exactly the window edge, where 2 current -> previous fit.
        (SlidingCounts(3, 2), 1, 3, MINUTE, 15 * US, 45 * US),
        # a cost of 2 needs more drained than a cost of 1.
        (SlidingCounts(0, 4), 2, 5, MINUTE, 20 * US, 40 * US + 15 * US),
        (SlidingCounts(0, 4), 1, 5, MINUTE, 20 * US, 0),
        # one-microsecond windows: the full one still weighs 1 in the next, gone in the one after.
        (SlidingCounts(0, 1), 1, 1, 1, 0, 2),
    ],
)
def test_retry_after_is_the_first_admitting_microsecond(
    counts: SlidingCounts, cost: int, limit: int, period_us: int, elapsed_us: int, expected_us: int
) -> None:
    period = period_us
    now = NOW - elapsed(NOW, period) + elapsed_us
    retry = retry_after_us(counts, cost, limit, elapsed_us, period)
    assert retry == expected_us
    assert admitted_at(counts, cost, limit, now, now + retry, period)
    if retry:
        assert not admitted_at(counts, cost, limit, now, now + retry - 1, period)


def test_a_cost_above_the_limit_is_never_admitted() -> None:
    """Such a request can never pass; whatever wait is reported, it is in the
    future (never "retry now") and waiting it out does not help."""
    for counts in (SlidingCounts(2, 1), SlidingCounts(0, 0)):
        retry = retry_after_us(counts, 6, 5, 20 * US, MINUTE)
        assert retry > 0
        for later in (0, retry, retry + MINUTE, 10 * MINUTE):
            assert not admitted_at(counts, 6, 5, NOW, NOW + later, MINUTE)
    assert retry_after_us(SlidingCounts(0, 0), 1, 0, 0, MINUTE) > 0  # a limit of 0


# --- reset_after_us / key_timeout_ms -------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "expected_us"),
    [
        (SlidingCounts(0, 0), 0),
        (SlidingCounts(3, 0), 40 * US),  # the previous window stops weighing at the edge
        (SlidingCounts(0, 1), 100 * US),  # the current one at the end of the next window
        (SlidingCounts(5, 2), 100 * US),
    ],
)
def test_reset_after_is_when_both_counters_stop_weighing(
    counts: SlidingCounts, expected_us: int
) -> None:
    into = 20 * US
    now = NOW
    assert elapsed(now, MINUTE) == into
    reset = reset_after_us(counts, into, MINUTE)
    assert reset == expected_us
    at_reset = counts_at(counts, now, now + reset, MINUTE)
    assert estimate(at_reset, elapsed(now + reset, MINUTE), MINUTE) == 0
    if reset:
        before = counts_at(counts, now, now + reset - 1, MINUTE)
        assert estimate(before, elapsed(now + reset - 1, MINUTE), MINUTE) > 0


def test_key_timeout_covers_the_next_window_plus_grace() -> None:
    # 20 s into a minute: the counters matter until the end of the next minute (100 s).
    assert key_timeout_ms(NOW, MINUTE, 5000) == 100_000 + 5000
    # Rounded up to the millisecond, never down.
    assert key_timeout_ms(NOW + 1, MINUTE, 0) == 100_000
    assert key_timeout_ms(NOW + 1_001, MINUTE, 0) == 99_999


# --- properties ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    at_us: int
    cost: int


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[int, int, list[Arrival]]:
    """(limit, period_us, arrivals): sorted microsecond timestamps, clustered
    enough that limits are hit, spread enough to cross several windows."""
    limit = draw(st.integers(min_value=1, max_value=20))
    period_us = draw(st.integers(min_value=1, max_value=120)) * US
    start = draw(st.integers(min_value=0, max_value=10**12))
    gap = st.one_of(
        st.just(0),
        st.integers(min_value=0, max_value=period_us // limit),
        st.integers(min_value=0, max_value=period_us),
    )
    steps = draw(
        st.lists(st.tuples(gap, st.integers(min_value=1, max_value=3)), min_size=1, max_size=60)
    )
    arrivals, now = [], start
    for step, cost in steps:
        now += step
        arrivals.append(Arrival(now, cost))
    return limit, period_us, arrivals


def simulate(
    limit: int, period_us: int, arrivals: list[Arrival]
) -> tuple[list[Arrival], list[tuple[SlidingCounts, Arrival]]]:
    """Run the arrivals through the maths as a store would: (admitted, denied with state)."""
    windows: dict[int, int] = {}
    admitted: list[Arrival] = []
    denied: list[tuple[SlidingCounts, Arrival]] = []
    for arrival in arrivals:
        index = window_index(arrival.at_us, period_us)
        counts = SlidingCounts(windows.get(index - 1, 0), windows.get(index, 0))
        if allows(counts, arrival.cost, limit, elapsed(arrival.at_us, period_us), period_us):
            windows[index] = counts.current + arrival.cost
            admitted.append(arrival)
        else:
            denied.append((counts, arrival))
    return admitted, denied


@hypothesis_settings(max_examples=300, deadline=None)
@given(scenarios())
def test_property_at_most_limit_per_aligned_window(
    scenario: tuple[int, int, list[Arrival]],
) -> None:
    limit, period_us, arrivals = scenario
    admitted, _ = simulate(limit, period_us, arrivals)
    per_window: dict[int, int] = {}
    for arrival in admitted:
        index = window_index(arrival.at_us, period_us)
        per_window[index] = per_window.get(index, 0) + arrival.cost
    assert all(total <= limit for total in per_window.values())


@hypothesis_settings(max_examples=300, deadline=None)
@given(scenarios())
def test_property_at_most_n_plus_n_l_over_p_in_any_span(
    scenario: tuple[int, int, list[Arrival]],
) -> None:
    """Over any span ``[s, s + L]`` with ``L <= P``: admitted cost ``<= N + N*L/P``.

    No slack for the cost is needed: if the span reaches ``x <= L`` into window
    ``k``, the last request admitted there saw ``p*(P - e)/P + c_before + cost
    <= N`` with ``e <= x``, so window ``k``'s part is at most ``N - p*(P - x)/P``;
    the part in window ``k - 1`` is at most ``p <= N``; together ``N + p*x/P``.
    The worst span starts and ends on admitted requests, so only those are tried.
    Compared in integers (``* P``), so no rounding can hide an overshoot.
    """
    limit, period_us, arrivals = scenario
    admitted, _ = simulate(limit, period_us, arrivals)
    for i, first in enumerate(admitted):
        total = 0
        for last in admitted[i:]:
            span = last.at_us - first.at_us
            if span > period_us:
                break
            total += last.cost
            assert total * period_us <= limit * period_us + limit * span, (first, last, total)


@hypothesis_settings(max_examples=300, deadline=None)
@given(scenarios())
def test_property_retry_after_is_exact(scenario: tuple[int, int, list[Arrival]]) -> None:
    """For every denied request: at ``now + retry`` it would pass (if nothing else
    arrived), one microsecond earlier it would not. Requests above the limit
    never pass, at any time."""
    limit, period_us, arrivals = scenario
    _, denied = simulate(limit, period_us, arrivals)
    for counts, arrival in denied:
        now, cost = arrival.at_us, arrival.cost
        retry = retry_after_us(counts, cost, limit, elapsed(now, period_us), period_us)
        if cost > limit:
            assert retry > 0
            assert not admitted_at(counts, cost, limit, now, now + retry, period_us)
            continue
        assert retry > 0
        assert admitted_at(counts, cost, limit, now, now + retry, period_us)
        assert not admitted_at(counts, cost, limit, now, now + retry - 1, period_us)


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    previous=st.integers(min_value=0, max_value=50),
    current=st.integers(min_value=0, max_value=50),
    cost=st.integers(min_value=1, max_value=5),
    limit=st.integers(min_value=1, max_value=40),
    period_us=st.integers(min_value=1, max_value=3600 * US),
    data=st.data(),
)
def test_property_retry_after_is_exact_for_any_state(
    previous: int, current: int, cost: int, limit: int, period_us: int, data: st.DataObject
) -> None:
    """The same, from arbitrary counter states (including ones only reachable by
    charging denied requests), windows down to one microsecond."""
    into = data.draw(st.integers(min_value=0, max_value=period_us - 1))
    counts = SlidingCounts(previous, current)
    now = 7 * period_us + into
    retry = retry_after_us(counts, cost, limit, into, period_us)
    if cost > limit:
        assert not admitted_at(counts, cost, limit, now, now + retry, period_us)
        return
    assert admitted_at(counts, cost, limit, now, now + retry, period_us)
    if retry:
        assert not admitted_at(counts, cost, limit, now, now + retry - 1, period_us)
    else:
        assert allows(counts, cost, limit, into, period_us)


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    previous=st.integers(min_value=0, max_value=50),
    current=st.integers(min_value=0, max_value=50),
    period_us=st.integers(min_value=1, max_value=3600 * US),
    data=st.data(),
)
def test_property_reset_after_is_exact(
    previous: int, current: int, period_us: int, data: st.DataObject
) -> None:
    into = data.draw(st.integers(min_value=0, max_value=period_us - 1))
    counts = SlidingCounts(previous, current)
    now = 3 * period_us + into
    reset = reset_after_us(counts, into, period_us)
    assert 0 <= reset <= 2 * period_us
    after = counts_at(counts, now, now + reset, period_us)
    assert estimate(after, elapsed(now + reset, period_us), period_us) == 0
    if reset:
        before = counts_at(counts, now, now + reset - 1, period_us)
        assert estimate(before, elapsed(now + reset - 1, period_us), period_us) > 0


def test_retry_after_is_exact_for_a_million_a_day() -> None:
    """``previous * (P - e)`` is one more than ``room * P``: in integers the
    request is one microsecond too early, but ``float(...) / P`` rounds to
    ``room`` exactly (``room`` is large, ``1/P`` tiny), so ``allows`` already
    admits it, one microsecond before the reported wait is over."""
    day = 86_400 * US
    previous = 999_983  # prime, so previous * d = 1 (mod P) has a solution d
    d = pow(previous, -1, day)
    room = (previous * d - 1) // day
    counts, cost = SlidingCounts(previous, 0), 1
    limit = room + counts.current + cost  # 919_952 a day
    into = day - d - 1_000
    retry = retry_after_us(counts, cost, limit, into, day)
    assert allows(counts, cost, limit, into + retry, day)
    assert not allows(counts, cost, limit, into + retry - 1, day)


def test_retry_after_is_found_quickly_when_only_the_next_window_admits() -> None:
    """Found in CI: a full previous window and an empty current one, with the cost
    equal to the limit, admit nothing until the next window starts. The answer
    is the window's end, found without walking the window microsecond by
    microsecond (this once took minutes for a 19-minute period)."""
    period, into = 1_146_633_059, 154_354_922
    counts = SlidingCounts(previous=44, current=0)
    retry = retry_after_us(counts, 3, 3, into, period)
    assert retry == period - into
    assert not allows(counts, 3, 3, period - 1, period)
