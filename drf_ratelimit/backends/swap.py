"""The token bucket by compare-and-swap (memcached ``gets``/``cas``; a lock in local memory).

GCRA keeps one timestamp per client and rate, which no ``incr`` can move, so
each slot is read with a CAS token, decided on, and written back only if
nobody wrote it in between; otherwise it is read again. A check with several
rates charges them one by one; if a later one denies, the earlier charges
are given back (a concurrent request may briefly see them: errors lean
towards limiting). The time is the app server's: memcached has no clock to
ask.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from functools import partial
from typing import Any, Protocol

from django.core.cache.backends.base import BaseCache

from drf_ratelimit import gcra
from drf_ratelimit.backends.base import GRACE_SECONDS, Batch, Outcome, Slot, SlotState
from drf_ratelimit.backends.errors import unavailable_on_error
from drf_ratelimit.exceptions import CounterUnavailable

#: Lost races before a check gives up and the fail policy decides. Every lost
#: race is another request's win, so under any real load this is never reached.
MAX_ATTEMPTS = 1000
#: The most a check waits after a lost race, in seconds (randomised, growing
#: with the losses), so that racers spread out instead of colliding again.
MAX_BACKOFF = 0.005


class Swapper(Protocol):
    """Compare-and-swap on integer values."""

    name: str

    def gets(self, key: str) -> tuple[int | None, Any]:
        """The value (None when missing) and a token for :meth:`swap`."""

    def swap(self, key: str, value: int, token: Any, timeout: int) -> bool:
        """Store ``value`` if the key is unchanged since ``gets`` gave ``token``."""


def run_token_bucket(swapper: Swapper, batch: Batch, now_us: int) -> Outcome:
    with unavailable_on_error(swapper.name):
        states: list[SlotState] = []
        for position, slot in enumerate(batch.slots):
            state, allowed = _charge(swapper, slot, batch, now_us)
            states.append(state)
            if not allowed and not batch.count_denied:
                if batch.cost:  # a peek charged nothing, so there is nothing to give back
                    _refund(swapper, batch.slots[:position], batch.cost, now_us)
                rest = batch.slots[position + 1 :]
                states += [SlotState(swapper.gets(s.key)[0] or 0) for s in rest]
                return Outcome(False, now_us, states)
        return Outcome(batch.cost > 0, now_us, states)


def _charge(swapper: Swapper, slot: Slot, batch: Batch, now_us: int) -> tuple[SlotState, bool]:
    """Decide one slot and, when the request is to be charged, move its TAT."""

    def charged(value: int | None) -> int | None:
        tat = value or 0
        allowed = gcra.allows(tat, now_us, batch.cost, slot.interval_us, slot.limit)
        if batch.cost == 0 or not (allowed or batch.count_denied):
            return None
        return gcra.arrival(tat, now_us, batch.cost, slot.interval_us)

    tat = _update(swapper, slot.key, now_us, charged) or 0
    return SlotState(tat), gcra.allows(tat, now_us, batch.cost, slot.interval_us, slot.limit)


def _refund(swapper: Swapper, slots: Sequence[Slot], cost: int, now_us: int) -> None:
    """Give back earlier slots' charges; one that keeps losing races keeps it
    (errs towards limiting)."""
    for slot in slots:
        with suppress(CounterUnavailable):
            _update(swapper, slot.key, now_us, partial(_minus, cost * slot.interval_us))


def _minus(step: int, value: int | None) -> int | None:
    return None if value is None else value - step


def _update(
    swapper: Swapper, key: str, now_us: int, change: Callable[[int | None], int | None]
) -> int | None:
    """Read ``key`` and store ``change(value)`` (nothing when it is None),
    again after every lost race; returns the value the last read found."""
    for attempt in range(MAX_ATTEMPTS):
        _back_off(attempt)
        value, token = swapper.gets(key)
        new = change(value)
        if new is None or swapper.swap(key, new, token, _timeout(new, now_us)):
            return value
    raise CounterUnavailable(f"{swapper.name}: {MAX_ATTEMPTS} compare-and-swap attempts lost")


def _back_off(lost: int) -> None:
    """Nothing before the first attempt; after ``lost`` lost races, a random pause."""
    if lost:
        time.sleep(random.uniform(0, min(MAX_BACKOFF, 0.0001 * lost)))


def _timeout(tat_us: int, now_us: int) -> int:
    return -(-gcra.key_timeout_ms(tat_us, now_us, GRACE_SECONDS * 1000) // 1000)


class LocMemSwapper:
    """Compare-and-swap for LocMemCache: a lock around get and set.

    Local memory is per process anyway, so a process-wide lock makes it
    exactly as atomic as the cache itself.
    """

    name = "locmem"
    _lock = threading.Lock()

    def __init__(self, cache: BaseCache) -> None:
        self.cache = cache

    def gets(self, key: str) -> tuple[int | None, Any]:
        value = self.cache.get(key)
        return value, value

    def swap(self, key: str, value: int, token: Any, timeout: int) -> bool:
        with self._lock:
            if self.cache.get(key) != token:
                return False
            self.cache.set(key, value, timeout)
            return True


class MemcachedSwapper:
    """``gets``/``cas`` (``add`` for a new key) on pymemcache's client.

    Keys go through the cache's own ``make_and_validate_key`` and timeouts
    through ``get_backend_timeout`` (memcached reads more than 30 days as a
    date), so the values are the ones ``cache.get`` would see.

    Not used for pylibmc: under contention its compare-and-swap (libmemcached)
    stalled for minutes or failed in our multi-process tests, so the token
    bucket is refused there (E008) rather than left to hang.
    """

    name = "memcached"

    def __init__(self, cache: Any) -> None:
        self.cache = cache

    def gets(self, key: str) -> tuple[int | None, Any]:
        value, token = self.cache._cache.gets(self.cache.make_and_validate_key(key))
        if value is not None and type(value) is not int:
            value = int(value)
        return value, token

    def swap(self, key: str, value: int, token: Any, timeout: int) -> bool:
        full_key = self.cache.make_and_validate_key(key)
        expiry = self.cache.get_backend_timeout(timeout)
        if token is None:
            return bool(self.cache._cache.add(full_key, value, expiry))
        return bool(self.cache._cache.cas(full_key, value, token, expiry))
