"""The sliding window: the current and the previous window's counters.

Each client has a counter per clock-aligned window of ``P`` microseconds. A
request at ``e`` microseconds into the current window sees the estimate

    previous * (P - e) / P + current

that is, the previous window's count weighted by how much of it still
overlaps the last ``P`` microseconds. It is admitted when the estimate plus
its cost stays within the limit. The Redis script evaluates exactly the same
expression, in the same order, so both sides agree to the last bit.

Bound: over any span of ``L <= P`` seconds at most ``N + N * L / P`` requests
are admitted (N per aligned window, and no 2N burst at a window edge).

Layouts: on Redis (and in local memory) one key per client and rate,
``prefix{client}sw<rate>``, holding the window index and both counts; on
memcached one counter per window, ``<that key>:<window index>``, so that a
check is an ``incr``. A window that ended more than :data:`CLOSED_AFTER_US`
ago no longer changes, so each process reads it once (memcached's steady
state is one round trip). Redis reads its own clock; memcached has none, so
there the windows follow the app servers' clocks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from drf_ratelimit._algorithms.base import (
    GRACE_MS,
    US,
    Charge,
    Counters,
    Decision,
    KeyScope,
    Outcome,
    Quota,
    Script,
    Step,
    ceil_div,
    tagged_keys,
)
from drf_ratelimit._spec.rates import Rate
from drf_ratelimit.usage import Usage

NAME = "sliding-window"
SCRIPT = Script(__package__, "sliding_window.lua", clock=True, GRACE_MS=GRACE_MS)
#: A window is treated as closed this long after it ended: requests that were
#: in flight at its edge have landed by then.
CLOSED_AFTER_US = US


class SlidingCounts(NamedTuple):
    """The two counters as they stood for one request."""

    previous: int
    current: int


def window_index(now_us: int, period_us: int) -> int:
    return now_us // period_us


def window_key(key: str, index: int) -> str:
    """The counter of one window, for caches that keep each window under its own key."""
    return f"{key}:{index}"


def elapsed(now_us: int, period_us: int) -> int:
    """Microseconds since the current window began."""
    return now_us % period_us


def estimate(counts: SlidingCounts, elapsed_us: int, period_us: int) -> float:
    """The weighted count (the same floating-point steps as the Lua script)."""
    return float(counts.previous * (period_us - elapsed_us)) / period_us + counts.current


def allows(counts: SlidingCounts, cost: int, limit: int, elapsed_us: int, period_us: int) -> bool:
    return estimate(counts, elapsed_us, period_us) + cost <= limit


def retry_after_us(
    counts: SlidingCounts, cost: int, limit: int, elapsed_us: int, period_us: int
) -> int:
    """Microseconds until a request of ``cost`` would be admitted, if nothing else arrives.

    Solved in integers, then moved to the exact microsecond :func:`allows`
    (which decides in floating point, as the Redis script does) first admits.
    """
    to_next_window = period_us - elapsed_us
    room = limit - counts.current - cost
    if room >= 0:
        if counts.previous == 0:
            return 0
        guess = max(0, to_next_window - (room * period_us) // counts.previous)
        wait = _first_admitted(
            guess, to_next_window, lambda x: allows(counts, cost, limit, elapsed_us + x, period_us)
        )
        if wait < to_next_window:
            return wait
    room = limit - cost
    if room < 0:  # a cost above the limit is never admitted: report the window's end
        return to_next_window
    # In the next window the current count becomes the previous one.
    following = SlidingCounts(counts.current, 0)
    guess = period_us - (room * period_us) // counts.current if counts.current else 0
    return to_next_window + _first_admitted(
        guess, period_us, lambda x: allows(following, cost, limit, x, period_us)
    )


def _first_admitted(guess: int, end: int, admitted: Callable[[int], bool]) -> int:
    """The first offset below ``end`` that is admitted (``end`` when none is).

    ``guess`` is the integer solution, at most a microsecond or two from the
    floating-point decision, so two checks usually confirm it; anything else
    is settled by bisection (admission only grows with time in a window).
    """
    guess = min(max(guess, 0), end)
    for candidate in (guess, guess - 1, guess + 1, guess - 2, guess + 2):
        if 0 <= candidate <= end and _is_first(candidate, end, admitted):
            return candidate
    low, high = 0, end
    while low < high:
        middle = (low + high) // 2
        if admitted(middle):
            high = middle
        else:
            low = middle + 1
    return low


def _is_first(offset: int, end: int, admitted: Callable[[int], bool]) -> bool:
    return (offset == end or admitted(offset)) and (offset == 0 or not admitted(offset - 1))


def reset_after_us(counts: SlidingCounts, elapsed_us: int, period_us: int) -> int:
    """Microseconds until both counters have stopped weighing anything."""
    if counts.current:
        return 2 * period_us - elapsed_us
    if counts.previous:
        return period_us - elapsed_us
    return 0


def key_timeout_ms(now_us: int, period_us: int, grace_ms: int) -> int:
    """How long the counters are needed: to the end of the next window, plus grace."""
    window_end = (window_index(now_us, period_us) + 2) * period_us
    return -(-(window_end - now_us) // 1000) + grace_ms


def rolled(stored: Any, index: int) -> SlidingCounts:
    """The counts seen from window ``index``, given the stored ``(window, current,
    previous)`` (None when nothing is stored)."""
    if stored is None:
        return SlidingCounts(0, 0)
    window, current, previous = stored
    if window == index:
        return SlidingCounts(previous, current)
    if window == index - 1:
        return SlidingCounts(current, 0)
    return SlidingCounts(0, 0)


class SlidingWindow:
    """The weighted two-window counter."""

    name = NAME
    script = SCRIPT
    uses_clock = True

    def __repr__(self) -> str:
        return f"<{self.name}>"

    def quota(self, rate: Rate, burst: int | None) -> Quota:
        return Quota(rate, rate.limit, f"sw{rate}")

    def script_args(self, quota: Quota) -> tuple[int, ...]:
        return (quota.limit, quota.period_us)

    keys = tagged_keys

    def reset_keys(
        self, quotas: Sequence[Quota], scope: KeyScope, value: str, now: float
    ) -> list[str]:
        now_us = round(now * US)
        keys = []
        for quota, key in zip(quotas, self.keys(quotas, scope, value, now), strict=True):
            index = window_index(now_us, quota.period_us)
            keys += [key, window_key(key, index), window_key(key, index - 1)]
        return keys

    def found(self, values: Sequence[int]) -> list[Any]:
        return [SlidingCounts(values[i], values[i + 1]) for i in range(0, len(values), 2)]

    def step(self, quota: Quota, stored: Any, cost: int, now_us: int) -> Step:
        period_us = quota.period_us
        index, elapsed_us = divmod(now_us, period_us)
        counts = rolled(stored, index)
        return Step(
            counts,
            allows(counts, cost, quota.limit, elapsed_us, period_us),
            (index, counts.current + cost, counts.previous),
            key_timeout_ms(now_us, period_us, GRACE_MS),
        )

    def count(self, counters: Counters, quotas: Sequence[Quota], charge: Charge) -> Outcome:
        """Add the cost to this window's counter, read the previous one, and give
        the cost back when denied (errors lean towards limiting, as in the
        fixed window)."""
        keys, cost, now_us = charge.keys, charge.cost, charge.now_us or 0
        current: list[str] = []
        timeouts: list[int] = []
        previous: list[int] = []
        for quota, key in zip(quotas, keys, strict=True):
            index, elapsed_us = divmod(now_us, quota.period_us)
            current.append(window_key(key, index))
            timeouts.append(ceil_div(key_timeout_ms(now_us, quota.period_us, GRACE_MS), 1000))
            closed = elapsed_us >= CLOSED_AFTER_US
            previous.append(counters.read_closed(window_key(key, index - 1), closed))
        counts = counters.add(current, cost, timeouts)
        found = [SlidingCounts(p, c - cost) for p, c in zip(previous, counts, strict=True)]
        allowed = all(
            allows(seen, cost, quota.limit, elapsed(now_us, quota.period_us), quota.period_us)
            for seen, quota in zip(found, quotas, strict=True)
        )
        counted = cost > 0 and (allowed or charge.count_denied)
        if cost and not counted:
            counters.give_back(current, cost)
        return Outcome(allowed, counted, now_us, found)

    def usage(self, quota: Quota, found: Any, decision: Decision) -> Usage:
        cost, counted = decision.cost, decision.counted
        period_us, elapsed_us = quota.period_us, elapsed(decision.now_us, quota.period_us)
        charged = SlidingCounts(found.previous, found.current + cost)
        denied = not allows(found, cost, quota.limit, elapsed_us, period_us)
        stored = charged if counted else found
        shown = charged if counted or denied else found
        reset_us = reset_after_us(stored, elapsed_us, period_us)
        retry_us = retry_after_us(stored, max(cost, 1), quota.limit, elapsed_us, period_us)
        return Usage(
            count=math.ceil(estimate(shown, elapsed_us, period_us)),
            limit=quota.limit,
            should_limit=denied,
            time_left=ceil_div(retry_us if denied else reset_us, US),
            period=quota.period,
            reset_after=reset_us / US,
            retry_after=retry_us / US,
        )


SLIDING_WINDOW = SlidingWindow()
