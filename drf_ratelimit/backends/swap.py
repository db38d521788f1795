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

import threading
from collections.abc import Sequence
from typing import Any, Protocol

from django.core.cache.backends.base import BaseCache

from drf_ratelimit import gcra
from drf_ratelimit.backends.base import GRACE_SECONDS, Batch, Outcome, Slot, SlotState
from drf_ratelimit.backends.errors import unavailable_on_error
from drf_ratelimit.exceptions import CounterUnavailable

#: Lost races before a check gives up and the fail policy decides.
MAX_ATTEMPTS = 64


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
    for _ in range(MAX_ATTEMPTS):
        value, token = swapper.gets(slot.key)
        tat = value or 0
        allowed = gcra.allows(tat, now_us, batch.cost, slot.interval_us, slot.limit)
        if batch.cost == 0 or not (allowed or batch.count_denied):
            return SlotState(tat), allowed
        new_tat = gcra.arrival(tat, now_us, batch.cost, slot.interval_us)
        if swapper.swap(slot.key, new_tat, token, _timeout(new_tat, now_us)):
            return SlotState(tat), allowed
    raise CounterUnavailable(f"{swapper.name}: {MAX_ATTEMPTS} compare-and-swap attempts lost")


def _refund(swapper: Swapper, slots: Sequence[Slot], cost: int, now_us: int) -> None:
    for slot in slots:
        for _ in range(MAX_ATTEMPTS):
            value, token = swapper.gets(slot.key)
            if value is None:
                break
            refunded = value - cost * slot.interval_us
            if swapper.swap(slot.key, refunded, token, _timeout(refunded, now_us)):
                break


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
    """``gets``/``cas`` (``add`` for a new key) on the memcached client Django built.

    Keys go through the cache's own ``make_and_validate_key`` and timeouts
    through ``get_backend_timeout`` (memcached reads more than 30 days as a
    date), so the values are the ones ``cache.get`` would see.
    """

    name = "memcached"

    def __init__(self, cache: Any) -> None:
        self.cache = cache

    @property
    def client(self) -> Any:
        return self.cache._cache

    def gets(self, key: str) -> tuple[int | None, Any]:
        full_key = self.cache.make_and_validate_key(key)
        try:
            value, token = self.client.gets(full_key)
        except ValueError as exc:  # pylibmc: "gets without cas behavior"
            if "cas" not in str(exc):
                raise
            # Turned on once per client, when first needed. Never read the
            # behaviours to find out: pylibmc holds the GIL while libmemcached
            # opens sockets to answer, which froze whole worker processes.
            self.client.set_behaviors({"cas": True})
            value, token = self.client.gets(full_key)
        if value is not None and type(value) is not int:
            value = int(value)
        return value, token

    def swap(self, key: str, value: int, token: Any, timeout: int) -> bool:
        full_key = self.cache.make_and_validate_key(key)
        expiry = self.cache.get_backend_timeout(timeout)
        if token is None:
            return bool(self.client.add(full_key, value, expiry))
        return bool(self.client.cas(full_key, value, token, expiry))
