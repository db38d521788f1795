"""The counting adapters on every backend, against real servers."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import caches

from drf_ratelimit.backends import WindowHit, counter_for
from drf_ratelimit.backends.generic import AddIncrCounter
from drf_ratelimit.backends.memcached import MemcachedCounter
from drf_ratelimit.backends.redis import RedisCounter
from tests.conftest import Backend, install_backend
from tests.servers import RedisServer


def test_counts_from_one_and_reads_without_writing(backend: Backend) -> None:
    counter = counter_for(backend.cache)
    assert counter.count([WindowHit("k", 0, 60)]) == [0]
    assert backend.cache.get("k") is None
    assert counter.count([WindowHit("k", 1, 60)]) == [1]
    assert counter.count([WindowHit("k", 3, 60)]) == [4]
    assert counter.count([WindowHit("k", 0, 60)]) == [4]


def test_several_keys_in_one_call(backend: Backend) -> None:
    counter = counter_for(backend.cache)
    assert counter.count([WindowHit("a", 1, 60), WindowHit("b", 2, 60)]) == [1, 2]
    assert counter.count([WindowHit("a", 1, 60), WindowHit("b", 2, 60)]) == [2, 4]


def test_counter_is_readable_through_the_django_cache(backend: Backend) -> None:
    counter_for(backend.cache).count([WindowHit("k", 5, 60)])
    assert backend.cache.get("k") == 5


@pytest.mark.parametrize("name", ["redis", "django_redis"])
def test_redis_key_gets_its_expiry_in_the_same_call(
    name: str, request: pytest.FixtureRequest, settings: object
) -> None:
    backend = install_backend(request, settings, name)
    counter_for(backend.cache).count([WindowHit("k", 1, 65)])
    ttl = backend.cache.ttl("k") if name == "django_redis" else None
    if ttl is None:
        import redis

        assert backend.server is not None
        client = redis.Redis(port=backend.server.port)
        ttl = client.ttl(backend.cache.make_key("k"))
    assert 60 < ttl <= 65


@pytest.mark.parametrize(
    ("name", "adapter"),
    [
        ("locmem", AddIncrCounter),
        ("redis", RedisCounter),
        ("django_redis", RedisCounter),
        ("memcached", MemcachedCounter),
    ],
)
def test_each_backend_gets_its_atomic_adapter(
    name: str, adapter: type, request: pytest.FixtureRequest, settings: object
) -> None:
    backend = install_backend(request, settings, name)
    assert isinstance(counter_for(backend.cache), adapter)


# django-redis's own ShardClient.add warns about its internal set() call.
@pytest.mark.filterwarnings("ignore:set on sharded client:UserWarning")
def test_django_redis_sharded_client_falls_back_to_add_incr(
    redis_server: RedisServer, settings: Any
) -> None:
    """One script cannot see keys spread over shards; add+incr stays atomic per key."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "sharded": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": [redis_server.url[:-1] + "2", redis_server.url[:-1] + "3"],
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.ShardClient"},
        },
    }
    cache = caches["sharded"]
    cache.clear()
    counter = counter_for(cache)
    assert isinstance(counter, AddIncrCounter)
    assert counter.count([WindowHit("a", 1, 60), WindowHit("b", 1, 60)]) == [1, 1]
    assert counter.count([WindowHit("a", 2, 60)]) == [3]


def test_the_default_cache_proxy_resolves_to_its_backend(
    request: pytest.FixtureRequest, settings: Any
) -> None:
    from django.core.cache import cache

    install_backend(request, settings, "redis")
    settings.CACHES = {"default": settings.CACHES["redis"]}
    assert isinstance(counter_for(cache), RedisCounter)
