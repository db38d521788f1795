"""drf_ratelimit.testing: resets, overrides, header assertions and the pytest fixture."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.test import Client, RequestFactory
from model_bakery import baker
from rest_framework.test import APIClient

from drf_ratelimit._ops.lookup import UnknownView
from drf_ratelimit.clock import FakeClock
from drf_ratelimit.testing import (
    Ratelimits,
    assert_ratelimit_headers,
    assert_ratelimited,
    override_ratelimit,
    ratelimit_usage,
    reset_ratelimits,
)
from tests.conftest import Backend
from tests.ops_views import Login, hello

pytestmark = pytest.mark.urls("tests.ops_views")


@pytest.fixture(autouse=True)
def _fixed_window(settings: Any) -> None:
    """These tests name resets to the second, as the fixed window gives them;
    the helpers work the same under every algorithm."""
    settings.RATELIMIT_ALGORITHM = "fixed-window"


def statuses(client: Client, path: str, times: int, **extra: Any) -> list[int]:
    return [client.get(path, **extra).status_code for _ in range(times)]


def login(client: APIClient, username: str) -> int:
    return int(client.post("/login/", {"username": username}, format="json").status_code)


def test_reset_without_arguments_clears_every_counter(
    backend: Backend, clock: FakeClock, client: Client
) -> None:
    assert statuses(client, "/hello/", 3) == [200, 200, 403]
    reset_ratelimits()
    assert statuses(client, "/hello/", 1) == [200]


def test_reset_one_view_for_one_client_leaves_others_alone(
    backend: Backend, clock: FakeClock, rf: RequestFactory
) -> None:
    api = APIClient()
    assert [login(api, "alice") for _ in range(3)] == [200, 200, 429]
    assert [login(api, "bob") for _ in range(3)] == [200, 200, 429]
    reset_ratelimits("/login/", rf.post("/login/", {"username": "alice"}))
    assert login(api, "alice") == 200
    assert login(api, "bob") == 429


def test_reset_accepts_the_view_its_dotted_path_or_its_url(
    clock: FakeClock, client: Client, rf: RequestFactory
) -> None:
    for view in (hello, "tests.ops_views.hello", "/hello/"):
        assert statuses(client, "/hello/", 3) == [200, 200, 403]
        reset_ratelimits(view, rf.get("/hello/"))
    assert statuses(client, "/hello/", 1) == [200]


def test_reset_of_a_view_needs_the_client() -> None:
    with pytest.raises(TypeError, match="needs the request"):
        reset_ratelimits(hello)


def test_reset_of_a_view_without_limits_is_an_error(rf: RequestFactory) -> None:
    with pytest.raises(UnknownView, match="has no @ratelimit and no drf_ratelimit throttle"):
        reset_ratelimits("/unlimited/", rf.get("/"))


def test_usage_reads_without_counting(clock: FakeClock, rf: RequestFactory) -> None:
    api = APIClient()
    login(api, "alice")
    request = rf.post("/login/", {"username": "alice"})
    for _ in range(2):
        usages = ratelimit_usage(Login, request)
        assert [(u.count, u.limit) for u in usages if u is not None] == [(1, 2), (1, 10)]


def test_override_disabled_lets_everything_through(clock: FakeClock, client: Client) -> None:
    with override_ratelimit(enabled=False):
        assert statuses(client, "/hello/", 5) == [200] * 5
    assert statuses(client, "/hello/", 3) == [200, 200, 403]


def test_override_limit_applies_to_every_rate_and_keeps_periods(
    clock: FakeClock, settings: Any
) -> None:
    settings.RATELIMIT_HEADERS = True
    api = APIClient()
    with override_ratelimit(limit=1):
        first, second = (api.post("/login/", {"username": "a"}) for _ in range(2))
        assert first.status_code == 200
        assert_ratelimited(second, retry_after=2800)  # both exhausted: the hour's reset
        headers = assert_ratelimit_headers(second, remaining=0)
        assert headers.policies == {"login-60s": (1, 60), "login-3600s": (1, 3600)}
    reset_ratelimits()
    assert [login(api, "a") for _ in range(3)] == [200, 200, 429]


def test_override_limit_zero_limits_every_counted_request(clock: FakeClock, client: Client) -> None:
    @override_ratelimit(limit=0)
    def blocked() -> list[int]:
        return statuses(client, "/hello/", 2)

    assert blocked() == [403, 403]


def test_override_rejects_a_negative_limit() -> None:
    with pytest.raises(ValueError, match="non-negative"), override_ratelimit(limit=-1):
        pass


def test_header_assertions_pass_and_return_the_parsed_fields(
    clock: FakeClock, settings: Any
) -> None:
    settings.RATELIMIT_HEADERS = True
    api = APIClient()
    responses = [api.post("/login/", {"username": "a"}) for _ in range(3)]
    headers = assert_ratelimit_headers(
        responses[0], policy="login-60s", limit=2, window=60, remaining=1
    )
    assert headers.policies == {"login-60s": (2, 60), "login-3600s": (10, 3600)}
    assert headers.reset == 40  # the fake clock is 20 s into a minute
    assert_ratelimit_headers(responses[2], remaining=0)
    assert_ratelimited(responses[2], retry_after=headers.reset)


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (HttpResponse(), "has no RateLimit-Policy header"),
        (
            HttpResponse(headers={"RateLimit-Policy": '"a";q=1;w=60', "RateLimit": "not sf"}),
            "is not a structured field list",
        ),
        (
            HttpResponse(headers={"RateLimit-Policy": '"a";q=1;w=60', "RateLimit": '"b";r=0;t=1'}),
            "reports 'b', which is not in RateLimit-Policy",
        ),
        (
            HttpResponse(headers={"RateLimit-Policy": '"a";q=1;w=60', "RateLimit": '"a";r=1;t=1'}),
            "RateLimit remaining is 1, expected 0",
        ),
    ],
)
def test_header_assertions_fail_with_a_message(response: HttpResponse, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        assert_ratelimit_headers(response, remaining=0)


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (HttpResponse(status=403), "expected a 429 Too Many Requests, got 403"),
        (HttpResponse(status=429), "has no Retry-After"),
        (HttpResponse(status=429, headers={"Retry-After": "0"}), "is not whole seconds"),
        (HttpResponse(status=429, headers={"Retry-After": "7"}), "Retry-After is 7, expected 5"),
    ],
)
def test_ratelimited_assertion_fails_with_a_message(response: HttpResponse, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        assert_ratelimited(response, retry_after=5)


def test_the_fixture_is_registered_and_starts_with_fresh_counters(
    client: Client, clock: FakeClock, ratelimits: Ratelimits
) -> None:
    assert isinstance(ratelimits, Ratelimits)
    assert statuses(client, "/hello/", 3) == [200, 200, 403]
    ratelimits.reset()
    ratelimits.disable()
    assert statuses(client, "/hello/", 3) == [200] * 3


def test_fixture_overrides_end_with_close(client: Client, clock: FakeClock) -> None:
    helper = Ratelimits()
    helper.override(limit=0)
    assert statuses(client, "/hello/", 1) == [403]
    helper.close()
    reset_ratelimits()
    assert statuses(client, "/hello/", 1) == [200]


@pytest.mark.django_db
def test_fixture_reset_and_usage_of_one_user(
    clock: FakeClock, rf: RequestFactory, settings: Any
) -> None:
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"anon": "5/m", "user": "5/m"}}
    user = baker.make(User)
    api = APIClient()
    api.force_login(user)
    assert api.get("/items/").status_code == 200
    helper = Ratelimits()
    request = rf.get("/items/")
    usage = helper.usage("/items/", request, user=user)
    assert [u.count for u in usage if u is not None] == [1]  # UserRateThrottle; anon skips users
    helper.reset("/items/", request, user=user)
    assert [u.count for u in helper.usage("/items/", request, user=user) if u] == [0]


def test_the_plugin_is_an_entry_point_that_imports_no_django() -> None:
    plugins = entry_points(group="pytest11")
    assert "drf_ratelimit.pytest_plugin" in {plugin.value for plugin in plugins}
    code = "import sys, drf_ratelimit.pytest_plugin; print(any(m == 'django' for m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
