"""Token bucket as GCRA (the generic cell rate algorithm). Pure integers, no I/O.

A client's whole state is one timestamp, the theoretical arrival time (TAT):
when its bucket would be full again if nothing else arrived. With ``N``
requests per ``P`` seconds the emission interval is ``T = P / N``
(microseconds, rounded up, so rounding only ever makes the limit stricter). A
request of cost ``c`` at ``now`` moves the TAT to ``max(TAT, now) + c*T`` and
is admitted when that is at most ``burst * T`` ahead of ``now``.

Bound: over any span of ``L`` seconds at most ``burst + N * L / P`` requests
are admitted; a full bucket allows ``burst`` at once, then one every ``T``.
Waits are exact: a denied client is told the microsecond it may retry.
"""

from __future__ import annotations

from drf_ratelimit.algorithms import US


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
