"""The DRF throttles through DRF's real request cycle, on every backend.

Views live in ``tests.throttle_views``; requests go through ``APIClient`` (and
Django's ``AsyncClient`` for adrf), so authentication, ``check_throttles``,
``Throttled`` and ``finalize_response`` are DRF's own. The clock is frozen at
1_700_000_000 (20 s into a minute, 800 s into an hour and into a quarter of an
hour), so a minute window resets 40 s later, an hour 2800 s later and a
quarter of an hour 100 s later.

These tests pin the fixed window (``RATELIMIT_ALGORITHM``), whose resets they
name to the second; the throttles' default, the sliding window, and the
token bucket are tested through the same views in ``tests/algorithms/test_on_every_backend.py``.
"""

from __future__ import annotations

import logging
import re
from typing import Any, ClassVar

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.test import AsyncClient
from model_bakery import baker
from rest_framework.authtoken.models import Token
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from drf_ratelimit.clock import FakeClock
from drf_ratelimit.throttles import (
    AnonRateThrottle,
    RatelimitThrottle,
    SimpleRateThrottle,
)
from tests import throttle_views
from tests.conftest import Backend
from tests.servers import free_port

pytestmark = pytest.mark.urls("tests.throttle_views")


@pytest.fixture(autouse=True)
def _fixed_window(settings: Any) -> None:
    settings.RATELIMIT_ALGORITHM = "fixed-window"


def throttled_detail(wait: int) -> str:
    unit = "second" if wait == 1 else "seconds"
    return f"Request was throttled. Expected available in {wait} {unit}."


def set_rates(settings: Any, **rates: Any) -> None:
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": rates}


def statuses(client: APIClient, path: str, times: int, **extra: Any) -> list[int]:
    return [client.get(path, **extra).status_code for _ in range(times)]


def assert_throttled(response: Any, wait: int) -> None:
    assert response.status_code == 429
    assert response.json() == {"detail": throttled_detail(wait)}
    assert response["Retry-After"] == str(wait)


def logged_in(user: User, auth: str) -> APIClient:
    client = APIClient()
    if auth == "token":
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION="Token " + token.key)
    else:
        client.force_login(user)
    return client


def ratelimit_headers(response: Any) -> tuple[str | None, str | None]:
    return response.headers.get("RateLimit-Policy"), response.headers.get("RateLimit")


def rate_limit_t(response: Any) -> int:
    """The ``t`` parameter of the RateLimit header."""
    params = dict(part.split("=") for part in response["RateLimit"].split(";")[1:])
    return int(params["t"])


# --- AnonRateThrottle ----------------------------------------------------------------------


def test_anon_throttle_allows_the_rate_then_answers_429(
    backend: Backend, clock: FakeClock, settings: Any
) -> None:
    set_rates(settings, anon="3/m")
    client = APIClient()

    assert statuses(client, "/anon/", 3) == [200, 200, 200]
    assert_throttled(client.get("/anon/"), 40)


@pytest.mark.django_db
@pytest.mark.parametrize("auth", ["token", "session"])
def test_anon_throttle_does_not_limit_authenticated_users(
    backend: Backend, clock: FakeClock, settings: Any, auth: str
) -> None:
    set_rates(settings, anon="1/m")
    anonymous = APIClient()
    assert statuses(anonymous, "/anon/", 2) == [200, 429]

    member = logged_in(baker.make(User), auth)

    assert statuses(member, "/anon/", 5) == [200] * 5, "same REMOTE_ADDR, but authenticated"


# --- UserRateThrottle ----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("auth", ["token", "session"])
def test_user_throttle_counts_each_user_separately(
    backend: Backend, clock: FakeClock, settings: Any, auth: str
) -> None:
    set_rates(settings, user="2/m")
    alice, bob = baker.make(User, _quantity=2)
    alice_client, bob_client = logged_in(alice, auth), logged_in(bob, auth)

    assert statuses(alice_client, "/user/", 2) == [200, 200]
    assert_throttled(alice_client.get("/user/"), 40)
    assert statuses(bob_client, "/user/", 3) == [200, 200, 429]
    assert statuses(APIClient(), "/user/", 3) == [200, 200, 429], "anonymous: by IP"


@pytest.mark.django_db
def test_user_throttle_counts_a_user_the_same_over_token_and_session(
    backend: Backend, clock: FakeClock, settings: Any
) -> None:
    set_rates(settings, user="2/m")
    user = baker.make(User)

    assert logged_in(user, "token").get("/user/").status_code == 200
    assert logged_in(user, "session").get("/user/").status_code == 200
    assert logged_in(user, "token").get("/user/").status_code == 429


def test_user_throttle_counts_anonymous_clients_by_ip(
    backend: Backend, clock: FakeClock, settings: Any
) -> None:
    set_rates(settings, user="2/m")
    client = APIClient()

    assert statuses(client, "/user/", 3, REMOTE_ADDR="10.0.0.1") == [200, 200, 429]
    assert statuses(client, "/user/", 3, REMOTE_ADDR="10.0.0.2") == [200, 200, 429]
    assert statuses(client, "/user/", 1, REMOTE_ADDR="10.0.0.1") == [429]


@pytest.mark.django_db
def test_user_throttle_keeps_a_user_apart_from_their_ip(
    backend: Backend, clock: FakeClock, settings: Any
) -> None:
    set_rates(settings, user="1/m")
    assert statuses(APIClient(), "/user/", 2) == [200, 429]

    member = logged_in(baker.make(User), "token")

    assert statuses(member, "/user/", 2) == [200, 429]


# --- ScopedRateThrottle --------------------------------------------------------------------


def test_scoped_throttle_scopes_are_independent_and_shared_by_scope(
    backend: Backend, clock: FakeClock, settings: Any
) -> None:
    set_rates(settings, uploads="2/m", downloads="1/m")
    client = APIClient()

    assert statuses(client, "/uploads/", 3) == [200, 200, 429]
    assert statuses(client, "/downloads/", 2) == [200, 429], "another scope: its own count"
    assert_throttled(client.get("/more-uploads/"), 40)  # same scope as /uploads/: shared


def test_scoped_throttle_ignores_a_view_without_a_scope(
    backend: Backend, clock: FakeClock, settings: Any
) -> None:
    set_rates(settings, uploads="1/m")

    assert statuses(APIClient(), "/unscoped/", 5) == [200] * 5


def test_scoped_throttle_ignores_a_scope_whose_rate_is_none(
    backend: Backend, clock: FakeClock, settings: Any
) -> None:
    set_rates(settings, uploads=None, downloads="1/m")
    client = APIClient()

    assert statuses(client, "/uploads/", 5) == [200] * 5
    assert statuses(client, "/downloads/", 2) == [200, 429]


def test_scoped_throttle_with_an_unknown_scope_is_improperly_configured(
    clock: FakeClock, settings: Any
) -> None:
    set_rates(settings, uploads="1/m")

    with pytest.raises(ImproperlyConfigured) as excinfo:
        APIClient().get("/downloads/")
    assert str(excinfo.value) == "No default throttle rate set for 'downloads' scope"


@pytest.mark.django_db
def test_scoped_throttle_counts_users_by_id(
    backend: Backend, clock: FakeClock, settings: Any
) -> None:
    set_rates(settings, uploads="1/m")
    alice, bob = baker.make(User, _quantity=2)

    assert statuses(logged_in(alice, "token"), "/uploads/", 2) == [200, 429]
    assert statuses(logged_in(bob, "token"), "/uploads/", 2) == [200, 429]


# --- RatelimitThrottle ---------------------------------------------------------------------


def test_a_list_of_rates_enforces_the_burst_and_the_sustained_rate(
    backend: Backend, clock: FakeClock, settings: Any
) -> None:
    set_rates(settings, anon=None)
    client = APIClient()

    assert statuses(client, "/items/", 3) == [200, 200, 200]
    assert_throttled(client.get("/items/"), 40)  # the minute is exhausted, the hour is not
    clock.advance(40)
    # The denied 4th request was charged to neither rate: 5/h leaves two more.
    assert statuses(client, "/items/1/", 2) == [200, 200]
    assert_throttled(client.get("/items/"), 2760)  # now the hour is exhausted


def test_viewset_actions_share_the_view_class_counter(
    backend: Backend, clock: FakeClock, settings: Any
) -> None:
    set_rates(settings, anon=None)
    client = APIClient()

    responses = [client.get(path) for path in ("/items/", "/items/1/", "/items/2/", "/items/3/")]

    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[1].json() == {"id": 1}


def test_each_view_counts_separately_by_default(backend: Backend, clock: FakeClock) -> None:
    client = APIClient()

    assert statuses(client, "/report-a/", 3) == [200, 200, 429]
    assert statuses(client, "/report-b/", 3) == [200, 200, 429]


def test_views_with_the_same_group_share_a_counter(backend: Backend, clock: FakeClock) -> None:
    client = APIClient()

    assert statuses(client, "/shared-a/", 2) == [200, 200]
    assert_throttled(client.get("/shared-b/"), 40)
    assert client.get("/shared-a/").status_code == 429


def test_method_post_counts_only_posts(backend: Backend, clock: FakeClock) -> None:
    client = APIClient()

    assert statuses(client, "/post-only/", 5) == [200] * 5
    assert client.post("/post-only/").status_code == 200
    assert client.post("/post-only/").status_code == 429
    assert client.get("/post-only/").status_code == 200


def test_data_key_throttles_logins_per_username_from_json_bodies(
    backend: Backend, clock: FakeClock
) -> None:
    client = APIClient()

    def login(username: str, ip: str = "127.0.0.1") -> int:
        body = {"username": username, "password": "guess"}
        return client.post("/login/", body, format="json", REMOTE_ADDR=ip).status_code

    assert [login("alice"), login("alice")] == [200, 200]
    assert login("alice", ip="10.9.9.9") == 429, "the username is the key, not the address"
    assert [login("bob"), login("bob"), login("bob")] == [200, 200, 429]


def test_header_key_counts_per_api_key(backend: Backend, clock: FakeClock) -> None:
    client = APIClient()

    assert statuses(client, "/api-key/", 3, HTTP_X_API_KEY="key-1") == [200, 200, 429]
    assert statuses(client, "/api-key/", 3, HTTP_X_API_KEY="key-2") == [200, 200, 429]


def test_a_callable_key_returning_none_exempts_the_request(
    backend: Backend, clock: FakeClock
) -> None:
    client = APIClient()

    assert statuses(client, "/staff-exempt/", 5, HTTP_X_STAFF="1") == [200] * 5
    assert statuses(client, "/staff-exempt/", 2) == [200, 429], "exempt requests were not counted"
    assert statuses(client, "/staff-exempt/", 3, HTTP_X_STAFF="1") == [200] * 3


@pytest.mark.django_db
def test_a_callable_rate_decides_per_request(backend: Backend, clock: FakeClock) -> None:
    member = logged_in(baker.make(User), "token")

    assert statuses(APIClient(), "/callable-rate/", 2) == [200, 429]
    assert statuses(member, "/callable-rate/", 5) == [200] * 5, "None: no limit for members"


@pytest.mark.django_db
def test_a_dotted_path_rate_is_imported_and_called(backend: Backend, clock: FakeClock) -> None:
    member = logged_in(baker.make(User), "token")

    assert statuses(APIClient(), "/dotted-rate/", 2) == [200, 429]
    assert statuses(member, "/dotted-rate/", 4) == [200, 200, 200, 429]


def test_rate_none_reads_the_ratelimit_scope(
    backend: Backend, clock: FakeClock, settings: Any
) -> None:
    set_rates(settings, ratelimit=["2/m", "10/h"])

    assert statuses(APIClient(), "/default-rate/", 3) == [200, 200, 429]


def test_rate_none_without_the_scope_entry_is_improperly_configured(
    clock: FakeClock, settings: Any
) -> None:
    set_rates(settings, anon="1/m")

    with pytest.raises(ImproperlyConfigured) as excinfo:
        APIClient().get("/default-rate/")
    assert str(excinfo.value) == "No default throttle rate set for 'ratelimit' scope"


def test_no_scope_and_no_rate_gives_drfs_message(clock: FakeClock) -> None:
    no_scope = type("NoScopeThrottle", (RatelimitThrottle,), {"scope": None})
    view = throttle_views.AnonView()
    request = Request(APIRequestFactory().get("/"))

    with pytest.raises(ImproperlyConfigured) as excinfo:
        no_scope().allow_request(request, view)
    expected = "You must set either `.scope` or `.rate` for 'NoScopeThrottle' throttle"
    assert str(excinfo.value) == expected


def test_simple_rate_throttle_without_scope_or_rate_gives_drfs_message() -> None:
    class NoScopeSimpleThrottle(SimpleRateThrottle):
        def get_cache_key(self, request: Any, view: Any) -> str | None:
            return "x"

    with pytest.raises(ImproperlyConfigured) as excinfo:
        NoScopeSimpleThrottle()
    expected = "You must set either `.scope` or `.rate` for 'NoScopeSimpleThrottle' throttle"
    assert str(excinfo.value) == expected


@pytest.mark.parametrize(
    ("attrs", "quoted"),
    [
        ({"rate": "10/x"}, "BadThrottle.rate='10/x'"),
        ({"rate": "100/15M"}, "BadThrottle.rate='100/15M'"),
        ({"rate": ["3/m", "5/y"]}, "BadThrottle.rate[1]='5/y'"),
        ({"rate": (3, 0)}, "BadThrottle.rate=(3, 0)"),
        ({"rate": 5}, "BadThrottle.rate=5"),
        ({"key": "bogus"}, "'bogus'"),
        ({"key": "cookie:sessionid"}, "'cookie:sessionid'"),
        ({"key": ""}, "''"),
    ],
)
def test_a_bad_literal_is_improperly_configured_at_class_definition(
    attrs: dict[str, Any], quoted: str
) -> None:
    with pytest.raises(ImproperlyConfigured) as excinfo:
        type("BadThrottle", (RatelimitThrottle,), {"rate": "1/m", **attrs})
    assert quoted in str(excinfo.value)


def test_throttles_with_different_scopes_on_one_view_keep_their_own_counts(
    backend: Backend, clock: FakeClock
) -> None:
    # For an anonymous client both keys give the client address and the rate is the
    # same: only the scope tells the two counters apart.
    client = APIClient()

    assert statuses(client, "/two-scopes/", 4) == [200, 200, 200, 429]


def test_throttles_for_different_methods_on_one_view_keep_their_own_counts(
    backend: Backend, clock: FakeClock
) -> None:
    client = APIClient()

    assert [client.get("/read-write/").status_code for _ in range(2)] == [200, 200]
    assert [client.post("/read-write/").status_code for _ in range(2)] == [200, 200]
    assert client.get("/read-write/").status_code == 429
    assert client.post("/read-write/").status_code == 429


# --- several throttles on one view -----------------------------------------------------------


def test_a_request_denied_by_one_throttle_is_counted_by_the_other(
    backend: Backend, clock: FakeClock, settings: Any
) -> None:
    settings.RATELIMIT_HEADERS = True
    client = APIClient()

    assert client.get("/burst-sustained/").status_code == 200
    denied = client.get("/burst-sustained/")
    assert_throttled(denied, 40)
    assert ratelimit_headers(denied)[1] == '"burst";r=0;t=40'

    clock.advance(40)
    allowed = client.get("/burst-sustained/")
    assert allowed.status_code == 200
    # sustained (3/h) counted the denied request: nothing is left of it.
    assert ratelimit_headers(allowed)[1] == '"sustained";r=0;t=2760'
    assert_throttled(client.get("/burst-sustained/"), 2760)


def test_retry_after_is_the_largest_wait_of_the_denying_throttles(
    backend: Backend, clock: FakeClock
) -> None:
    client = APIClient()

    assert client.get("/minute-quarter/").status_code == 200
    assert_throttled(client.get("/minute-quarter/"), 100)  # max(40 for 1/m, 100 for 1/15m)


# --- windows and wait() --------------------------------------------------------------------------


def test_a_window_reset_lets_requests_through_again(
    backend: Backend, clock: FakeClock, settings: Any
) -> None:
    set_rates(settings, anon="2/m")
    client = APIClient()

    assert statuses(client, "/anon/", 3) == [200, 200, 429]
    clock.advance(39.5)
    assert_throttled(client.get("/anon/"), 1)  # 0.5 s left, rounded up by DRF
    clock.advance(0.5)
    assert statuses(client, "/anon/", 3) == [200, 200, 429]


class OnePerMinute(RatelimitThrottle):
    key = "ip"
    rate = "1/m"


class MinuteAndQuarter(RatelimitThrottle):
    key = "ip"
    rate = ["1/m", "1/15m"]  # noqa: RUF012


class MinuteOfRoomyQuarter(RatelimitThrottle):
    key = "ip"
    rate = ["1/m", "5/15m"]  # noqa: RUF012


@pytest.mark.parametrize(
    ("throttle_class", "offset", "expected"),
    [
        (OnePerMinute, 0, 40.0),
        (OnePerMinute, 0.25, 39.75),
        (OnePerMinute, 39.5, 0.5),
        (OnePerMinute, 40, 60.0),
        (MinuteAndQuarter, 0, 100.0),  # both rates deny: the later reset
        (MinuteAndQuarter, 0.5, 99.5),
        (MinuteOfRoomyQuarter, 0, 40.0),  # the quarter has room left: only the minute counts
    ],
)
def test_wait_is_the_exact_time_until_every_exhausted_rate_resets(
    backend: Backend, clock: FakeClock, throttle_class: type[Any], offset: float, expected: float
) -> None:
    clock.advance(offset)
    view = throttle_views.AnonView()
    factory = APIRequestFactory()
    throttle = throttle_class()

    assert throttle.allow_request(Request(factory.get("/")), view) is True
    assert throttle.allow_request(Request(factory.get("/")), view) is False
    assert throttle.wait() == expected


def test_anon_throttle_wait_under_the_clock(clock: FakeClock, settings: Any) -> None:
    set_rates(settings, anon="1/h")
    clock.advance(0.125)
    throttle = AnonRateThrottle()
    request = Request(APIRequestFactory().get("/"))

    assert throttle.timer() == 1_700_000_000.125
    throttle.allow_request(request, throttle_views.AnonView())
    assert throttle.allow_request(request, throttle_views.AnonView()) is False
    assert throttle.wait() == 2799.875


# --- settings read per request ----------------------------------------------------------------


def test_throttle_rates_are_read_on_every_request(
    backend: Backend, clock: FakeClock, settings: Any
) -> None:
    set_rates(settings, anon="1/m")
    client = APIClient()
    assert statuses(client, "/anon/", 2) == [200, 429]

    set_rates(settings, anon="3/m")
    assert statuses(client, "/anon/", 4) == [200, 200, 200, 429]

    set_rates(settings, anon=None)
    assert statuses(client, "/anon/", 3) == [200] * 3


def test_the_extended_rate_grammar_is_accepted_in_the_settings(
    backend: Backend, clock: FakeClock, settings: Any
) -> None:
    set_rates(settings, anon="2/15m", user="100/15m")
    settings.RATELIMIT_HEADERS = True
    client = APIClient()

    assert statuses(client, "/anon/", 2) == [200, 200]
    assert_throttled(client.get("/anon/"), 100)
    response = client.get("/user/")
    assert response.status_code == 200
    assert ratelimit_headers(response) == ('"user";q=100;w=900', '"user";r=99;t=100')


@pytest.mark.parametrize("bad", ["10/x", "10/", "ten/m", "100/15M", "1/0s"])
def test_a_bad_rate_in_the_settings_names_the_value_and_the_setting(
    clock: FakeClock, settings: Any, bad: str
) -> None:
    set_rates(settings, anon=bad)

    with pytest.raises(ImproperlyConfigured) as excinfo:
        APIClient().get("/anon/")
    message = str(excinfo.value)
    assert repr(bad) in message
    assert "REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['anon']" in message


def test_a_missing_scope_in_the_settings_gives_drfs_message(
    clock: FakeClock, settings: Any
) -> None:
    set_rates(settings, user="1/m")

    with pytest.raises(ImproperlyConfigured) as excinfo:
        APIClient().get("/anon/")
    assert str(excinfo.value) == "No default throttle rate set for 'anon' scope"


# --- RateLimit headers --------------------------------------------------------------------------


def test_no_ratelimit_headers_by_default(backend: Backend, clock: FakeClock, settings: Any) -> None:
    set_rates(settings, anon="1/m")
    client = APIClient()

    for response in (client.get("/anon/"), client.get("/anon/")):
        assert ratelimit_headers(response) == (None, None)
    assert response.status_code == 429


def test_ratelimit_headers_on_allowed_and_throttled_responses(
    backend: Backend, clock: FakeClock, settings: Any
) -> None:
    settings.RATELIMIT_HEADERS = True
    set_rates(settings, anon="100/15m")
    client = APIClient()
    policy = '"items-60s";q=3;w=60, "items-3600s";q=5;w=3600, "anon";q=100;w=900'

    responses = [client.get("/items/") for _ in range(5)]

    assert [r.status_code for r in responses] == [200, 200, 200, 429, 429]
    assert [ratelimit_headers(r) for r in responses] == [
        (policy, '"items-60s";r=2;t=40'),
        (policy, '"items-60s";r=1;t=40'),
        (policy, '"items-60s";r=0;t=40'),
        (policy, '"items-60s";r=0;t=40'),
        (policy, '"items-60s";r=0;t=40'),  # denied requests use up nothing, not even the hour
    ]
    assert [r.get("Retry-After") for r in responses] == [None, None, None, "40", "40"]


@pytest.mark.django_db
def test_ratelimit_headers_leave_out_a_throttle_that_skipped_the_request(
    backend: Backend, clock: FakeClock, settings: Any
) -> None:
    settings.RATELIMIT_HEADERS = True
    set_rates(settings, anon="100/15m")
    member = logged_in(baker.make(User), "token")

    response = member.get("/items/")

    assert ratelimit_headers(response) == (
        '"items-60s";q=3;w=60, "items-3600s";q=5;w=3600',
        '"items-60s";r=2;t=40',
    )


def test_ratelimit_names_the_most_restrictive_of_two_throttles(
    backend: Backend, clock: FakeClock, settings: Any
) -> None:
    settings.RATELIMIT_HEADERS = True
    client = APIClient()

    first, second = client.get("/minute-quarter/"), client.get("/minute-quarter/")

    policy = '"burst";q=1;w=60, "quarter";q=1;w=900'
    # Both are used up; the quarter of an hour comes back later.
    assert ratelimit_headers(first) == (policy, '"quarter";r=0;t=100')
    assert ratelimit_headers(second) == (policy, '"quarter";r=0;t=100')
    assert second["Retry-After"] == "100"


@pytest.mark.parametrize("path", ["/items/", "/burst-sustained/", "/minute-quarter/"])
def test_retry_after_is_never_less_than_the_ratelimit_t(
    backend: Backend, clock: FakeClock, settings: Any, path: str
) -> None:
    settings.RATELIMIT_HEADERS = True
    set_rates(settings, anon="7/15m")
    client = APIClient()

    throttled = []
    for _ in range(40):
        response = client.get(path)
        if response.status_code == 429:
            throttled.append(response)
            # Never less than t; in fact equal, since RateLimit reports the denying
            # throttle's exhausted policy with the latest reset (the wait DRF got).
            assert int(response["Retry-After"]) == rate_limit_t(response)
        clock.advance(13.7)
    assert len(throttled) >= 5


# --- RATELIMIT_ENABLE ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/anon/", "/user/", "/uploads/", "/items/", "/burst-sustained/", "/login/"]
)
def test_ratelimit_enable_false_never_throttles(
    backend: Backend, clock: FakeClock, settings: Any, path: str
) -> None:
    settings.RATELIMIT_ENABLE = False
    set_rates(settings, anon="1/m", user="1/m", uploads="1/m")

    client = APIClient()
    assert statuses(client, path, 5) == [200] * 5

    settings.RATELIMIT_ENABLE = True
    assert client.get(path).status_code == 200, "nothing was counted while disabled"


# --- cache failures -----------------------------------------------------------------------------


def dead_cache(kind: str, port: int) -> dict[str, Any]:
    if kind == "redis":
        return {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    if kind == "django_redis":
        return {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    return {
        "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
        "LOCATION": f"127.0.0.1:{port}",
        "OPTIONS": {"connect_timeout": 0.5, "timeout": 0.5},
    }


@pytest.fixture(params=["redis", "django_redis", "memcached"])
def dead_backend(request: pytest.FixtureRequest, settings: Any) -> str:
    """RATELIMIT_USE_CACHE points at a closed port: every count fails."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "dead": dead_cache(request.param, free_port()),
    }
    settings.RATELIMIT_USE_CACHE = "dead"
    return str(request.param)


def test_a_dead_cache_fails_closed_without_retry_after(
    dead_backend: str, clock: FakeClock, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="drf_ratelimit")
    settings.RATELIMIT_HEADERS = True
    set_rates(settings, anon="100/m")

    response = APIClient().get("/anon/")

    assert response.status_code == 429
    assert response.json() == {"detail": "Request was throttled."}
    assert "Retry-After" not in response
    assert ratelimit_headers(response) == (None, None), "no usage is known"
    assert any("failing closed" in r.getMessage() for r in caplog.records)


def test_a_dead_cache_fails_open_when_configured(
    dead_backend: str, clock: FakeClock, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="drf_ratelimit")
    settings.RATELIMIT_FAIL_OPEN = True
    set_rates(settings, anon="1/m")

    assert statuses(APIClient(), "/anon/", 3) == [200] * 3
    assert statuses(APIClient(), "/items/", 5) == [200] * 5
    assert any("failing open" in r.getMessage() for r in caplog.records)


# --- adrf async views ---------------------------------------------------------------------------


def test_an_adrf_async_view_is_throttled_under_the_async_client(
    backend: Backend, clock: FakeClock, settings: Any
) -> None:
    settings.RATELIMIT_HEADERS = True
    client = AsyncClient()

    async def three() -> list[Any]:
        return [await client.get("/async/") for _ in range(3)]

    first, second, third = async_to_sync(three)()

    assert (first.status_code, first.json()) == (200, {"view": "async"})
    assert second.status_code == 200
    assert_throttled(third, 40)
    assert ratelimit_headers(first) == ('"async";q=2;w=60', '"async";r=1;t=40')


def test_an_adrf_async_view_is_throttled_under_the_api_client(
    backend: Backend, clock: FakeClock
) -> None:
    client = APIClient()

    responses = [client.get("/async/") for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[0].json() == {"view": "async"}
    assert_throttled(responses[2], 40)


# --- cache keys ---------------------------------------------------------------------------------


WEIRD_KEY = ("\x01\x7f key with spaces\tand:colons/" * 200)[:5000]


def test_a_huge_weird_header_key_is_just_another_client(backend: Backend, clock: FakeClock) -> None:
    client = APIClient()

    assert statuses(client, "/api-key/", 3, HTTP_X_API_KEY=WEIRD_KEY) == [200, 200, 429]
    assert statuses(client, "/api-key/", 1, HTTP_X_API_KEY=WEIRD_KEY[:-1]) == [200]


def test_the_stored_key_is_a_hash_not_the_value(clock: FakeClock) -> None:
    cache = caches["default"]

    APIClient().get("/api-key/", HTTP_X_API_KEY=WEIRD_KEY)

    stored = list(cache._cache)  # type: ignore[attr-defined]
    assert len(stored) == 1
    prefix, _, digest = stored[0].rpartition("rl:")
    assert prefix == ":1:"
    assert re.fullmatch(r"\{[0-9a-f]{32}\}fw2/60s:[0-9]+", digest)


class RecordingThrottle(RatelimitThrottle):
    """Overrides DRF's hooks, as projects do to log denied requests."""

    key = "ip"
    rate = "2/m"
    scope = "hooks"
    calls: ClassVar[list[str]] = []

    def throttle_success(self) -> bool:
        self.calls.append("success")
        return super().throttle_success()

    def throttle_failure(self) -> bool:
        self.calls.append("failure")
        return super().throttle_failure()


def test_drfs_success_and_failure_hooks_are_called(clock: FakeClock) -> None:
    RecordingThrottle.calls.clear()
    request = APIRequestFactory().get("/", REMOTE_ADDR="10.20.30.40")

    allowed = [RecordingThrottle().allow_request(request, object()) for _ in range(3)]

    assert allowed == [True, True, False]
    assert RecordingThrottle.calls == ["success", "success", "failure"]


def test_get_ident_ignores_a_client_sent_x_forwarded_for() -> None:
    """DRF's BaseThrottle.get_ident would use the header; ours is REMOTE_ADDR."""
    request = APIRequestFactory().get(
        "/", REMOTE_ADDR="10.20.30.40", HTTP_X_FORWARDED_FOR="1.1.1.1"
    )

    assert RatelimitThrottle().get_ident(request) == "10.20.30.40"
    assert AnonRateThrottle().get_ident(request) == "10.20.30.40"


def test_wait_before_any_check_is_none() -> None:
    """Nothing counted yet, so nothing to wait for (DRF raises AttributeError here)."""
    assert RatelimitThrottle().wait() is None
    assert AnonRateThrottle().wait() is None


def test_headers_on_with_a_view_outside_dispatch_are_skipped(
    clock: FakeClock, settings: Any
) -> None:
    """Schema tools call throttles on views that never ran dispatch (no ``headers``)."""
    settings.RATELIMIT_HEADERS = True
    throttle = RecordingThrottle()
    request = APIRequestFactory().get("/", REMOTE_ADDR="10.20.30.41")

    assert throttle.allow_request(request, object()) is True
    assert throttle.usages[0].count == 1


def test_a_parse_rate_override_returning_none_turns_the_throttle_off() -> None:
    class Off(AnonRateThrottle):
        rate = "anything"

        def parse_rate(self, rate: Any) -> tuple[int | None, int | None]:
            return (None, None)

    throttle = Off()
    request = APIRequestFactory().get("/", REMOTE_ADDR="10.20.30.42")

    assert (throttle.num_requests, throttle.duration) == (None, None)
    assert all(Off().allow_request(request, object()) for _ in range(5))
