"""Helpers for testing a project that uses drf_ratelimit.

* :func:`reset_ratelimits`: forget every counter, or one view's counters for
  one client.
* :func:`override_ratelimit`: turn limiting off, or make every limit tiny.
* :func:`assert_ratelimit_headers` and :func:`assert_ratelimited`: check what
  a client is told.
* :class:`Ratelimits`: all of the above as one object, which the pytest
  fixture ``ratelimits`` (plugin :mod:`drf_ratelimit.pytest_plugin`, loaded
  automatically) hands to a test and cleans up after it.

Nothing here imports DRF or pytest; failures are plain ``AssertionError``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import http_sf
from django.test import override_settings

from drf_ratelimit import conf
from drf_ratelimit._engine import ratelimit_cache
from drf_ratelimit._ops.lookup import counters, read, reset
from drf_ratelimit.headers import POLICY_HEADER, STATUS_HEADER
from drf_ratelimit.usage import Usage

__all__ = [
    "RateLimitHeaders",
    "Ratelimits",
    "assert_ratelimit_headers",
    "assert_ratelimited",
    "override_ratelimit",
    "ratelimit_usage",
    "reset_ratelimits",
]


def reset_ratelimits(view: Any = None, request: Any = None, *, user: Any = None) -> None:
    """Forget counters.

    Without arguments the whole ``RATELIMIT_USE_CACHE`` cache is cleared:
    every counter, and anything else stored under that alias (give the
    counters their own alias if that matters). With ``view`` (the view, its
    dotted path or its URL) and ``request`` (one the client made, or one built
    with ``RequestFactory``), only that view's counters for that client are
    deleted, on any backend. ``user`` makes the request as that user.
    """
    if view is None:
        ratelimit_cache().clear()
        return
    if request is None:
        raise TypeError("reset_ratelimits(view) needs the request of the client to reset")
    reset(counters(view, request, user=user))


def ratelimit_usage(view: Any, request: Any, *, user: Any = None) -> list[Usage | None]:
    """The usage of each of the view's limits for this client, without counting."""
    return read(counters(view, request, user=user))


@contextmanager
def override_ratelimit(*, enabled: bool | None = None, limit: int | None = None) -> Iterator[None]:
    """Inside the block, ``enabled=False`` turns every limit off; ``limit=N``
    lets every rate allow N requests per its own period (``limit=0`` limits
    every counted request). Also usable as a function decorator."""
    with ExitStack() as stack:
        if enabled is not None:
            stack.enter_context(override_settings(RATELIMIT_ENABLE=enabled))
        stack.enter_context(conf.overridden_limit(limit))
        yield


@dataclass(frozen=True)
class RateLimitHeaders:
    """The parsed ``RateLimit-Policy`` (name to quota and window) and ``RateLimit`` fields."""

    policies: dict[str, tuple[int, int]]
    policy: str
    remaining: int
    reset: int


def assert_ratelimit_headers(
    response: Any,
    *,
    policy: str | None = None,
    limit: int | None = None,
    window: int | None = None,
    remaining: int | None = None,
) -> RateLimitHeaders:
    """Assert the response carries well-formed RateLimit headers, and the values given.

    ``policy`` is the name ``RateLimit`` reports; ``limit`` and ``window`` are
    that policy's quota and seconds in ``RateLimit-Policy``. Returns the parsed
    headers for anything else (e.g. ``headers.reset <= 60``).
    """
    parsed = _parse_headers(response)
    quota, seconds = parsed.policies[parsed.policy]
    actual = {
        "policy": parsed.policy,
        "remaining": parsed.remaining,
        "limit": quota,
        "window": seconds,
    }
    expected = {"policy": policy, "remaining": remaining, "limit": limit, "window": window}
    for name, value in expected.items():
        assert value is None or actual[name] == value, (
            f"RateLimit {name} is {actual[name]!r}, expected {value!r}"
        )
    return parsed


def assert_ratelimited(response: Any, *, retry_after: int | None = None) -> None:
    """Assert a 429 with a whole, positive ``Retry-After`` (equal to ``retry_after`` if given)."""
    status = response.status_code
    assert status == 429, f"expected a 429 Too Many Requests, got {status}"
    header = response.headers.get("Retry-After")
    assert header is not None, "the 429 has no Retry-After header"
    assert header.isdigit() and int(header) > 0, f"Retry-After {header!r} is not whole seconds"
    if retry_after is not None:
        assert int(header) == retry_after, f"Retry-After is {header}, expected {retry_after}"


def _parse_headers(response: Any) -> RateLimitHeaders:
    headers = response.headers
    for name in (POLICY_HEADER, STATUS_HEADER):
        assert name in headers, f"the response has no {name} header (is RATELIMIT_HEADERS on?)"
    policies = {
        str(name): (int(params["q"]), int(params["w"]))
        for name, params in _sf_list(headers[POLICY_HEADER], POLICY_HEADER)
    }
    items = _sf_list(headers[STATUS_HEADER], STATUS_HEADER)
    assert len(items) == 1, f"{STATUS_HEADER} should report one policy, got {len(items)}"
    name, params = items[0]
    assert name in policies, f"{STATUS_HEADER} reports {name!r}, which is not in {POLICY_HEADER}"
    return RateLimitHeaders(policies, str(name), int(params["r"]), int(params["t"]))


def _sf_list(value: str, header: str) -> list[tuple[Any, Any]]:
    try:
        parsed: Any = http_sf.parse(value.encode("ascii"), tltype="list")
    except Exception as exc:  # http_sf raises ValueError; encoding UnicodeError
        raise AssertionError(f"{header}: {value!r} is not a structured field list ({exc})") from exc
    return [(item[0], item[1]) for item in parsed]


@dataclass
class Ratelimits:
    """Counters and overrides for one test; :meth:`close` undoes every override.

    The pytest fixture ``ratelimits`` clears the counters before the test and
    closes this object after it.
    """

    _stack: ExitStack = field(default_factory=ExitStack)

    def reset(self, view: Any = None, request: Any = None, *, user: Any = None) -> None:
        reset_ratelimits(view, request, user=user)

    def usage(self, view: Any, request: Any, *, user: Any = None) -> list[Usage | None]:
        return ratelimit_usage(view, request, user=user)

    def disable(self) -> None:
        """No limits for the rest of the test."""
        self._stack.enter_context(override_ratelimit(enabled=False))

    def override(self, *, limit: int) -> None:
        """Every rate allows ``limit`` requests per period for the rest of the test."""
        self._stack.enter_context(override_ratelimit(limit=limit))

    def close(self) -> None:
        self._stack.close()
