"""Compare-and-swap: algorithms whose state no ``incr`` can move (the token
bucket's timestamp), on memcached (``gets``/``cas``) and on local-memory
subclasses (a lock around ``get`` and ``set``).

Each quota's key is read with a token, decided on by the algorithm's
:meth:`~drf_ratelimit._algorithms.base.Algorithm.step`, and written back
only if nobody wrote it in between; otherwise it is read again. A check with
several quotas charges them one by one; if a later one denies, the earlier
charges are given back (:meth:`~drf_ratelimit._algorithms.base.SwappingAlgorithm.refund`;
a concurrent request may briefly see them: errors lean towards limiting).
The time is the app server's: memcached has no clock to ask.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any, Protocol

from drf_ratelimit._algorithms.base import (
    Charge,
    Outcome,
    Quota,
    Step,
    SwappingAlgorithm,
    ceil_div,
    swapping,
)
from drf_ratelimit._storage.base import Quotas
from drf_ratelimit.exceptions import CounterUnavailable

#: Lost races before a check gives up and the fail policy decides. Every lost
#: race is another request's win, so under any real load this is never reached.
MAX_ATTEMPTS = 1000
#: The most a check waits after a lost race, in seconds (randomised, growing
#: with the losses), so that racers spread out instead of colliding again.
MAX_BACKOFF = 0.005


class Swapper(Protocol):
    """Compare-and-swap on one cache. Raises CounterUnavailable when the cache fails."""

    name: str

    def gets(self, key: str) -> tuple[Any, Any]:
        """The value (None when missing) and a token for :meth:`swap`."""

    def swap(self, key: str, value: Any, token: Any, timeout: int) -> bool:
        """Store ``value`` if the key is unchanged since ``gets`` gave ``token``."""


def run_by_swapping(swapper: Swapper, quotas: Quotas, charge: Charge) -> Outcome:
    keys, cost, count_denied, now_us = charge.keys, charge.cost, charge.count_denied, charge.now_us
    assert now_us is not None, "compare-and-swap decides on the app's time"
    algorithm = swapping(quotas.algorithm)
    assert algorithm is not None, "the store accepted an algorithm it cannot swap"
    found: list[Any] = []
    allowed = True
    for position, (quota, key) in enumerate(zip(quotas.items, keys, strict=True)):
        step = _charge(swapper, algorithm, quota, key, cost, count_denied, now_us)
        found.append(step.found)
        allowed = allowed and step.allowed
        if not step.allowed and not count_denied:
            if cost:  # a peek charged nothing, so there is nothing to give back
                earlier = quotas.items[:position], keys[:position]
                _refund(swapper, algorithm, *earlier, cost, now_us)
            rest = zip(quotas.items[position + 1 :], keys[position + 1 :], strict=True)
            found += [algorithm.step(q, swapper.gets(k)[0], cost, now_us).found for q, k in rest]
            return Outcome(False, False, now_us, found)
    return Outcome(allowed, cost > 0, now_us, found)


def _charge(
    swapper: Swapper,
    algorithm: SwappingAlgorithm,
    quota: Quota,
    key: str,
    cost: int,
    count_denied: bool,
    now_us: int,
) -> Step:
    """Decide one quota and, when the request is to be charged, write the charge."""
    decided: list[Step] = []

    def charged(value: Any) -> tuple[Any, int] | None:
        decided[:] = [algorithm.step(quota, value, cost, now_us)]
        step = decided[0]
        if cost == 0 or not (step.allowed or count_denied):
            return None
        return step.charged, step.ttl_ms

    _update(swapper, key, charged)
    return decided[0]


def _refund(
    swapper: Swapper,
    algorithm: SwappingAlgorithm,
    quotas: Sequence[Quota],
    keys: Sequence[str],
    cost: int,
    now_us: int,
) -> None:
    """Give back earlier quotas' charges; one that keeps losing races keeps it
    (errs towards limiting)."""
    for quota, key in zip(quotas, keys, strict=True):

        def refunded(value: Any, quota: Quota = quota) -> tuple[Any, int] | None:
            return algorithm.refund(quota, value, cost, now_us)

        with suppress(CounterUnavailable):
            _update(swapper, key, refunded)


def _update(swapper: Swapper, key: str, change: Callable[[Any], tuple[Any, int] | None]) -> None:
    """Read ``key`` and store what ``change`` answers (nothing when it is None),
    again after every lost race."""
    for attempt in range(MAX_ATTEMPTS):
        _back_off(attempt)
        value, token = swapper.gets(key)
        new = change(value)
        if new is None or swapper.swap(key, new[0], token, ceil_div(new[1], 1000)):
            return
    raise CounterUnavailable(f"{swapper.name}: {MAX_ATTEMPTS} compare-and-swap attempts lost")


def _back_off(lost: int) -> None:
    """Nothing before the first attempt; after ``lost`` lost races, a random pause."""
    if lost:
        time.sleep(random.uniform(0, min(MAX_BACKOFF, 0.0001 * lost)))
