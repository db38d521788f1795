"""Sliding-window counter maths. Pure integers and floats, no I/O.

Each client has a counter per clock-aligned window of ``P`` microseconds. A
request at ``e`` microseconds into the current window sees the estimate

    previous * (P - e) / P + current

that is, the previous window's count weighted by how much of it still
overlaps the last ``P`` microseconds. It is admitted when the estimate plus
its cost stays within the limit. The Redis script evaluates exactly the same
expression, in the same order, so both sides agree to the last bit.

Bound: over any span of ``L <= P`` seconds at most ``N + N * L / P`` requests
are admitted (N per aligned window, and no 2N burst at a window edge).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class SlidingCounts:
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
