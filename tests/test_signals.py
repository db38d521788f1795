"""request_limited and fail_policy_used."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.dispatch import Signal
from django.test import Client
from rest_framework.test import APIClient

from drf_ratelimit._engine import Limit, check
from drf_ratelimit._spec.rates import Rate
from drf_ratelimit.clock import FakeClock
from drf_ratelimit.decorators import ratelimit
from drf_ratelimit.exceptions import CounterUnavailable
from drf_ratelimit.signals import fail_policy_used, request_limited
from tests.ops_views import Login, LoginThrottle, hello

pytestmark = pytest.mark.urls("tests.ops_views")


@pytest.fixture
def received() -> Iterator[list[dict[str, Any]]]:
    """Every request_limited and fail_policy_used sent during the test."""
    calls: list[dict[str, Any]] = []

    def receiver(signal: Signal, **kwargs: Any) -> None:
        calls.append({"signal": signal, **kwargs})

    request_limited.connect(receiver)
    fail_policy_used.connect(receiver)
    yield calls
    request_limited.disconnect(receiver)
    fail_policy_used.disconnect(receiver)


def test_decorator_sends_request_limited_once_per_limited_request(
    clock: FakeClock, client: Client, received: list[dict[str, Any]]
) -> None:
    assert [client.get("/hello/").status_code for _ in range(3)] == [200, 200, 403]
    (call,) = received
    assert call["signal"] is request_limited
    assert call["sender"] is ratelimit
    assert call["view"] is hello.__wrapped__  # type: ignore[attr-defined]
    assert call["group"] == "tests.ops_views.hello"
    assert call["request"].path == "/hello/"
    assert [(u.count, u.limit, u.should_limit) for u in call["usages"]] == [(3, 2, True)]


def test_decorator_with_block_false_sends_it_too(
    clock: FakeClock, client: Client, received: list[dict[str, Any]]
) -> None:
    assert [client.get("/soft/").content for _ in range(2)] == [b"limited=False", b"limited=True"]
    assert len(received) == 1


def test_throttle_sends_request_limited_with_its_policy_name(
    clock: FakeClock, received: list[dict[str, Any]]
) -> None:
    api = APIClient()
    assert [api.post("/login/", {"username": "a"}).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    (call,) = received
    assert call["sender"] is LoginThrottle
    assert isinstance(call["view"], Login)
    assert call["group"] == "login"
    # The denied request is charged to neither rate: the second shows its own count.
    assert [(u.count, u.limit) for u in call["usages"]] == [(3, 2), (2, 10)]


def test_nothing_is_sent_while_requests_are_allowed(
    clock: FakeClock, client: Client, received: list[dict[str, Any]]
) -> None:
    client.get("/hello/")
    APIClient().post("/login/", {"username": "a"})
    assert received == []


class Broken(LocMemCache):
    def add(self, *args: Any, **kwargs: Any) -> bool:
        raise ConnectionError("down")


@pytest.mark.parametrize("fail_open", [False, True])
def test_fail_policy_used_says_which_way_it_went(
    settings: Any, received: list[dict[str, Any]], fail_open: bool
) -> None:
    settings.RATELIMIT_FAIL_OPEN = fail_open
    check([Limit("g", Rate(1, 60), "v")], cache=Broken("broken-signals", {}))
    (call,) = received
    assert call["signal"] is fail_policy_used
    assert call["sender"] is CounterUnavailable
    assert call["fail_open"] is fail_open
    assert isinstance(call["exception"], CounterUnavailable)
    assert "ConnectionError: down" in str(call["exception"])


def test_a_failing_receiver_is_logged_and_never_breaks_the_request(
    clock: FakeClock, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_metrics(**kwargs: Any) -> None:
        raise RuntimeError("metrics are down")

    request_limited.connect(broken_metrics)
    try:
        with caplog.at_level(logging.ERROR, logger="django.dispatch"):
            assert [client.get("/hello/").status_code for _ in range(3)] == [200, 200, 403]
    finally:
        request_limited.disconnect(broken_metrics)
    assert "metrics are down" in caplog.text
