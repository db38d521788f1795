"""The fixed window: one counter per client and window. Worst case 2N in any
period (N either side of a window's edge).

Two key layouts share the counting:

* django-ratelimit 4.1's (:data:`FIXED_WINDOW`, the decorator's), so counters
  carry over a migration: windows are aligned to the epoch and shifted per
  client by ``crc32(value) % period`` so that every client's window does not
  end at the same second. A window covers the whole seconds
  ``(end - period, end]`` and its key is
  ``prefix + hexdigest(group + rate + value + end + methods)``, byte for byte.
* clock-aligned ``[start, start + period)`` (:data:`ALIGNED_FIXED_WINDOW`,
  the throttles'), so the wait a throttle announces is the exact time to the
  reset (DRF's tests and clients expect ``Retry-After: 60`` after a burst at
  the top of a minute). Its keys are ``prefix{client}fw<rate>:<start>``.

The time is the app server's in both: it is part of the key.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from typing import Any

from drf_ratelimit._algorithms.base import (
    GRACE_SECONDS,
    Charge,
    Counters,
    Decision,
    KeyScope,
    Outcome,
    Quota,
    Script,
    Step,
)
from drf_ratelimit._spec.rates import Rate
from drf_ratelimit.usage import Usage

NAME = "fixed-window"
SCRIPT = Script(__package__, "fixed_window.lua")


def fixed_window_end(now: float, period: int, value: str) -> int:
    """The last second (inclusive) of django-ratelimit's window that ``now`` falls in."""
    ts = int(now)
    if period == 1:
        return ts
    # backslashreplace: a lone surrogate is just another client, not a UnicodeEncodeError
    # (identical bytes to strict UTF-8 for every encodable value, so windows still match).
    end = ts - (ts % period) + (zlib.crc32(value.encode("utf-8", "backslashreplace")) % period)
    if end < ts:
        end += period
    return end


def decorator_reset_after(now: float, window_end: int) -> float:
    """Seconds until the django-ratelimit window ending at ``window_end`` is over."""
    return window_end + 1 - now


def aligned_window(now: float, period: int) -> tuple[int, float]:
    """``(start, seconds until reset)`` of the clock-aligned window holding ``now``.

    The reset is always in the future, so a throttled client is never told to
    retry after zero seconds.
    """
    start = int(now // period) * period
    return start, start + period - now


def key_timeout(period: int) -> int:
    """Cache timeout for a window key: the period plus a grace margin."""
    return period + GRACE_SECONDS


def django_ratelimit_key(scope: KeyScope, rate: str, value: str, window_end: int) -> str:
    """``prefix + hexdigest(group + rate + value + window_end + methods)``.

    The parts are concatenated without separators, exactly as django-ratelimit
    does, which is what lets a counter it started be continued here.
    """
    material = f"{scope.group}{rate}{value}{window_end}{scope.methods}"
    return scope.prefix + str(
        scope.hasher(material.encode("utf-8", "backslashreplace")).hexdigest()
    )


def _django_ratelimit_key(scope: KeyScope, quota: Quota, value: str, now: float) -> str:
    """:func:`django_ratelimit_key` of the window holding ``now``, remembered for
    the clients seen lately (until their window moves on)."""
    window_end = fixed_window_end(now, quota.period, value)
    material = (quota.text, value, window_end)
    return scope.memo.get(material) or scope.remember(
        material, django_ratelimit_key(scope, quota.text, value, window_end)
    )


class FixedWindow:
    """One counter per window; ``aligned`` picks the throttles' layout."""

    name = NAME
    script = SCRIPT
    uses_clock = False

    def __init__(self, aligned: bool) -> None:
        self.aligned = aligned

    def __repr__(self) -> str:
        return f"<{self.name} ({'aligned' if self.aligned else 'django-ratelimit'} windows)>"

    def quota(self, rate: Rate, burst: int | None) -> Quota:
        return Quota(rate, rate.limit, f"fw{rate}:", timeout=key_timeout(rate.period))

    def script_args(self, quota: Quota) -> tuple[int, ...]:
        return (quota.limit, quota.timeout)

    def keys(self, quotas: Sequence[Quota], scope: KeyScope, value: str, now: float) -> list[str]:
        if not self.aligned:
            if len(quotas) == 1:  # the decorator's one rate: no comprehension
                return [_django_ratelimit_key(scope, quotas[0], value, now)]
            return [_django_ratelimit_key(scope, q, value, now) for q in quotas]
        tag = scope.tag(value)
        return [f"{tag}{q.tag}{int(now // q.period) * q.period}" for q in quotas]

    reset_keys = keys

    def found(self, values: Sequence[int]) -> list[Any]:
        return list(values)

    def step(self, quota: Quota, stored: Any, cost: int, now_us: int) -> Step:
        count = stored or 0
        return Step(count, count + cost <= quota.limit, count + cost, quota.timeout * 1000)

    def count(self, counters: Counters, quotas: Sequence[Quota], charge: Charge) -> Outcome:
        """Add first and decide on the value the increment answered: two
        concurrent requests never see the same count. A denied request gives
        its cost back, so a concurrent one may briefly see a count one too
        high: errors lean towards limiting."""
        keys, cost = charge.keys, charge.cost
        counts = counters.add(keys, cost, [q.timeout for q in quotas])
        found = [count - cost for count in counts]
        allowed = all(count <= q.limit for count, q in zip(counts, quotas, strict=True))
        counted = cost > 0 and (allowed or charge.count_denied)
        if cost and not counted:
            counters.give_back(keys, cost)
        return Outcome(allowed, counted, charge.now_us or 0, found)

    def usage(self, quota: Quota, found: Any, decision: Decision) -> Usage:
        cost = decision.cost
        denied = found + cost > quota.limit
        stored = found + cost if decision.counted else found
        full = stored + max(cost, 1) > quota.limit
        time_left, reset_after = self._window(quota.period, decision.now, decision.value)
        return Usage(
            count=found + cost if decision.counted or denied else found,
            limit=quota.limit,
            should_limit=denied,
            time_left=time_left,
            period=quota.period,
            reset_after=reset_after,
            retry_after=reset_after if full else 0.0,
        )

    def _window(self, period: int, now: float, value: str) -> tuple[int, float]:
        """(django-ratelimit's whole ``time_left``, the exact seconds to the reset)."""
        if self.aligned:
            reset_after = aligned_window(now, period)[1]
            return math.ceil(reset_after), reset_after
        end = fixed_window_end(now, period, value)
        return end - int(now), decorator_reset_after(now, end)


#: django-ratelimit's windows and keys: the decorator's and ``get_usage``'s.
FIXED_WINDOW = FixedWindow(aligned=False)
#: Clock-aligned windows: the throttles'.
ALIGNED_FIXED_WINDOW = FixedWindow(aligned=True)
