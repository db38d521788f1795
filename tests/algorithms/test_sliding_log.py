"""Sliding-log maths (:mod:`drf_ratelimit._algorithms.sliding_log`): pure integers, no I/O.

The log must admit at most N in any period, drop what DRF drops (entries at
or before ``now - P``), keep at most N entries even when denied requests are
charged, and tell the exact moment the next request passes.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from drf_ratelimit._algorithms.base import US, Decision
from drf_ratelimit._algorithms.sliding_log import (
    SLIDING_LOG,
    LogState,
    charged_log,
    found_in,
    live,
    stamp,
)
from drf_ratelimit._spec.rates import Rate
from drf_ratelimit._storage import Quotas

NOW = 1_700_000_000 * US
P = 60 * US


def test_live_drops_entries_at_or_before_the_period_start_as_drf_does() -> None:
    log = (NOW - P - 1, NOW - P, NOW - P + 1, NOW)
    assert live(log, NOW, P) == (NOW - P + 1, NOW)
    assert live((), NOW, P) == ()


def test_a_charge_is_stamped_no_earlier_than_the_newest_entry() -> None:
    assert stamp(NOW, 0) == NOW
    assert stamp(NOW, NOW + 5) == NOW + 5  # a clock behind another app server's


def test_a_charged_log_keeps_only_the_newest_limit_entries() -> None:
    assert charged_log((1, 2), 3, 2, 5) == (1, 2, 3, 3)
    assert charged_log((1, 2, 3), 4, 2, 3) == (3, 4, 4)
    assert charged_log((1, 2), 3, 1, 0) == ()


def test_found_in_names_the_entries_in_the_way() -> None:
    log = (10, 20, 30)
    # Limit 3: the next request (cost 1) waits for 10 uncharged, for 20 if this one is charged.
    assert found_in(log, 1, 3) == LogState(3, 30, 10, 20)
    # Limit 5: room for one more either way; at cost 2, once charged, two must go.
    assert found_in(log, 1, 5) == LogState(3, 30, 0, 0)
    assert found_in(log, 2, 5) == LogState(3, 30, 0, 20)


def quota(limit: int = 3, period: int = 60) -> Any:
    return SLIDING_LOG.quota(Rate(limit, period), None)


def test_the_key_tag_holds_the_period_not_the_limit() -> None:
    """A changed limit keeps the log (DRF's key has no rate either)."""
    assert quota(3).tag == quota(10).tag == "sl60s"
    assert quota(3, 1).tag != quota(3, 60).tag


def usage_after(steps: list[tuple[int, int]], limit: int = 3) -> Any:
    """Run ``(time, cost)`` requests through ``step`` as a store would; the last usage."""
    q, stored, usage = quota(limit), None, None
    for now, cost in steps:
        step = SLIDING_LOG.step(q, stored, cost, now)
        counted = cost > 0 and step.allowed
        if counted:
            stored = step.charged
        usage = SLIDING_LOG.usage(q, step.found, Decision(cost, counted, now, now / US, "v"))
    return usage


def test_the_fourth_request_waits_for_the_first_to_expire() -> None:
    usage = usage_after([(NOW, 1), (NOW + 10 * US, 1), (NOW + 20 * US, 1), (NOW + 30 * US, 1)])
    assert (usage.count, usage.should_limit) == (4, True)
    assert usage.retry_after == 30.0  # the entry of NOW expires at NOW + 60 s
    assert usage.reset_after == 50.0  # the newest (NOW + 20 s) expires then


def test_the_refund_takes_back_the_newest_charge() -> None:
    q = quota(3)
    refunded = SLIDING_LOG.refund(q, (NOW - 5, NOW, NOW), 1, NOW)
    assert refunded is not None and refunded[0] == (NOW - 5, NOW)
    assert SLIDING_LOG.refund(q, None, 1, NOW) is None


@hypothesis_settings(max_examples=200)
@given(
    limit=st.integers(0, 6),
    period=st.integers(1, 5),
    arrivals=st.lists(
        st.tuples(st.integers(0, 3 * US), st.integers(0, 3), st.booleans()), max_size=40
    ),
)
def test_property_at_most_the_limit_in_any_period(
    limit: int, period: int, arrivals: list[tuple[int, int, bool]]
) -> None:
    """Whatever the arrivals, costs and charged denials: the admitted costs in
    any span of one period never exceed the limit, and the log never holds
    more than the limit."""
    q = quota(limit, period)
    stored: Any = None
    now = NOW
    admitted: list[tuple[int, int]] = []
    for gap, cost, count_denied in arrivals:
        now += gap
        step = SLIDING_LOG.step(q, stored, cost, now)
        if cost and (step.allowed or count_denied):
            stored = step.charged
            assert len(stored) <= limit
        if cost and step.allowed:
            admitted.append((now, cost))
    for start, _ in admitted:
        in_span = sum(c for t, c in admitted if start <= t < start + period * US)
        assert in_span <= limit


@hypothesis_settings(max_examples=200)
@given(
    limit=st.integers(1, 6),
    arrivals=st.lists(st.tuples(st.integers(0, 30 * US), st.integers(1, 3)), max_size=30),
)
def test_property_retry_after_is_exact(limit: int, arrivals: list[tuple[int, int]]) -> None:
    """A request like the last one is denied 1 µs before ``retry_after`` and
    admitted at it (nothing else arriving meanwhile)."""
    q = quota(limit)
    stored: Any = None
    now = NOW
    for gap, cost in arrivals:
        now += gap
        step = SLIDING_LOG.step(q, stored, cost, now)
        counted = step.allowed
        if counted:
            stored = step.charged
        usage = SLIDING_LOG.usage(q, step.found, Decision(cost, counted, now, now / US, "v"))
        wait = round(usage.retry_after * US)
        if cost > limit or wait == 0:
            continue
        assert not SLIDING_LOG.step(q, stored, cost, now + wait - 1).allowed
        assert SLIDING_LOG.step(q, stored, cost, now + wait).allowed


def test_rates_of_one_period_share_one_log_with_the_stricter_limit() -> None:
    """Their keys are the same, so they are one quota; each declared rate still
    gets a usage, both from that quota."""
    quotas = Quotas.distinct(SLIDING_LOG, [Rate(10, 60), Rate(5, 60), Rate(100, 3600)], None)
    assert [q.limit for q in quotas.items] == [5, 100]
    assert quotas.order == (0, 0, 1)
    assert quotas.declared == 3
