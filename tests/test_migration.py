"""Live migration from django-ratelimit 4.1: same API, same keys, same counters.

A project switches its imports while requests keep arriving; a counter that
django-ratelimit started must be continued by drf_ratelimit (and the other way
round, for a rolling deploy), on every backend. django-ratelimit reads
``time.time()``; it is pointed at the suite's FakeClock so both libraries are
always in the same window.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any
from unittest import mock

import django_ratelimit
import django_ratelimit.core as legacy_core
import django_ratelimit.decorators as legacy_decorators
import django_ratelimit.exceptions as legacy_exceptions
import django_ratelimit.middleware as legacy_middleware
import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.utils.decorators import method_decorator
from django.views.generic import View

import drf_ratelimit
from drf_ratelimit import conf, core
from drf_ratelimit._algorithms.base import KeyScope
from drf_ratelimit._algorithms.fixed_window import django_ratelimit_key, fixed_window_end
from drf_ratelimit._engine import DECLARED
from drf_ratelimit._spec.methods import method_key_part
from drf_ratelimit._spec.rates import parse_rate
from drf_ratelimit.clock import FakeClock
from drf_ratelimit.decorators import ratelimit
from drf_ratelimit.exceptions import Ratelimited
from drf_ratelimit.middleware import RatelimitMiddleware
from tests.conftest import Backend

rf = RequestFactory()

LIMIT = {"group": "migrate", "key": "ip", "rate": "5/m"}


@pytest.fixture(autouse=True)
def _restore_declarations() -> Iterator[None]:
    saved = list(DECLARED)
    yield
    DECLARED[:] = saved


@pytest.fixture
def legacy_clock(clock: FakeClock) -> Iterator[FakeClock]:
    """The FakeClock, seen by django-ratelimit's ``time.time()`` as well."""
    with mock.patch.object(legacy_core, "time", SimpleNamespace(time=clock)):
        yield clock


def from_ip(ip: str = "1.2.3.4", method: str = "get") -> HttpRequest:
    request: HttpRequest = getattr(rf, method)("/")
    request.META["REMOTE_ADDR"] = ip
    return request


# --- the API is a drop-in ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (core.get_usage, legacy_core.get_usage),
        (core.is_ratelimited, legacy_core.is_ratelimited),
        (ratelimit, legacy_decorators.ratelimit),
    ],
    ids=["get_usage", "is_ratelimited", "ratelimit"],
)
def test_signatures_match(ours: Callable[..., Any], theirs: Callable[..., Any]) -> None:
    """django-ratelimit's parameters, in its order with its defaults; our
    extras (algorithm, cost...) are keyword-only, so no call can change meaning."""

    def shape(function: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
        return [
            (p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()
        ]

    theirs_shape = shape(theirs)
    assert shape(ours)[: len(theirs_shape)] == theirs_shape
    extras = shape(ours)[len(theirs_shape) :]
    assert [name for name, _, _ in extras] == ["algorithm", "cost", "count_denied", "burst"]
    assert {kind for _, kind, _ in extras} == {inspect.Parameter.KEYWORD_ONLY}
    assert ours.ALL == theirs.ALL  # type: ignore[attr-defined]
    assert ours.UNSAFE == theirs.UNSAFE  # type: ignore[attr-defined]


def test_constants_and_classes_match() -> None:
    assert drf_ratelimit.ALL == django_ratelimit.ALL
    assert drf_ratelimit.UNSAFE == django_ratelimit.UNSAFE
    assert Ratelimited.__mro__[1:] == legacy_exceptions.Ratelimited.__mro__[1:]
    assert RatelimitMiddleware.__name__ == legacy_middleware.RatelimitMiddleware.__name__
    assert callable(RatelimitMiddleware.process_exception)


# --- counters carry over -------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 3, 5])
def test_drf_ratelimit_continues_a_django_ratelimit_counter(
    backend: Backend, legacy_clock: FakeClock, n: int
) -> None:
    for _ in range(n):
        legacy_core.is_ratelimited(from_ip(), increment=True, **LIMIT)

    usage = core.get_usage(from_ip(), increment=True, **LIMIT)

    assert usage is not None
    assert usage["count"] == n + 1
    assert usage["should_limit"] is (n + 1 > 5)


@pytest.mark.parametrize("n", [1, 3, 5])
def test_django_ratelimit_continues_a_drf_ratelimit_counter(
    backend: Backend, legacy_clock: FakeClock, n: int
) -> None:
    for _ in range(n):
        core.is_ratelimited(from_ip(), increment=True, **LIMIT)

    assert legacy_core.get_usage(from_ip(), **LIMIT)["count"] == n
    usage = legacy_core.get_usage(from_ip(), increment=True, **LIMIT)

    assert usage["count"] == n + 1
    assert usage["should_limit"] is (n + 1 > 5)


def test_interleaved_requests_share_one_counter_and_report_the_same_usage(
    backend: Backend, legacy_clock: FakeClock
) -> None:
    method = ["post", "get"]
    for i in range(6):
        library = legacy_core if i % 2 else core
        library.is_ratelimited(from_ip(), method=method, increment=True, **LIMIT)
        legacy_clock.advance(3)

    ours = core.get_usage(from_ip(), method=method, **LIMIT)
    theirs = legacy_core.get_usage(from_ip(), method=method, **LIMIT)

    assert ours == theirs == {"count": 6, "limit": 5, "should_limit": True, "time_left": 39}


def test_a_counter_started_by_django_ratelimit_expires_with_its_window(
    backend: Backend, legacy_clock: FakeClock
) -> None:
    for _ in range(6):
        legacy_core.is_ratelimited(from_ip(), increment=True, **LIMIT)
    assert core.is_ratelimited(from_ip(), **LIMIT) is True

    legacy_clock.advance(60)

    assert core.is_ratelimited(from_ip(), increment=True, **LIMIT) is False


def make_function_view(decorate: Callable[..., Any]) -> Callable[..., Any]:
    """The same view function, as the old and the new deployment define it."""

    @decorate(key="ip", rate="2/m", block=False)
    def login(request: HttpRequest) -> bool:
        return bool(request.limited)  # type: ignore[attr-defined]

    return login  # type: ignore[no-any-return]


def make_class_view(decorate: Callable[..., Any]) -> Callable[..., Any]:
    """The same class-based view, decorated with method_decorator."""

    class LoginView(View):
        @method_decorator(decorate(key="ip", rate="2/m", block=False))
        def post(self, request: HttpRequest) -> bool:
            return bool(request.limited)  # type: ignore[attr-defined]

    return LoginView.as_view()


@pytest.mark.parametrize("make_view", [make_function_view, make_class_view])
@pytest.mark.parametrize("legacy_first", [True, False])
def test_decorated_views_keep_their_automatic_group(
    backend: Backend,
    legacy_clock: FakeClock,
    make_view: Callable[[Callable[..., Any]], Callable[..., Any]],
    legacy_first: bool,
) -> None:
    legacy_view = make_view(legacy_decorators.ratelimit)
    new_view = make_view(ratelimit)
    first, second = (legacy_view, new_view) if legacy_first else (new_view, legacy_view)

    assert first(from_ip(method="post")) is False
    assert second(from_ip(method="post")) is False
    assert second(from_ip(method="post")) is True
    assert first(from_ip(method="post")) is True


class LegacyWrappedView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse(str(request.limited))  # type: ignore[attr-defined]


def test_wrapped_as_view_counters_are_deliberately_not_carried_over(
    backend: Backend, legacy_clock: FakeClock
) -> None:
    """The one documented break: upstream's ``...as_view.<locals>.view`` group is
    shared by every wrapped view of a module, so drf_ratelimit names the class."""
    legacy = legacy_decorators.ratelimit(key="ip", rate="1/m", block=False)(
        LegacyWrappedView.as_view()
    )
    new = ratelimit(key="ip", rate="1/m", block=False)(LegacyWrappedView.as_view())

    assert legacy(from_ip()).content == b"False"
    assert legacy(from_ip()).content == b"True"
    assert new(from_ip()).content == b"False"


# --- the same cache key ----------------------------------------------------------------


@pytest.mark.parametrize("rate", ["5/m", "100/5m", "100/300", "1/s", "3/2d", (10, 90)])
@pytest.mark.parametrize("method", [drf_ratelimit.ALL, None, ["post", "get"], "POST", "post"])
@pytest.mark.parametrize("value", ["1.2.3.4", "2001:db8::", "", "ünïcode value"])
@pytest.mark.parametrize("offset", [0, 57, 58, 3599])
def test_the_same_cache_key_for_the_same_inputs(
    legacy_clock: FakeClock, rate: Any, method: Any, value: str, offset: int
) -> None:
    legacy_clock.advance(offset)
    limit, period = legacy_core._split_rate(rate)
    parsed = parse_rate(rate)
    assert parsed is not None and (parsed.limit, parsed.period) == (limit, period)

    window = legacy_core._get_window(value, period)
    assert fixed_window_end(legacy_clock(), period, value) == window

    theirs = legacy_core._make_cache_key("grp", window, rate, value, method)
    scope = KeyScope(
        conf.snapshot().cache_prefix, conf.snapshot().hasher, "grp", method_key_part(method)
    )
    ours = django_ratelimit_key(scope, str(parsed), value, window)
    assert ours == theirs


@pytest.mark.parametrize("algorithm", ["hashlib.md5", hashlib.sha1])
def test_the_same_cache_key_with_another_hash_and_prefix(
    legacy_clock: FakeClock, settings: Any, algorithm: Any
) -> None:
    settings.RATELIMIT_HASH_ALGORITHM = algorithm
    settings.RATELIMIT_CACHE_PREFIX = "limits:"
    window = legacy_core._get_window("1.2.3.4", 60)

    theirs = legacy_core._make_cache_key("grp", window, "5/m", "1.2.3.4", drf_ratelimit.ALL)
    scope = KeyScope(conf.snapshot().cache_prefix, conf.snapshot().hasher, "grp")
    ours = django_ratelimit_key(scope, "5/60s", "1.2.3.4", window)
    assert ours == theirs
    assert ours.startswith("limits:")


def test_the_stored_counter_is_under_django_ratelimits_key(
    backend: Backend, legacy_clock: FakeClock
) -> None:
    core.get_usage(from_ip(), increment=True, **LIMIT)
    core.get_usage(from_ip(), increment=True, **LIMIT)
    window = legacy_core._get_window("1.2.3.4", 60)

    key = legacy_core._make_cache_key("migrate", window, "5/m", "1.2.3.4", drf_ratelimit.ALL)

    assert backend.cache.get(key) == 2
