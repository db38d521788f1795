"""The cache server dies, hangs, and comes back: the fail policy, and only it, decides.

Every test here gets its own server process (function-scoped), so stopping it
never disturbs the session servers the rest of the suite shares.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from drf_ratelimit.core import get_usage, is_ratelimited
from drf_ratelimit.decorators import ratelimit
from drf_ratelimit.exceptions import Ratelimited
from drf_ratelimit.usage import FAIL_CLOSED, Usage
from tests.conftest import SHARED_BACKENDS, cache_config
from tests.servers import MemcachedServer, RedisServer, Server, find_binary, free_port

pytestmark = pytest.mark.usefixtures("clock")

ALIAS = "faulty"
#: A bound on how long a check may take against a server that never answers
#: (timeouts are 0.5 s). Generous so it is never flaky; it is not a benchmark.
HUNG_SERVER_BOUND = 5.0

FAIL_CLOSED_MAPPING = {"count": 0, "limit": 0, "should_limit": True, "time_left": -1}


@ratelimit(key="ip", rate="100/m")
def generous_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


@ratelimit(key="ip", rate="1/m")
def strict_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def client_request(ip: str = "10.3.3.3") -> HttpRequest:
    return RequestFactory().get("/", REMOTE_ADDR=ip)


def usage_of_generous_view(request: HttpRequest) -> Usage | None:
    """The decorator's own counter (same group: the view's dotted name)."""
    return get_usage(request, fn=generous_view, key="ip", rate="100/m")


def new_server(name: str) -> Server:
    if name in ("memcached", "pylibmc"):
        return MemcachedServer(find_binary("memcached"))
    return RedisServer(find_binary("redis-server"))


# libmemcached (pylibmc) keeps a server it saw fail out of use for its
# retry_timeout/dead_timeout (whole seconds, at least 1), so it cannot resume
# "within one request"; docs/backends.md says so. The other backends reconnect at once.
RECONNECTING_BACKENDS = [name for name in SHARED_BACKENDS if name != "pylibmc"]


@pytest.fixture(params=SHARED_BACKENDS)
def server(request: pytest.FixtureRequest, settings: Any) -> Iterator[Server]:
    """A dedicated server for this test only, configured as the ratelimit cache."""
    name: str = request.param
    own = new_server(name)
    own.start()
    settings.CACHES = {"default": cache_config("locmem", None), ALIAS: cache_config(name, own)}
    settings.RATELIMIT_USE_CACHE = ALIAS
    try:
        yield own
    finally:
        own.stop()


def records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "drf_ratelimit" and r.levelno == level]


def test_fail_closed_when_the_server_is_down(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    request = client_request()
    for _ in range(3):
        assert generous_view(request).status_code == 200
    usage = usage_of_generous_view(request)
    assert usage is not None and usage.count == 3

    server.stop()
    caplog.clear()

    with pytest.raises(Ratelimited):
        generous_view(client_request())
    usage = usage_of_generous_view(client_request())
    assert usage is FAIL_CLOSED
    assert dict(usage) == FAIL_CLOSED_MAPPING
    errors = records(caplog, logging.ERROR)
    assert len(errors) == 2
    assert all("failing closed" in r.getMessage() for r in errors)
    assert not records(caplog, logging.WARNING)


def test_fail_open_when_the_server_is_down(
    server: Server, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.RATELIMIT_FAIL_OPEN = True
    request = client_request()
    assert generous_view(request).status_code == 200

    server.stop()
    caplog.clear()

    for _ in range(3):
        assert generous_view(client_request()).status_code == 200
    assert strict_view(client_request()).status_code == 200
    assert strict_view(client_request()).status_code == 200
    assert usage_of_generous_view(client_request()) is None
    assert (
        is_ratelimited(client_request(), group="g", key="ip", rate="1/m", increment=True) is False
    )
    warnings = records(caplog, logging.WARNING)
    assert len(warnings) == 7
    assert all("failing open" in r.getMessage() for r in warnings)
    assert not records(caplog, logging.ERROR)


@pytest.mark.parametrize("server", RECONNECTING_BACKENDS, indirect=True)
@pytest.mark.parametrize("fail_open", [False, True])
def test_limits_apply_again_as_soon_as_the_server_is_back(
    server: Server, settings: Any, fail_open: bool, caplog: pytest.LogCaptureFixture
) -> None:
    settings.RATELIMIT_FAIL_OPEN = fail_open
    assert strict_view(client_request()).status_code == 200
    server.stop()
    assert (usage_of_generous_view(client_request()) is None) is fail_open

    server.start()  # same port, empty
    caplog.clear()

    assert strict_view(client_request()).status_code == 200
    with pytest.raises(Ratelimited):
        strict_view(client_request())
    usage = usage_of_generous_view(client_request())
    assert usage is not None and not usage.failed and usage.count == 0
    assert not [r for r in caplog.records if r.name == "drf_ratelimit"]


class HungServer:
    """Accepts TCP connections and never answers a byte."""

    def __init__(self) -> None:
        self.port = free_port()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.listener.settimeout(0.05)
        self.accepted: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.accepted.append(connection)  # and never read from or write to it

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()
        for connection in self.accepted:
            connection.close()
        self.listener.close()


HUNG_CACHES: dict[str, Callable[[int], dict[str, Any]]] = {
    "redis": lambda port: {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{port}/0",
        "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
    },
    "django_redis": lambda port: {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{port}/1",
        "OPTIONS": {"SOCKET_TIMEOUT": 0.5, "SOCKET_CONNECT_TIMEOUT": 0.5},
    },
    "memcached": lambda port: {
        "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
        "LOCATION": f"127.0.0.1:{port}",
        "OPTIONS": {"connect_timeout": 0.5, "timeout": 0.5, "retry_attempts": 1, "dead_timeout": 0},
    },
    "pylibmc": lambda port: {
        "BACKEND": "django.core.cache.backends.memcached.PyLibMCCache",
        "LOCATION": f"127.0.0.1:{port}",
        "OPTIONS": {
            "behaviors": {
                "connect_timeout": 500,
                "receive_timeout": 500_000,
                "send_timeout": 500_000,
                "_poll_timeout": 500,
            }
        },
    },
}


@pytest.fixture(params=SHARED_BACKENDS)
def hung_server(request: pytest.FixtureRequest, settings: Any) -> Iterator[HungServer]:
    hung = HungServer()
    settings.CACHES = {
        "default": cache_config("locmem", None),
        ALIAS: HUNG_CACHES[request.param](hung.port),
    }
    settings.RATELIMIT_USE_CACHE = ALIAS
    try:
        yield hung
    finally:
        hung.close()


@pytest.mark.parametrize("fail_open", [False, True])
def test_a_hung_server_costs_a_timeout_not_a_hang(
    hung_server: HungServer, settings: Any, fail_open: bool, caplog: pytest.LogCaptureFixture
) -> None:
    settings.RATELIMIT_FAIL_OPEN = fail_open

    started = time.monotonic()
    limited = is_ratelimited(client_request(), group="g", key="ip", rate="100/m", increment=True)
    elapsed = time.monotonic() - started

    assert limited is not fail_open
    assert elapsed < HUNG_SERVER_BOUND, f"the check took {elapsed:.2f}s"
    assert hung_server.accepted  # the client really connected and waited for an answer
    level = logging.WARNING if fail_open else logging.ERROR
    assert len(records(caplog, level)) == 1
