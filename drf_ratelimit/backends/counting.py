"""The fixed and sliding windows over plain atomic counters (memcached, local memory).

Each request adds its cost first and decides on the value the increment
returned, which is its own place in the queue: two concurrent requests never
see the same count, so the limit is never exceeded. A request that turns out
to be denied gives its cost back (unless denied requests are charged), so a
concurrent request may briefly see a count one too high: errors lean towards
limiting, never towards letting more through.

The sliding window keeps one counter per clock-aligned window
(``<key>:<window index>``) and reads the previous one. These backends have
no clock of their own, so the windows follow the app servers' clocks.
"""

from __future__ import annotations

from collections.abc import Sequence

from drf_ratelimit import sliding
from drf_ratelimit.algorithms import FIXED_WINDOW, SLIDING_WINDOW, TOKEN_BUCKET
from drf_ratelimit.backends.base import (
    GRACE_SECONDS,
    Batch,
    Counter,
    Outcome,
    SlotState,
    WindowHit,
)
from drf_ratelimit.backends.swap import Swapper, run_token_bucket


class CounterStore:
    """Fixed and sliding windows on a :class:`Counter`; the token bucket when
    the cache can compare-and-swap."""

    server_clock = False

    def __init__(self, counter: Counter, swapper: Swapper | None = None) -> None:
        self.counter = counter
        self.swapper = swapper
        self.name = counter.name
        with_swap = frozenset({TOKEN_BUCKET}) if swapper is not None else frozenset()
        self.algorithms = frozenset({FIXED_WINDOW, SLIDING_WINDOW}) | with_swap

    def run(self, algorithm: str, batch: Batch) -> Outcome:
        now_us = batch.now_us
        assert now_us is not None, "a store without a clock needs the app's time"
        if algorithm == FIXED_WINDOW:
            return self._fixed_window(batch, now_us)
        if algorithm == SLIDING_WINDOW:
            return self._sliding_window(batch, now_us)
        assert self.swapper is not None
        return run_token_bucket(self.swapper, batch, now_us)

    def _fixed_window(self, batch: Batch, now_us: int) -> Outcome:
        hits = [WindowHit(slot.key, batch.cost, slot.timeout) for slot in batch.slots]
        states = [SlotState(count - batch.cost) for count in self.counter.count(hits)]
        allowed = all(
            state.before + batch.cost <= slot.limit
            for slot, state in zip(batch.slots, states, strict=True)
        )
        return Outcome(self._settle(hits, allowed, batch), now_us, states)

    def _sliding_window(self, batch: Batch, now_us: int) -> Outcome:
        current, previous = self._window_hits(batch, now_us)
        counts = self.counter.count([*previous, *current])
        before = [count - batch.cost for count in counts[len(previous) :]]
        states = [SlotState(b, p) for b, p in zip(before, counts[: len(previous)], strict=True)]
        allowed = all(
            sliding.allows(
                sliding.SlidingCounts(state.previous, state.before),
                batch.cost,
                slot.limit,
                sliding.elapsed(now_us, slot.period_us),
                slot.period_us,
            )
            for slot, state in zip(batch.slots, states, strict=True)
        )
        return Outcome(self._settle(current, allowed, batch), now_us, states)

    @staticmethod
    def _window_hits(batch: Batch, now_us: int) -> tuple[list[WindowHit], list[WindowHit]]:
        """(add the cost to this window, read the previous one), per slot."""
        current: list[WindowHit] = []
        previous: list[WindowHit] = []
        for slot in batch.slots:
            index = sliding.window_index(now_us, slot.period_us)
            timeout_ms = sliding.key_timeout_ms(now_us, slot.period_us, GRACE_SECONDS * 1000)
            timeout = -(-timeout_ms // 1000)
            current.append(WindowHit(sliding.window_key(slot.key, index), batch.cost, timeout))
            previous.append(WindowHit(sliding.window_key(slot.key, index - 1), 0, timeout))
        return current, previous

    def _settle(self, hits: Sequence[WindowHit], allowed: bool, batch: Batch) -> bool:
        """Keep the charge, or give it back; True when the request stays counted."""
        if batch.cost == 0:
            return False
        if allowed or batch.count_denied:
            return True
        self.counter.count([WindowHit(hit.key, -hit.delta, hit.timeout) for hit in hits])
        return False
