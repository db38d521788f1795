"""The servers and Django settings one benchmark run uses.

Each run starts its own redis-server and memcached (the helpers the test suite
uses), so numbers never depend on, or disturb, a server the machine already runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.servers import MemcachedServer, RedisServer, locate_binary

#: Cache aliases, in table order.
LOCMEM = "locmem"
REDIS = "redis"
DJANGO_REDIS = "django_redis"
MEMCACHED = "memcached"
BACKENDS = (LOCMEM, DJANGO_REDIS, REDIS, MEMCACHED)

LABELS = {
    LOCMEM: "LocMem (in process)",
    DJANGO_REDIS: "Redis via django-redis",
    REDIS: "Redis via Django's RedisCache",
    MEMCACHED: "memcached via PyMemcacheCache",
}


@dataclass(frozen=True)
class Servers:
    redis_port: int
    memcached_port: int


def require(name: str) -> str:
    path = locate_binary(name)
    if path is None:
        raise SystemExit(f"{name} not found; install it (apt-get install {name}) to run benchmarks")
    return path


@contextmanager
def servers() -> Iterator[Servers]:
    """A private redis-server and memcached for the length of the block."""
    redis_server = RedisServer(require("redis-server"))
    memcached_server = MemcachedServer(require("memcached"))
    redis_server.start()
    try:
        memcached_server.start()
        try:
            yield Servers(redis_server.port, memcached_server.port)
        finally:
            memcached_server.stop()
    finally:
        redis_server.stop()


def cache_settings(running: Servers) -> dict[str, dict[str, Any]]:
    """``CACHES``: one alias per backend, the two Redis clients on separate databases."""
    redis_url = f"redis://127.0.0.1:{running.redis_port}"
    return {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        LOCMEM: {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "bench",
            # The default (300 entries) would evict clients in the 10,000-client runs.
            "OPTIONS": {"MAX_ENTRIES": 10_000_000},
        },
        REDIS: {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"{redis_url}/0",
            "OPTIONS": {"socket_timeout": 5},
        },
        DJANGO_REDIS: {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"{redis_url}/1",
            "OPTIONS": {"SOCKET_TIMEOUT": 5},
        },
        MEMCACHED: {
            "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
            "LOCATION": f"127.0.0.1:{running.memcached_port}",
            "OPTIONS": {"timeout": 5, "connect_timeout": 5},
        },
    }


def configure_django(running: Servers) -> None:
    """Settings for the benchmark process: the caches above and DRF without authentication."""
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="benchmarks",
        USE_TZ=True,
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "rest_framework",
            "drf_ratelimit",
        ],
        CACHES=cache_settings(running),
        RATELIMIT_USE_CACHE=REDIS,
        REST_FRAMEWORK={
            "DEFAULT_AUTHENTICATION_CLASSES": [],
            "DEFAULT_PERMISSION_CLASSES": [],
            "UNAUTHENTICATED_USER": None,
        },
    )
    django.setup()
