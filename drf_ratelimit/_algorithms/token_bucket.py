"""The token bucket, as GCRA (the generic cell rate algorithm). Pure integers.

A client's whole state is one timestamp, the theoretical arrival time (TAT):
when its bucket would be full again if nothing else arrived. With ``N``
requests per ``P`` seconds the emission interval is ``T = P / N``
(microseconds, rounded up, so rounding only ever makes the limit stricter). A
request of cost ``c`` at ``now`` moves the TAT to ``max(TAT, now) + c*T`` and
is admitted when that is at most ``burst * T`` ahead of ``now``.

Bound: over any span of ``L`` seconds at most ``burst + N * L / P`` requests
are admitted; a full bucket allows ``burst`` at once, then one every ``T``.
Waits are exact: a denied client is told the microsecond it may retry.

Layout: one key per client and rate, ``prefix{client}tb<rate>``, holding the
TAT. No counter can move a timestamp, so on memcached the TAT is updated by
compare-and-swap. Redis decides with its own clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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

NAME = "token-bucket"
SCRIPT = Script(__package__, "token_bucket.lua", clock=True, GRACE_MS=GRACE_MS)


def interval_us(limit: int, period: int) -> int:
    """The emission interval ``T``. A limit of 0 admits nothing (any T will do)."""
    return -(-(period * US) // max(limit, 1))


def arrival(tat_us: int, now_us: int, cost: int, interval: int) -> int:
    """The TAT after charging a request of ``cost`` at ``now``."""
    return max(tat_us, now_us) + cost * interval


def allows(tat_us: int, now_us: int, cost: int, interval: int, burst: int) -> bool:
    return arrival(tat_us, now_us, cost, interval) - now_us <= burst * interval


def used(tat_us: int, now_us: int, interval: int) -> int:
    """Tokens in use: how many intervals the TAT is ahead of ``now``, rounded up."""
    return -(-max(0, tat_us - now_us) // interval)


def retry_after_us(tat_us: int, now_us: int, interval: int, burst: int) -> int:
    """Microseconds until the TAT ``tat_us`` (one that overflowed) fits the bucket."""
    return max(0, tat_us - now_us - burst * interval)


def key_timeout_ms(tat_us: int, now_us: int, grace_ms: int) -> int:
    """The TAT is needed until it has passed; after that a missing key means the same."""
    return -(-max(0, tat_us - now_us) // 1000) + grace_ms


class TokenBucket:
    """GCRA: one timestamp per client and rate; ``burst`` sizes the bucket."""

    name = NAME
    script = SCRIPT
    uses_clock = True

    def __repr__(self) -> str:
        return f"<{self.name}>"

    def quota(self, rate: Rate, burst: int | None) -> Quota:
        size = rate.limit if burst is None else burst
        return Quota(rate, size, f"tb{rate}", interval_us=interval_us(rate.limit, rate.period))

    def script_args(self, quota: Quota) -> tuple[int, ...]:
        return (quota.interval_us, quota.limit)

    keys = tagged_keys

    reset_keys = keys

    def found(self, values: Sequence[int]) -> list[Any]:
        return list(values)

    def step(self, quota: Quota, stored: Any, cost: int, now_us: int) -> Step:
        tat = stored or 0
        charged = arrival(tat, now_us, cost, quota.interval_us)
        return Step(
            tat,
            allows(tat, now_us, cost, quota.interval_us, quota.limit),
            charged,
            key_timeout_ms(charged, now_us, GRACE_MS),
        )

    def refund(self, quota: Quota, stored: Any, cost: int, now_us: int) -> tuple[Any, int] | None:
        if stored is None:
            return None
        tat = stored - cost * quota.interval_us
        return tat, key_timeout_ms(tat, now_us, GRACE_MS)

    def usage(self, quota: Quota, found: Any, decision: Decision) -> Usage:
        cost, counted, now_us = decision.cost, decision.counted, decision.now_us
        interval = quota.interval_us
        denied = not allows(found, now_us, cost, interval, quota.limit)
        stored = arrival(found, now_us, cost if counted else 0, interval)
        shown = arrival(found, now_us, cost if counted or denied else 0, interval)
        next_request = arrival(stored, now_us, max(cost, 1), interval)
        reset_us = max(0, stored - now_us)
        retry_us = retry_after_us(next_request, now_us, interval, quota.limit)
        return Usage(
            count=used(shown, now_us, interval),
            limit=quota.limit,
            should_limit=denied,
            time_left=ceil_div(retry_us if denied else reset_us, US),
            period=quota.period,
            reset_after=reset_us / US,
            retry_after=retry_us / US,
        )


TOKEN_BUCKET = TokenBucket()
