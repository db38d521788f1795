"""The storage seam between the counting engine and a cache backend.

The engine describes one check as a :class:`Batch` of :class:`Slot` (one per
rate) and a :class:`Store` runs it with one algorithm, atomically, answering
an :class:`Outcome`: the state each slot was in when this request was
decided, and whether the request's cost was added. Stores decide with the
pure functions of :mod:`drf_ratelimit.sliding` and :mod:`drf_ratelimit.gcra`
(or the same expressions in a Redis script), so the engine can rebuild every
figure it reports from the outcome alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

#: Keys live this long past the moment they stop mattering, so that a late
#: write never finds its key gone (django-ratelimit's EXPIRATION_FUDGE).
GRACE_SECONDS = 5


@dataclass(frozen=True)
class Slot:
    """One rate of one client.

    ``limit`` is the count a window may reach (for the token bucket, the
    burst). ``key`` is the window's own key for the fixed window; for the
    other algorithms it names the client's state, which the store lays out.
    """

    key: str
    limit: int
    period: int
    #: Fixed window: seconds the window key is kept.
    timeout: int = 0
    #: Token bucket: the emission interval in microseconds.
    interval_us: int = 0

    @property
    def period_us(self) -> int:
        return self.period * 1_000_000


@dataclass(frozen=True)
class Batch:
    """All the slots of one check, charged together or not at all."""

    slots: Sequence[Slot]
    #: What this request counts as; 0 only reads.
    cost: int
    #: Charge the cost even when the request is denied (brute-force defence).
    count_denied: bool
    #: The decision time in microseconds; None lets a store with a clock of
    #: its own (Redis ``TIME``) use it, so app servers' clocks cannot disagree.
    now_us: int | None


@dataclass(frozen=True)
class SlotState:
    """A slot as this request found it: the count (fixed and sliding window,
    current window) or the TAT in microseconds (token bucket), and for the
    sliding window the previous window's count."""

    before: int
    previous: int = 0


@dataclass(frozen=True)
class Outcome:
    counted: bool
    now_us: int
    states: list[SlotState]


class Store(Protocol):
    """Runs checks atomically on one cache. Any backend failure is raised as
    :class:`~drf_ratelimit.exceptions.CounterUnavailable`; the engine resolves
    it with ``RATELIMIT_FAIL_OPEN``."""

    #: A short name for log messages.
    name: str
    #: The algorithms this store can run atomically.
    algorithms: frozenset[str]
    #: True when the store can read a clock shared by all app servers.
    server_clock: bool

    def run(self, algorithm: str, batch: Batch) -> Outcome: ...


@dataclass(frozen=True)
class WindowHit:
    """Add ``delta`` to the counter at ``key`` (created with ``timeout``); 0 only reads,
    a negative delta gives back what an earlier hit took."""

    key: str
    delta: int
    timeout: int


class Counter(Protocol):
    """Atomic counters through the Django cache API: the primitive under the
    fixed and sliding windows on memcached and local memory."""

    name: str

    def count(self, hits: Sequence[WindowHit]) -> list[int]: ...
