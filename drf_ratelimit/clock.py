"""The time source, injectable so tests never sleep.

Everything that needs "now" calls :func:`now`. Tests (and
``drf_ratelimit.testing``) swap the source with :func:`use_clock`. While a
test clock is in use, the Redis scripts use it too instead of the server's
``TIME`` (see :func:`injected`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: The host's clock. Replaced only to simulate a host whose clock is wrong.
system_clock: Callable[[], float] = time.time
_test_clock: Callable[[], float] | None = None


def now() -> float:
    """Seconds since the epoch from the current time source."""
    return (_test_clock or system_clock)()


def injected() -> bool:
    """True inside :func:`use_clock`: the time is the test's, not the world's."""
    return _test_clock is not None


@contextmanager
def use_clock(source: Callable[[], float]) -> Iterator[None]:
    """Read time from ``source`` inside the block (e.g. a FakeClock)."""
    global _test_clock
    previous, _test_clock = _test_clock, source
    try:
        yield
    finally:
        _test_clock = previous


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.time = start

    def __call__(self) -> float:
        return self.time

    def advance(self, seconds: float) -> None:
        self.time += seconds
