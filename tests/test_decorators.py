"""@ratelimit: django-ratelimit 4.1's documented decorator behaviour, on every backend.

The cases follow the upstream ``RatelimitTests`` and ``RatelimitCBVTests``
(rewritten, not copied), plus the places where drf_ratelimit deliberately
differs: malformed literal rates fail at decoration, ``method=None`` means all
methods, ``as_view()`` wrappers get their own counter and async views work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, AsyncRequestFactory, RequestFactory
from django.utils.decorators import method_decorator
from django.views.generic import View
from model_bakery import baker

import drf_ratelimit
from drf_ratelimit._engine import DECLARED
from drf_ratelimit.clock import FakeClock
from drf_ratelimit.core import get_usage, is_ratelimited
from drf_ratelimit.decorators import ratelimit
from drf_ratelimit.exceptions import InvalidRate, Ratelimited
from tests.conftest import Backend
from tests.helpers import CustomRatelimitedException, callable_rate, mykey

rf = RequestFactory()


@pytest.fixture(autouse=True)
def _restore_declarations() -> Iterator[None]:
    """Decorating views records declarations; leave the registry as we found it."""
    saved = list(DECLARED)
    yield
    DECLARED[:] = saved


def limited_flag(request: HttpRequest) -> bool:
    return bool(request.limited)  # type: ignore[attr-defined]


def request_from(ip: str, method: str = "get", **extra: Any) -> HttpRequest:
    request: HttpRequest = getattr(rf, method)("/", **extra)
    request.META["REMOTE_ADDR"] = ip
    return request


def with_user(user: Any, method: str = "post", ip: str = "127.0.0.1") -> HttpRequest:
    request = request_from(ip, method)
    request.user = user
    return request


def fake_user(authenticated: bool, pk: int = 1) -> SimpleNamespace:
    return SimpleNamespace(pk=pk, is_authenticated=authenticated)


# --- blocking and request.limited ----------------------------------------------------


def test_block_is_the_default_and_raises_ratelimited_on_the_next_request(
    backend: Backend, clock: FakeClock
) -> None:
    calls: list[HttpRequest] = []

    @ratelimit(key="ip", rate="2/m")
    def view(request: HttpRequest) -> HttpResponse:
        calls.append(request)
        return HttpResponse("ok")

    assert view(rf.get("/")).content == b"ok"
    assert view(rf.get("/")).content == b"ok"
    third = rf.get("/")
    with pytest.raises(Ratelimited) as excinfo:
        view(third)
    assert isinstance(excinfo.value, PermissionDenied)
    assert len(calls) == 2, "the view is not called for a blocked request"
    assert third.limited is True, "request.limited is set before raising"  # type: ignore[attr-defined]


def test_block_false_sets_request_limited_and_calls_the_view(
    backend: Backend, clock: FakeClock
) -> None:
    view = ratelimit(key="ip", rate="1/m", block=False)(limited_flag)

    assert view(rf.get("/")) is False
    assert view(rf.get("/")) is True
    assert view(rf.get("/")) is True


def test_request_limited_is_false_when_the_limit_does_not_apply(
    backend: Backend, clock: FakeClock
) -> None:
    post_only = ratelimit(key="ip", rate="0/m", method="POST", block=False)(limited_flag)
    no_rate = ratelimit(key="ip", rate=None, block=False)(limited_flag)

    assert post_only(rf.get("/")) is False
    assert no_rate(rf.get("/")) is False


@pytest.mark.parametrize("short_limit_outside", [True, False])
def test_request_limited_is_sticky_across_stacked_decorators(
    backend: Backend, clock: FakeClock, short_limit_outside: bool
) -> None:
    short = ratelimit(rate="1/m", block=False, key=lambda group, request: "minute")
    long = ratelimit(rate="10/d", block=False, key=lambda group, request: "day")
    outer, inner = (short, long) if short_limit_outside else (long, short)
    view = outer(inner(limited_flag))

    assert view(rf.post("/")) is False
    assert view(rf.post("/")) is True, "the unlimited decorator must not reset the flag"


def test_inherited_limited_flag_does_not_make_an_inner_blocking_decorator_raise(
    backend: Backend, clock: FakeClock
) -> None:
    @ratelimit(key="ip", rate="0/m", group="outer", block=False)
    @ratelimit(key="ip", rate="10/m", group="inner", block=True)
    def view(request: HttpRequest) -> bool:
        return limited_flag(request)

    assert view(rf.get("/")) is True


def test_limited_flag_is_set_even_when_the_inner_decorator_raises(
    backend: Backend, clock: FakeClock
) -> None:
    @ratelimit(key="ip", rate="10/m", group="outer", block=False)
    @ratelimit(key="ip", rate="0/m", group="inner", block=True)
    def view(request: HttpRequest) -> bool:
        return limited_flag(request)

    request = rf.get("/")
    with pytest.raises(Ratelimited):
        view(request)
    assert request.limited is True  # type: ignore[attr-defined]


def test_blocked_requests_are_still_counted_by_every_decorator(
    backend: Backend, clock: FakeClock
) -> None:
    @ratelimit(key="ip", rate="10/m", group="outer", block=False)
    @ratelimit(key="ip", rate="1/m", group="inner", block=True)
    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    view(rf.get("/"))
    for _ in range(2):
        with pytest.raises(Ratelimited):
            view(rf.get("/"))

    outer = get_usage(rf.get("/"), group="outer", key="ip", rate="10/m")
    inner = get_usage(rf.get("/"), group="inner", key="ip", rate="1/m")
    assert outer is not None and inner is not None
    assert (outer["count"], inner["count"]) == (3, 3)


def test_no_rate_never_limits(backend: Backend, clock: FakeClock) -> None:
    view = ratelimit(key="ip", rate=None, block=True)(limited_flag)

    assert [view(rf.post("/")) for _ in range(7)] == [False] * 7


def test_a_rate_without_a_key_is_improperly_configured_when_called(
    backend: Backend, clock: FakeClock
) -> None:
    view = ratelimit(rate="1/m")(limited_flag)  # decorating is fine

    with pytest.raises(ImproperlyConfigured, match="key must be specified"):
        view(rf.get("/"))


@pytest.mark.parametrize("rate", ["abc", "5/M", "5/", "5", "-1/m", " 5/m", "5/0", (5, 0), [5, 60]])
def test_a_malformed_literal_rate_fails_at_decoration_quoting_it(rate: Any) -> None:
    with pytest.raises(InvalidRate) as excinfo:
        ratelimit(key="ip", rate=rate)
    assert isinstance(excinfo.value, ImproperlyConfigured)
    assert repr(rate) in str(excinfo.value)


def test_a_malformed_key_literal_fails_at_decoration() -> None:
    with pytest.raises(ImproperlyConfigured, match="field:x"):
        ratelimit(key="field:x", rate="1/m")


# --- methods ---------------------------------------------------------------------------


def test_method_limits_only_that_method(backend: Backend, clock: FakeClock) -> None:
    view = ratelimit(key="ip", method="POST", rate="1/m", group="a", block=False)(limited_flag)

    assert view(rf.post("/")) is False
    assert view(rf.post("/")) is True
    assert view(rf.get("/")) is False


@pytest.mark.parametrize(
    ("method", "limited"),
    [
        ("get", False),
        ("head", False),
        ("options", False),
        ("delete", True),
        ("post", True),
        ("put", True),
        ("patch", True),
    ],
)
def test_unsafe_methods(backend: Backend, clock: FakeClock, method: str, limited: bool) -> None:
    view = ratelimit(key="ip", method=ratelimit.UNSAFE, rate="0/m", block=False)(limited_flag)  # type: ignore[attr-defined]

    assert view(getattr(rf, method)("/")) is limited


def test_stacked_get_and_post_decorators_count_separately(
    backend: Backend, clock: FakeClock
) -> None:
    @ratelimit(rate="1/m", key="ip", method="GET", block=False)
    @ratelimit(rate="1/m", key="ip", method="POST", block=False)
    def view(request: HttpRequest) -> bool:
        return limited_flag(request)

    assert view(rf.get("/")) is False
    assert view(rf.post("/")) is False
    assert view(rf.get("/")) is True
    assert view(rf.post("/")) is True


def test_method_lists_in_any_order_share_a_counter(backend: Backend, clock: FakeClock) -> None:
    get_post = ratelimit(rate="1/m", key="ip", method=["GET", "POST"], group="a", block=False)(
        limited_flag
    )
    post_get = ratelimit(rate="1/m", key="ip", method=["post", "get"], group="a", block=False)(
        limited_flag
    )

    assert get_post(rf.get("/")) is False
    assert post_get(rf.get("/")) is True


@pytest.mark.parametrize("method", [None, drf_ratelimit.ALL, (None,)])
def test_method_none_and_all_mean_every_method(
    backend: Backend, clock: FakeClock, method: Any
) -> None:
    view = ratelimit(key="ip", rate="2/m", method=method, block=False)(limited_flag)

    assert view(rf.get("/")) is False
    assert view(rf.delete("/")) is False
    assert view(rf.post("/")) is True, "one counter for every method"


# --- keys --------------------------------------------------------------------------------


def test_get_key_buckets_by_query_value(backend: Backend, clock: FakeClock) -> None:
    view = ratelimit(key="get:foo", rate="1/m", method="GET", block=False)(limited_flag)

    assert view(rf.get("/", {"foo": "a"})) is False
    assert view(rf.get("/", {"foo": "a"})) is True
    assert view(rf.get("/", {"foo": "b"})) is False
    assert view(rf.get("/", {"foo": "b"})) is True


def test_post_key_buckets_by_form_value(backend: Backend, clock: FakeClock) -> None:
    view = ratelimit(key="post:foo", rate="1/m", block=False)(limited_flag)

    assert view(rf.post("/", {"foo": "a"})) is False
    assert view(rf.post("/", {"foo": "a"})) is True
    assert view(rf.post("/", {"foo": "b"})) is False
    assert view(rf.post("/", {"foo": "b"})) is True


def test_header_key_buckets_by_header_and_missing_headers_share_a_bucket(
    backend: Backend, clock: FakeClock
) -> None:
    view = ratelimit(key="header:x-api-key", rate="1/m", block=False)(limited_flag)

    assert view(rf.get("/", HTTP_X_API_KEY="k1")) is False
    assert view(rf.get("/", HTTP_X_API_KEY="k1")) is True
    assert view(rf.get("/", HTTP_X_API_KEY="k2")) is False
    assert view(rf.get("/")) is False
    assert view(rf.get("/")) is True, "every request without the header shares ''"


def test_stacked_present_and_missing_header_keys(backend: Backend, clock: FakeClock) -> None:
    @ratelimit(key="header:x-real-ip", rate="1/m", block=False)
    @ratelimit(key="header:x-missing-header", rate="1/m", block=False)
    def view(request: HttpRequest) -> bool:
        return limited_flag(request)

    assert view(rf.post("/", HTTP_X_REAL_IP="1.2.3.4")) is False
    assert view(rf.post("/", HTTP_X_REAL_IP="1.2.3.4")) is True


@pytest.mark.django_db
def test_user_or_ip_keys_anonymous_by_ip_and_users_by_pk(
    backend: Backend, clock: FakeClock
) -> None:
    alice, bob = baker.make(User, _quantity=2)
    view = ratelimit(key="user_or_ip", rate="1/m", block=False)(limited_flag)

    assert view(with_user(AnonymousUser(), ip="10.0.0.1")) is False
    assert view(with_user(AnonymousUser(), ip="10.0.0.1")) is True
    assert view(with_user(AnonymousUser(), ip="10.0.0.2")) is False
    # Authenticated users are counted by pk, not by the (already limited) IP.
    assert view(with_user(alice, ip="10.0.0.1")) is False
    assert view(with_user(alice, ip="10.0.0.9")) is True
    assert view(with_user(bob, ip="10.0.0.1")) is False


def test_user_key_puts_every_anonymous_request_in_one_bucket(
    backend: Backend, clock: FakeClock
) -> None:
    view = ratelimit(key="user", rate="1/m", block=False)(limited_flag)

    assert view(with_user(AnonymousUser(), ip="10.0.0.1")) is False
    assert view(with_user(AnonymousUser(), ip="10.0.0.2")) is True


@pytest.mark.parametrize("key", [mykey, "tests.helpers.mykey"], ids=["callable", "dotted-path"])
def test_callable_and_dotted_path_keys(
    backend: Backend, clock: FakeClock, key: Callable[..., str] | str
) -> None:
    view = ratelimit(key=key, rate="1/m", block=False)(limited_flag)

    assert view(request_from("1.2.3.4", "post")) is False
    assert view(request_from("1.2.3.4", "post")) is True
    assert view(request_from("4.3.2.1", "post")) is False


def test_key_callable_receives_the_group_and_the_request(
    backend: Backend, clock: FakeClock
) -> None:
    seen: list[tuple[str, HttpRequest]] = []

    def key(group: str, request: HttpRequest) -> str:
        seen.append((group, request))
        return "k"

    view = ratelimit(key=key, rate="1/m", group="my-group", block=False)(limited_flag)
    request = rf.get("/")
    view(request)

    assert seen == [("my-group", request)]


# --- rates -------------------------------------------------------------------------------


def test_rate_two_per_minute_limits_the_third_request(backend: Backend, clock: FakeClock) -> None:
    view = ratelimit(key="ip", rate="2/m", block=False)(limited_flag)

    assert [view(rf.post("/")) for _ in range(3)] == [False, False, True]


def test_zero_rate_limits_the_first_request(backend: Backend, clock: FakeClock) -> None:
    view = ratelimit(key="ip", rate="0/m", block=False)(limited_flag)

    assert view(rf.post("/")) is True


def test_callable_rate_returning_tuples(backend: Backend, clock: FakeClock) -> None:
    def rate(group: str, request: HttpRequest) -> tuple[int, int]:
        return (2, 60) if request.user.is_authenticated else (1, 60)

    view = ratelimit(key="user_or_ip", rate=rate, block=False)(limited_flag)

    assert view(with_user(fake_user(False))) is False
    assert view(with_user(fake_user(False))) is True
    assert view(with_user(fake_user(True))) is False
    assert view(with_user(fake_user(True))) is False
    assert view(with_user(fake_user(True))) is True


def test_callable_rate_returning_none_exempts_the_request(
    backend: Backend, clock: FakeClock
) -> None:
    def rate(group: str, request: HttpRequest) -> str | None:
        return None if request.GET.get("vip") else "1/m"

    view = ratelimit(key="ip", rate=rate, block=False)(limited_flag)

    assert view(rf.get("/")) is False
    assert view(rf.get("/")) is True
    assert view(rf.get("/", {"vip": "1"})) is False
    assert view(rf.get("/", {"vip": "1"})) is False


@pytest.mark.parametrize("zero", ["0/m", (0, 60)])
def test_callable_rate_returning_zero_limits_at_once(
    backend: Backend, clock: FakeClock, zero: Any
) -> None:
    def rate(group: str, request: HttpRequest) -> Any:
        return "1/m" if request.user.is_authenticated else zero

    view = ratelimit(key="ip", rate=rate, block=False)(limited_flag)

    assert view(with_user(fake_user(False))) is True
    assert view(with_user(fake_user(True))) is False
    assert view(with_user(fake_user(True))) is True


@pytest.mark.parametrize(
    "rate", [callable_rate, "tests.helpers.callable_rate"], ids=["callable", "dotted-path"]
)
def test_rate_by_callable_or_dotted_path(backend: Backend, clock: FakeClock, rate: Any) -> None:
    view = ratelimit(key="user_or_ip", rate=rate, block=False)(limited_flag)

    assert view(with_user(fake_user(False))) is True
    assert view(with_user(fake_user(True))) is False
    assert view(with_user(fake_user(True))) is False


def test_callable_rate_receives_the_group_and_the_request(
    backend: Backend, clock: FakeClock
) -> None:
    seen: list[tuple[str, HttpRequest]] = []

    def rate(group: str, request: HttpRequest) -> str:
        seen.append((group, request))
        return "5/m"

    view = ratelimit(key="ip", rate=rate, group="g", block=False)(limited_flag)
    request = rf.get("/")
    view(request)

    assert seen == [("g", request)]


def test_a_callable_rate_returning_garbage_is_invalid_when_called(
    backend: Backend, clock: FakeClock
) -> None:
    view = ratelimit(key="ip", rate=lambda group, request: "5/M", block=False)(limited_flag)

    with pytest.raises(InvalidRate, match="'5/M'"):
        view(rf.get("/"))


# --- IP masks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "mask", "first", "same_bucket", "other_bucket"),
    [
        ("RATELIMIT_IPV4_MASK", 32, "10.1.1.1", None, "10.1.1.2"),
        ("RATELIMIT_IPV4_MASK", 16, "10.1.1.1", "10.1.0.1", "192.168.1.1"),
        ("RATELIMIT_IPV6_MASK", 128, "2001:db8::1000", None, "2001:db8::1001"),
        ("RATELIMIT_IPV6_MASK", 64, "2001:db8::1000", "2001:db8::1001", "2001:db9::1000"),
    ],
)
def test_ip_masks(
    backend: Backend,
    clock: FakeClock,
    settings: Any,
    setting: str,
    mask: int,
    first: str,
    same_bucket: str | None,
    other_bucket: str,
) -> None:
    setattr(settings, setting, mask)
    view = ratelimit(rate="1/m", key="ip", block=False)(limited_flag)

    assert view(request_from(first)) is False
    assert view(request_from(first)) is True
    if same_bucket is not None:
        assert view(request_from(same_bucket)) is True
    assert view(request_from(other_bucket)) is False


def test_default_ipv6_mask_is_64(backend: Backend, clock: FakeClock) -> None:
    view = ratelimit(rate="1/m", key="ip", block=False)(limited_flag)

    assert view(request_from("2001:db8:1:2:3:4:5:6")) is False
    assert view(request_from("2001:db8:1:2:ffff::1")) is True
    assert view(request_from("2001:db8:1:3::1")) is False


# --- settings ----------------------------------------------------------------------------


def test_ratelimit_enable_false_disables_limiting_and_counting(
    backend: Backend, clock: FakeClock, settings: Any
) -> None:
    settings.RATELIMIT_ENABLE = False
    view = ratelimit(key="ip", rate="0/m")(limited_flag)

    assert [view(rf.get("/")) for _ in range(3)] == [False] * 3
    settings.RATELIMIT_ENABLE = True
    usage = get_usage(rf.get("/"), group="g", key="ip", rate="0/m")
    assert usage is not None and usage["count"] == 0


@pytest.mark.parametrize(
    "exception_class",
    [CustomRatelimitedException, "tests.helpers.CustomRatelimitedException"],
    ids=["class", "dotted-path"],
)
def test_ratelimit_exception_class_setting(
    backend: Backend, clock: FakeClock, settings: Any, exception_class: Any
) -> None:
    settings.RATELIMIT_EXCEPTION_CLASS = exception_class
    view = ratelimit(key="ip", rate="1/m")(limited_flag)

    assert view(rf.get("/")) is False
    with pytest.raises(CustomRatelimitedException):
        view(rf.get("/"))


def test_all_and_unsafe_are_exposed_like_django_ratelimit() -> None:
    assert drf_ratelimit.ALL == (None,)
    assert drf_ratelimit.UNSAFE == ["DELETE", "PATCH", "POST", "PUT"]
    for function in (ratelimit, get_usage, is_ratelimited):
        assert function.ALL == drf_ratelimit.ALL  # type: ignore[attr-defined]
        assert function.UNSAFE == drf_ratelimit.UNSAFE  # type: ignore[attr-defined]


def test_the_decorator_keeps_the_view_metadata() -> None:
    def my_view(request: HttpRequest) -> HttpResponse:
        """Docstring."""
        return HttpResponse()

    wrapped = ratelimit(key="ip", rate="1/m")(my_view)

    assert wrapped.__name__ == "my_view"
    assert wrapped.__doc__ == "Docstring."
    assert wrapped.__wrapped__ is my_view  # type: ignore[attr-defined]


# --- class-based views -----------------------------------------------------------------


class FirstView(View):
    def get(self, request: HttpRequest) -> bool:
        return limited_flag(request)


class SecondView(View):
    def get(self, request: HttpRequest) -> bool:
        return limited_flag(request)


def test_method_decorator_on_a_method(backend: Backend, clock: FakeClock) -> None:
    class PostView(View):
        @method_decorator(ratelimit(key="ip", rate="1/m", block=False))
        def post(self, request: HttpRequest) -> bool:
            return limited_flag(request)

    view = PostView.as_view()

    assert view(rf.post("/")) is False
    assert view(rf.post("/")) is True


def test_method_decorator_on_the_class(backend: Backend, clock: FakeClock) -> None:
    @method_decorator(ratelimit(key="ip", rate="1/m", block=False), name="get")
    class GetView(View):
        def get(self, request: HttpRequest) -> bool:
            return limited_flag(request)

    view = GetView.as_view()

    assert view(rf.get("/")) is False
    assert view(rf.get("/")) is True


def test_wrapping_as_view(backend: Backend, clock: FakeClock) -> None:
    wrapped = ratelimit(key="ip", rate="1/m", block=False)(FirstView.as_view())

    assert wrapped(rf.get("/")) is False
    assert wrapped(rf.get("/")) is True


def test_methods_of_one_view_class_count_separately(backend: Backend, clock: FakeClock) -> None:
    class TwoMethodView(View):
        @method_decorator(ratelimit(key="ip", rate="1/m", method="GET", block=False))
        def get(self, request: HttpRequest) -> bool:
            return limited_flag(request)

        @method_decorator(ratelimit(key="ip", rate="1/m", method="POST", block=False))
        def post(self, request: HttpRequest) -> bool:
            return limited_flag(request)

    view = TwoMethodView.as_view()

    assert view(rf.get("/")) is False
    assert view(rf.get("/")) is True
    assert view(rf.post("/")) is False


def test_view_classes_with_method_decorator_count_separately(
    backend: Backend, clock: FakeClock
) -> None:
    class OneView(View):
        @method_decorator(ratelimit(key="ip", rate="1/m", method="GET", block=False))
        def get(self, request: HttpRequest) -> bool:
            return limited_flag(request)

    class AnotherView(View):
        @method_decorator(ratelimit(key="ip", rate="1/m", method="GET", block=False))
        def get(self, request: HttpRequest) -> bool:
            return limited_flag(request)

    one, another = OneView.as_view(), AnotherView.as_view()

    assert one(rf.get("/")) is False
    assert one(rf.get("/")) is True
    assert another(rf.get("/")) is False


def test_wrapped_as_view_functions_of_one_module_count_separately(
    backend: Backend, clock: FakeClock
) -> None:
    """Upstream names both ``tests.test_decorators.View.as_view.<locals>.view``
    and so shares one counter between them; here each view class has its own."""
    first = ratelimit(key="ip", rate="1/m", block=False)(FirstView.as_view())
    second = ratelimit(key="ip", rate="1/m", block=False)(SecondView.as_view())

    assert first(rf.get("/")) is False
    assert first(rf.get("/")) is True
    assert second(rf.get("/")) is False
    assert second(rf.get("/")) is True


# --- windows -------------------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "period"), [("1/m", 60), ("1/10s", 10), ("1/h", 3600)])
def test_the_window_resets_after_one_period(
    backend: Backend, clock: FakeClock, rate: str, period: int
) -> None:
    view = ratelimit(key="ip", rate=rate, block=False)(limited_flag)

    assert view(rf.get("/")) is False
    assert view(rf.get("/")) is True
    clock.advance(period)
    assert view(rf.get("/")) is False
    assert view(rf.get("/")) is True


def test_the_window_ends_exactly_when_time_left_runs_out(
    backend: Backend, clock: FakeClock
) -> None:
    view = ratelimit(key="ip", rate="1/m", group="w", block=False)(limited_flag)
    assert view(rf.get("/")) is False
    usage = get_usage(rf.get("/"), group="w", key="ip", rate="1/m")
    assert usage is not None

    clock.advance(int(usage["time_left"]))  # the window's last second still belongs to it
    assert view(rf.get("/")) is True
    clock.advance(1)
    assert view(rf.get("/")) is False


# --- async views -------------------------------------------------------------------------


arf = AsyncRequestFactory()


def test_an_async_view_stays_async(backend: Backend, clock: FakeClock) -> None:
    async def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    assert iscoroutinefunction(ratelimit(key="ip", rate="1/m")(view))


def test_async_view_returns_the_response_then_raises_ratelimited(
    backend: Backend, clock: FakeClock
) -> None:
    @ratelimit(key="ip", rate="2/m")
    async def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse(f"ok {limited_flag(request)}")

    call = async_to_sync(view)
    assert call(arf.get("/")).content == b"ok False"
    assert call(arf.get("/")).content == b"ok False"
    request = arf.get("/")
    with pytest.raises(Ratelimited):
        call(request)
    assert request.limited is True  # type: ignore[attr-defined]


def test_async_view_with_block_false_sets_request_limited(
    backend: Backend, clock: FakeClock
) -> None:
    @ratelimit(key="ip", rate="1/m", block=False)
    async def view(request: HttpRequest) -> bool:
        return limited_flag(request)

    call = async_to_sync(view)
    assert call(arf.get("/")) is False
    assert call(arf.get("/")) is True


@pytest.mark.urls("tests.helpers")
def test_async_view_under_the_async_client(backend: Backend, clock: FakeClock) -> None:
    client = AsyncClient()

    async def three_requests() -> list[Any]:
        return [await client.get("/async-limited/") for _ in range(3)]

    first, second, third = async_to_sync(three_requests)()

    assert (first.status_code, first.content) == (200, b"async ok")
    assert second.status_code == 200
    assert third.status_code == 403, "Ratelimited is a PermissionDenied"


def test_concurrent_async_requests_are_counted_atomically(
    backend: Backend, clock: FakeClock
) -> None:
    @ratelimit(key="ip", rate="10/m", group="burst", block=False)
    async def view(request: HttpRequest) -> bool:
        await asyncio.sleep(0)
        return limited_flag(request)

    async def burst() -> list[bool]:
        return list(await asyncio.gather(*(view(arf.get("/")) for _ in range(50))))

    results = async_to_sync(burst)()

    assert results.count(False) == 10
    assert results.count(True) == 40
    usage = get_usage(arf.get("/"), group="burst", key="ip", rate="10/m")
    assert usage is not None and usage["count"] == 50
