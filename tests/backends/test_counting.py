"""The counting adapters on every backend, against real servers."""

from __future__ import annotations

import pytest

from drf_ratelimit.backends import WindowHit, counter_for
from tests.conftest import Backend


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
    from tests.conftest import install_backend

    backend = install_backend(request, settings, name)
    counter_for(backend.cache).count([WindowHit("k", 1, 65)])
    ttl = backend.cache.ttl("k") if name == "django_redis" else None
    if ttl is None:
        import redis

        assert backend.server is not None
        client = redis.Redis(port=backend.server.port)
        ttl = client.ttl(backend.cache.make_key("k"))
    assert 60 < ttl <= 65
