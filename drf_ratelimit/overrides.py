"""A process-wide override of every limit's count, for tests.

Set through :func:`drf_ratelimit.testing.override_ratelimit`; the engine
applies it to every limit it checks. A plain module global rather than a
context variable on purpose: a live-server test serves requests in another
thread, and the override must reach it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

from drf_ratelimit.rates import Rate

if TYPE_CHECKING:
    from drf_ratelimit.engine import Limit

_limit: int | None = None


@contextmanager
def limit_override(limit: int | None) -> Iterator[None]:
    """Inside the block every rate allows ``limit`` requests per its own period."""
    global _limit
    if limit is not None and (type(limit) is not int or limit < 0):
        raise ValueError(f"limit={limit!r} must be a non-negative integer")
    previous, _limit = _limit, limit
    try:
        yield
    finally:
        _limit = previous


def applied(limits: Sequence[Limit]) -> Sequence[Limit]:
    """``limits`` with the overridden count, or unchanged when there is no override.

    The period is kept, so two rates of one throttle stay two counters.
    """
    if _limit is None:
        return limits
    return [replace(limit, rate=Rate(_limit, limit.rate.period)) for limit in limits]
