"""Turning any backend failure into CounterUnavailable, in one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from drf_ratelimit.exceptions import CounterUnavailable


@contextmanager
def unavailable_on_error(backend: str) -> Iterator[None]:
    """Wrap the I/O of one check. Connection errors, timeouts, a server marked
    dead, a vanished key: to the engine they are all "the count is unknown"."""
    try:
        yield
    except CounterUnavailable:
        raise
    except Exception as exc:
        raise CounterUnavailable(f"{backend}: {type(exc).__name__}: {exc}") from exc


def as_count(value: object) -> int:
    """A counter value, or ValueError for anything else.

    pymemcache's HashClient answers False or None while it considers a server
    dead; django-redis with IGNORE_EXCEPTIONS answers None. Neither is a count.
    """
    if type(value) is not int:
        raise ValueError(f"the cache answered {value!r} instead of a count")
    return value
