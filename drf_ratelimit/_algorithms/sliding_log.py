"""The sliding log: DRF's algorithm, exact and atomic. Pure integers.

A client's state is the log of the times (microseconds) of the requests it
was admitted, oldest first, each kept for one period. A request of cost
``c`` at ``now`` first drops every entry at or before ``now - P`` (DRF drops
``<= now - duration``), then is admitted when the ``n`` entries left plus
``c`` stay within the limit ``N``; an admitted request adds ``c`` entries. A
denied request adds nothing, unless denied requests are charged: then it is
recorded too and the log keeps only its newest ``N`` entries, so a client
that keeps hammering stays limited, but for at most one period after it
stops.

Bound: at most ``N`` admitted in any span of ``P`` seconds, whatever the
span's start. Memory: at most ``N`` entries per client and period (DRF's
own is the same), which is why :data:`LOG_WARN_LIMIT` exists.

Waits are exact: a denied client is told when the entry whose expiry makes
room runs out, which is DRF's ``wait()`` whenever DRF's own view code calls
it. (DRF answers None, and sends no ``Retry-After``, when a lowered rate
leaves more entries than the new limit; this answers the exact time.)

Layout: one key per client and period, ``prefix{client}sl<period>s``. The
limit is not in the key (DRF's is not either): when a rate is changed, the
requests already admitted still count against the new limit. Entries are
stamped ``max(now, newest)`` so the log stays sorted even when the clocks
of several app servers disagree (an entry is then stamped a little late,
which only ever makes the limit stricter). Redis decides with its own clock
and keeps the log as a list; the other stores keep a tuple and swap it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Any, NamedTuple

from drf_ratelimit._algorithms.base import (
    GRACE_MS,
    US,
    Decision,
    Quota,
    Script,
    Step,
    ceil_div,
    tagged_keys,
)
from drf_ratelimit._spec.rates import Rate
from drf_ratelimit.usage import Usage

NAME = "sliding-log"
SCRIPT = Script(__package__, "sliding_log.lua", clock=True, GRACE_MS=GRACE_MS)
#: Above this limit a log costs tens of kilobytes per client (system check W004).
LOG_WARN_LIMIT = 1000
#: Bytes one entry costs, about: a Redis list of 64-bit integers, or a pickled
#: tuple (measured in benchmarks/; docs/algorithms.md has the numbers).
LOG_BYTES_PER_ENTRY = 10

Log = tuple[int, ...]


class LogState(NamedTuple):
    """What a request found in one log, after the expired entries went.

    ``blocking`` is the entry that must expire before the next request (of
    the same cost, at least 1) is admitted if this one is not charged, and
    ``blocking_charged`` if it is; 0 where no entry stands in the way, or
    where the charge itself does.
    """

    entries: int
    newest: int
    blocking: int
    blocking_charged: int


def live(log: Log, now_us: int, period_us: int) -> Log:
    """The entries still inside the period that ends at ``now``."""
    return log[bisect_right(log, now_us - period_us) :]


def stamp(now_us: int, newest: int) -> int:
    """The time a charge is recorded at: never before the newest entry."""
    return max(now_us, newest)


def blocking_index(count: int, next_cost: int, limit: int) -> int:
    """The position (oldest first) of the entry whose expiry admits the next
    request of ``next_cost`` into a log of ``count`` entries; negative when
    nothing stands in the way."""
    return count + next_cost - limit - 1


def entry(log: Log, index: int) -> int:
    return log[index] if 0 <= index < len(log) else 0


def charged_log(log: Log, at: int, cost: int, limit: int) -> Log:
    """``log`` with ``cost`` entries at ``at``, keeping the newest ``limit``."""
    grown = log + (at,) * cost
    return grown[max(0, len(grown) - limit) :]


def found_in(log: Log, cost: int, limit: int) -> LogState:
    """The state a request of ``cost`` reads from the live ``log``."""
    count, next_cost = len(log), max(cost, 1)
    return LogState(
        count,
        log[-1] if log else 0,
        entry(log, blocking_index(count, next_cost, limit)),
        entry(log, blocking_index(count + cost, next_cost, limit)),
    )


def key_timeout_ms(period_us: int, grace_ms: int) -> int:
    """A charge is needed for one period after it was made."""
    return ceil_div(period_us, 1000) + grace_ms


class SlidingLog:
    """The log of admitted requests' times: exactly ``N`` in any period."""

    name = NAME
    script = SCRIPT
    uses_clock = True

    def __repr__(self) -> str:
        return f"<{self.name}>"

    def quota(self, rate: Rate, burst: int | None) -> Quota:
        return Quota(rate, rate.limit, f"sl{rate.period}s")

    def script_args(self, quota: Quota) -> tuple[int, ...]:
        return (quota.limit, quota.period_us)

    keys = tagged_keys

    reset_keys = keys

    def found(self, values: Sequence[int]) -> list[Any]:
        return [LogState(*values[i : i + 4]) for i in range(0, len(values), 4)]

    def step(self, quota: Quota, stored: Any, cost: int, now_us: int) -> Step:
        limit = quota.limit
        log = live(tuple(stored or ()), now_us, quota.period_us)
        found = found_in(log, cost, limit)
        charged = charged_log(log, stamp(now_us, found.newest), cost, limit)
        return Step(
            found,
            found.entries + cost <= limit,
            charged,
            key_timeout_ms(quota.period_us, GRACE_MS),
        )

    def refund(self, quota: Quota, stored: Any, cost: int, now_us: int) -> tuple[Any, int] | None:
        """Take out the ``cost`` oldest entries stamped at or after ``now``:
        this request's, or ones just as recent (what stays is never older)."""
        if not stored:
            return None
        log = tuple(stored)
        start = bisect_left(log, now_us)
        return log[:start] + log[start + cost :], key_timeout_ms(quota.period_us, GRACE_MS)

    def usage(self, quota: Quota, found: Any, decision: Decision) -> Usage:
        cost, counted, now_us = decision.cost, decision.counted, decision.now_us
        limit, period_us = quota.limit, quota.period_us
        count, next_cost = found.entries, max(cost, 1)
        denied = count + cost > limit
        if counted:
            at = stamp(now_us, found.newest)
            stored = min(count + cost, limit)
            newest = at if stored else 0
            # The blocking entry is one of this charge's when it sits past the old log.
            index = blocking_index(count + cost, next_cost, limit)
            blocking = at if index >= count else found.blocking_charged
        else:
            stored, newest, blocking = count, found.newest, found.blocking
        reset_us = newest + period_us - now_us if stored else 0
        if stored + next_cost <= limit:
            retry_us = 0
        elif next_cost > limit:  # never admitted: say when the log is empty
            retry_us = reset_us or period_us
        else:
            retry_us = blocking + period_us - now_us
        return Usage(
            count=count + cost if counted or denied else count,
            limit=limit,
            should_limit=denied,
            time_left=ceil_div(retry_us if denied else reset_us, US),
            period=quota.period,
            reset_after=reset_us / US,
            retry_after=retry_us / US,
        )


SLIDING_LOG = SlidingLog()
