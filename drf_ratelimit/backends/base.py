"""The storage seam between the counting engine and a cache backend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class WindowHit:
    """Add ``delta`` to the counter at ``key`` (created with ``timeout``); 0 only reads."""

    key: str
    delta: int
    timeout: int


class Counter(Protocol):
    """Counts fixed-window hits atomically.

    ``count`` returns each counter's value after its hit, in order. Any backend
    failure is raised as :class:`~drf_ratelimit.exceptions.CounterUnavailable`;
    the engine resolves it with ``RATELIMIT_FAIL_OPEN``.
    """

    #: A short name for the strategy, used in log messages.
    name: str

    def count(self, hits: Sequence[WindowHit]) -> list[int]: ...
