"""Hostile input: oversized, malformed and spoofed client input never becomes a 500.

Whatever a client controls is hashed into the cache key, so a 100 kB header,
control characters, broken percent-escapes or a nested JSON value are one more
client with a counter of its own. A body DRF cannot parse is DRF's 400, as
without a throttle. ``X-Forwarded-For`` is ignored unless proxies are trusted.
Every test runs on every backend: memcached refuses long or binary keys, so an
unhashed value would show there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from rest_framework.decorators import api_view, throttle_classes
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from drf_ratelimit.decorators import ratelimit
from drf_ratelimit.exceptions import Ratelimited
from drf_ratelimit.throttles import AnonRateThrottle, RatelimitThrottle
from tests.conftest import Backend, let_drop_ins_run_on

pytestmark = [pytest.mark.hostile, pytest.mark.usefixtures("clock")]

CLIENT = "203.0.113.9"
OVERSIZED = "A" * 100_000
#: Header values as a WSGI server hands them over (latin-1 text); each is a client of its own.
HEADER_VALUES = [
    OVERSIZED,
    "\r\n\x00\x7f\t ",
    "\xff\xfe\x80",
    "key with spaces",
    "%s%n%x" * 1000,
    "' OR 1=1 --",
]
#: Raw query strings, percent-escapes broken or not; each ``q`` differs.
QUERY_STRINGS = [
    "q=" + "%ff%fe%00" * 2000,
    "q=%",
    "q=%zz",
    "q=a&q=b",
    "q=" + "%C3%A9" * 20_000,
    "q=\x00",
]
ALLOWED, LIMITED = "allowed", "limited"


@ratelimit(key="header:x-api-key", rate="1/m")
def header_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


@ratelimit(key="get:q", rate="1/m")
def query_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


@ratelimit(key="ip", rate="2/m")
def ip_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def one_per_minute(key: str) -> type[RatelimitThrottle]:
    return type(f"Hostile_{key}", (RatelimitThrottle,), {"key": key, "rate": "1/m"})


def drf_view(throttle: type[Any]) -> Callable[[HttpRequest], Any]:
    @api_view(["GET", "POST"])
    @throttle_classes([throttle])
    def view(request: Request) -> Response:
        return Response({"ok": True})

    return view


header_drf_view = drf_view(one_per_minute("header:x-api-key"))
query_drf_view = drf_view(one_per_minute("get:q"))
body_drf_view = drf_view(one_per_minute("data:username"))
anon_drf_view = drf_view(type("TwoPerMinute", (AnonRateThrottle,), {"rate": "2/m"}))


def outcome(view: Callable[[HttpRequest], Any], request: HttpRequest) -> str:
    """ALLOWED or LIMITED; any other answer (a 500, a stray exception) fails the test."""
    try:
        response = view(request)
    except Ratelimited:
        return LIMITED
    status = response.status_code
    assert status in (200, 429), f"{status}: {getattr(response, 'data', response)}"
    return ALLOWED if status == 200 else LIMITED


def get(extra: dict[str, str] | None = None, query: str = "") -> HttpRequest:
    request = APIRequestFactory().get("/", REMOTE_ADDR=CLIENT, **(extra or {}))
    request.META["QUERY_STRING"] = query  # raw, as a server would pass it
    return request


@pytest.mark.parametrize("view", [header_view, header_drf_view], ids=["decorator", "throttle"])
def test_each_hostile_header_counts_on_its_own_key(backend: Backend, view: Any) -> None:
    for value in HEADER_VALUES:
        outcomes = [outcome(view, get({"HTTP_X_API_KEY": value})) for _ in range(2)]
        assert outcomes == [ALLOWED, LIMITED], repr(value[:20])


@pytest.mark.parametrize("view", [query_view, query_drf_view], ids=["decorator", "throttle"])
def test_each_hostile_query_string_counts_on_its_own_key(backend: Backend, view: Any) -> None:
    for query in QUERY_STRINGS:
        assert [outcome(view, get(query=query)) for _ in range(2)] == [ALLOWED, LIMITED], query[:20]


def post_json(body: str | bytes) -> HttpRequest:
    return APIRequestFactory().post("/", body, content_type="application/json", REMOTE_ADDR=CLIENT)


@pytest.mark.parametrize(
    "body",
    [
        '{"username": {"nested": [1, {"deeper": null}]}}',
        '{"username": [1, 2, 3]}',
        '{"username": 1e999}',
        '{"username": true}',
        '{"username": "' + OVERSIZED + '"}',
        '{"username": "\\u0000\\ud800"}',
    ],
    ids=["object", "list", "infinity", "boolean", "oversized", "lone-surrogate"],
)
def test_a_json_value_of_any_shape_counts_on_its_own_key(backend: Backend, body: str) -> None:
    assert [outcome(body_drf_view, post_json(body)) for _ in range(2)] == [ALLOWED, LIMITED]


@pytest.mark.parametrize(
    "body", ['{"username": ', b'{"username": "\xff\xfe"}', '{"username": NaN}', "{" * 10_000]
)
def test_a_body_drf_cannot_parse_is_drfs_400(backend: Backend, body: str | bytes) -> None:
    for _ in range(3):
        assert body_drf_view(post_json(body)).status_code == 400


def test_bodies_without_the_field_share_the_empty_value(backend: Backend) -> None:
    """A list, a scalar or an object without the field: all give "" (one bucket)."""
    outcomes = [outcome(body_drf_view, post_json(b)) for b in ("[1, 2]", '"text"', '{"x": 1}')]
    assert outcomes == [ALLOWED, LIMITED, LIMITED]


def test_a_null_value_exempts_the_request(backend: Backend) -> None:
    """The key function gave None: nothing is counted, as for DRF's get_cache_key."""
    assert [outcome(body_drf_view, post_json('{"username": null}')) for _ in range(3)] == [
        ALLOWED
    ] * 3


SPOOFED_FORWARDED_FOR = ["198.51.100.1", "garbage", OVERSIZED, "1.1.1.1, 2.2.2.2", "", "::1"]


@pytest.mark.parametrize("view", [ip_view, anon_drf_view], ids=["decorator", "throttle"])
def test_spoofed_forwarded_for_is_ignored_without_trusted_proxies(
    backend: Backend, view: Any, settings: Any
) -> None:
    let_drop_ins_run_on(backend.name, settings)
    outcomes = [
        outcome(view, get({"HTTP_X_FORWARDED_FOR": spoofed})) for spoofed in SPOOFED_FORWARDED_FOR
    ]
    # Every request is the connecting peer's: two allowed, then limited.
    assert outcomes == [ALLOWED, ALLOWED] + [LIMITED] * (len(SPOOFED_FORWARDED_FOR) - 2)


def test_a_garbage_forwarded_for_behind_a_trusted_proxy_is_just_another_client(
    backend: Backend, settings: Any
) -> None:
    settings.RATELIMIT_PROXY_COUNT = 1
    let_drop_ins_run_on(backend.name, settings)
    for value in ["garbage", OVERSIZED, "\x00\r\n", "999.999.999.999"]:
        outcomes = [outcome(anon_drf_view, get({"HTTP_X_FORWARDED_FOR": value})) for _ in range(3)]
        assert outcomes == [ALLOWED, ALLOWED, LIMITED], repr(value[:20])
