"""Fixed-window maths on an injected clock reading. Pure functions.

Two layouts share the counting engine:

* the decorator's, django-ratelimit 4.1's, so counters carry over a migration:
  windows are aligned to the epoch and shifted per client by
  ``crc32(value) % period`` so that every client's window does not end at the
  same second. A window covers the whole seconds ``(end - period, end]``.
* the throttles', clock-aligned ``[start, start + period)``, so the wait a
  throttle announces is the exact time to the reset (DRF's tests and clients
  expect ``Retry-After: 60`` after a burst at the top of a minute).
"""

from __future__ import annotations

import zlib

#: Keys live this many seconds past their window so a late increment never
#: finds an expired key (django-ratelimit's EXPIRATION_FUDGE).
EXPIRY_GRACE_SECONDS = 5


def fixed_window_end(now: float, period: int, value: str) -> int:
    """The last second (inclusive) of the window that ``now`` falls in."""
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
    """Seconds until the decorator window ending at ``window_end`` is over."""
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
    return period + EXPIRY_GRACE_SECONDS
