from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from hypothesis import settings as hypothesis_settings

from drf_ratelimit.clock import FakeClock, use_clock
from tests.servers import REQUIRE_SERVERS, MemcachedServer, RedisServer, Server, find_binary

# CI (.ci/run sets DRF_RATELIMIT_REQUIRE_SERVERS) replays the same examples on
# every run, so a landing is never decided by a lucky draw; local runs keep
# exploring new ones.
hypothesis_settings.register_profile("ci", derandomize=True)
if REQUIRE_SERVERS:
    hypothesis_settings.load_profile("ci")

BACKENDS = ["locmem", "redis", "django_redis", "memcached", "pylibmc"]
SHARED_BACKENDS = ["redis", "django_redis", "memcached", "pylibmc"]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer(find_binary("redis-server"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def memcached_server() -> Iterator[MemcachedServer]:
    server = MemcachedServer(find_binary("memcached"))
    server.start()
    yield server
    server.stop()


def cache_config(name: str, server: Server | None) -> dict[str, Any]:
    """The CACHES entry for one backend under test."""
    if name == "locmem":
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "rl"}
    if name == "redis":
        assert isinstance(server, RedisServer)
        return {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
            "OPTIONS": {"socket_timeout": 2},
        }
    if name == "django_redis":
        assert isinstance(server, RedisServer)
        return {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": server.url[:-1] + "1",
            "OPTIONS": {"SOCKET_TIMEOUT": 2, "SOCKET_CONNECT_TIMEOUT": 2},
        }
    assert isinstance(server, MemcachedServer)
    if name == "pylibmc":
        return {
            "BACKEND": "django.core.cache.backends.memcached.PyLibMCCache",
            "LOCATION": server.location,
            "OPTIONS": {
                "behaviors": {
                    "connect_timeout": 2000,
                    "receive_timeout": 2_000_000,
                    "send_timeout": 2_000_000,
                }
            },
        }
    return {
        "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
        "LOCATION": server.location,
        "OPTIONS": {
            "connect_timeout": 2,
            "timeout": 2,
            "retry_attempts": 1,
            "retry_timeout": 0,
            "dead_timeout": 0,
        },
    }


@dataclass
class Backend:
    name: str
    alias: str
    server: Server | None

    @property
    def cache(self) -> BaseCache:
        return caches[self.alias]


def server_for(request: pytest.FixtureRequest, name: str) -> Server | None:
    if name in ("redis", "django_redis"):
        return request.getfixturevalue("redis_server")  # type: ignore[no-any-return]
    if name in ("memcached", "pylibmc"):
        return request.getfixturevalue("memcached_server")  # type: ignore[no-any-return]
    return None


def install_backend(request: pytest.FixtureRequest, settings: Any, name: str) -> Backend:
    server = server_for(request, name)
    settings.CACHES = {"default": cache_config("locmem", None), name: cache_config(name, server)}
    settings.RATELIMIT_USE_CACHE = name
    backend = Backend(name, name, server)
    backend.cache.clear()
    return backend


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, settings: Any) -> Backend:
    """Every backend-facing test runs once per backend, on a cleared cache."""
    return install_backend(request, settings, request.param)


@pytest.fixture(params=SHARED_BACKENDS)
def shared_backend(request: pytest.FixtureRequest, settings: Any) -> Backend:
    """The backends shared between processes (Redis and memcached)."""
    return install_backend(request, settings, request.param)


#: Why a test of the token bucket or the sliding log does not run on pylibmc.
NO_TOKEN_BUCKET_ON_PYLIBMC = (
    "pylibmc cannot run the token bucket or the sliding log (drf_ratelimit.E008)"
)
#: The algorithms that need compare-and-swap, which the package refuses on pylibmc.
SWAPPING_ALGORITHMS = ("token-bucket", "sliding-log")


def let_drop_ins_run_on(backend_name: str, settings: Any) -> None:
    """pylibmc refuses the drop-ins' default, the sliding log (E008): a test of
    something else that uses a drop-in there counts with the sliding window."""
    if backend_name == "pylibmc":
        settings.RATELIMIT_ALGORITHM = "sliding-window"


def skip_token_bucket_on_pylibmc(request: pytest.FixtureRequest, always: bool = False) -> None:
    """Skip a test whose parameters put the token bucket on pylibmc (which the
    package refuses; the refusal has tests of its own). ``always``: the test
    runs the token bucket whatever its ``algorithm`` parameter says."""
    callspec = getattr(request.node, "callspec", None)
    params = callspec.params if callspec is not None else {}
    on_pylibmc = "pylibmc" in (params.get(n) for n in ("backend", "shared_backend", "name"))
    if on_pylibmc and (always or any(a in params.values() for a in SWAPPING_ALGORITHMS)):
        pytest.skip(NO_TOKEN_BUCKET_ON_PYLIBMC)


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    """A frozen clock at a fixed second; advance it with ``clock.advance(s)``."""
    fake = FakeClock(1_700_000_000.0)
    with use_clock(fake):
        yield fake


@pytest.fixture(autouse=True)
def _clear_default_cache() -> None:
    caches["default"].clear()
