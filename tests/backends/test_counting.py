"""The cache adapters on every backend, against real servers.

The counter primitives (memcached and local memory) and the choice of store;
the algorithms themselves are tested through the engine in test_algorithms.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import caches

from drf_ratelimit.backends import Batch, Slot, WindowHit, store_for
from drf_ratelimit.backends.base import Counter
from drf_ratelimit.backends.counting import CounterStore
from drf_ratelimit.backends.generic import AddIncrCounter
from drf_ratelimit.backends.memcached import MemcachedCounter
from drf_ratelimit.backends.redis import RedisStore
from drf_ratelimit.backends.swap import LocMemSwapper, MemcachedSwapper
from tests.conftest import Backend, install_backend
from tests.servers import RedisServer

COUNTER_BACKENDS = ["locmem", "memcached", "pylibmc"]


@pytest.fixture(params=COUNTER_BACKENDS)
def counter_backend(request: pytest.FixtureRequest, settings: Any) -> Backend:
    return install_backend(request, settings, request.param)


def counter_for(cache: Any) -> Counter:
    store = store_for(cache)
    assert isinstance(store, CounterStore)
    return store.counter


def test_counts_from_one_and_reads_without_writing(counter_backend: Backend) -> None:
    backend = counter_backend
    counter = counter_for(backend.cache)
    assert counter.count([WindowHit("k", 0, 60)]) == [0]
    assert backend.cache.get("k") is None
    assert counter.count([WindowHit("k", 1, 60)]) == [1]
    assert counter.count([WindowHit("k", 3, 60)]) == [4]
    assert counter.count([WindowHit("k", 0, 60)]) == [4]


def test_several_keys_in_one_call(counter_backend: Backend) -> None:
    counter = counter_for(counter_backend.cache)
    assert counter.count([WindowHit("a", 1, 60), WindowHit("b", 2, 60)]) == [1, 2]
    assert counter.count([WindowHit("a", 1, 60), WindowHit("b", 2, 60)]) == [2, 4]


def test_counter_is_readable_through_the_django_cache(counter_backend: Backend) -> None:
    counter_for(counter_backend.cache).count([WindowHit("k", 5, 60)])
    assert counter_backend.cache.get("k") == 5


def test_a_negative_hit_gives_back_and_a_vanished_key_gives_nothing(
    counter_backend: Backend,
) -> None:
    counter = counter_for(counter_backend.cache)
    counter.count([WindowHit("k", 3, 60)])
    assert counter.count([WindowHit("k", -2, 60)]) == [1]
    assert counter.count([WindowHit("gone", -1, 60)]) == [0]
    assert counter_backend.cache.get("gone") is None


def test_fixed_window_keys_are_readable_through_the_django_cache(backend: Backend) -> None:
    """Every store keeps the fixed window as a plain integer under the Django key,
    which is what lets django-ratelimit's counters carry over."""
    batch = Batch([Slot("k", 10, 60, timeout=65)], cost=5, count_denied=False, now_us=0)
    store_for(backend.cache).run("fixed-window", batch)
    assert backend.cache.get("k") == 5


@pytest.mark.parametrize("name", ["redis", "django_redis"])
def test_redis_key_gets_its_expiry_in_the_same_call(
    name: str, request: pytest.FixtureRequest, settings: object
) -> None:
    backend = install_backend(request, settings, name)
    batch = Batch([Slot("k", 10, 60, timeout=65)], cost=1, count_denied=False, now_us=0)
    store_for(backend.cache).run("fixed-window", batch)
    ttl = backend.cache.ttl("k") if name == "django_redis" else None
    if ttl is None:
        import redis

        assert backend.server is not None
        client = redis.Redis(port=backend.server.port)
        ttl = client.ttl(backend.cache.make_key("k"))
    assert 60 < ttl <= 65


@pytest.mark.parametrize(
    ("name", "counter", "swapper"),
    [
        ("locmem", AddIncrCounter, LocMemSwapper),
        ("memcached", MemcachedCounter, MemcachedSwapper),
    ],
)
def test_each_cache_backend_gets_its_atomic_adapters(
    name: str, counter: type, swapper: type, request: pytest.FixtureRequest, settings: object
) -> None:
    store = store_for(install_backend(request, settings, name).cache)
    assert isinstance(store, CounterStore)
    assert isinstance(store.counter, counter)
    assert isinstance(store.swapper, swapper)
    assert store.algorithms == {"fixed-window", "sliding-window", "token-bucket"}


def test_pylibmc_counts_windows_but_has_no_token_bucket(
    request: pytest.FixtureRequest, settings: object
) -> None:
    store = store_for(install_backend(request, settings, "pylibmc").cache)
    assert isinstance(store, CounterStore)
    assert isinstance(store.counter, MemcachedCounter)
    assert store.swapper is None
    assert store.algorithms == {"fixed-window", "sliding-window"}


@pytest.mark.parametrize("name", ["redis", "django_redis"])
def test_redis_backends_run_every_algorithm_as_a_script(
    name: str, request: pytest.FixtureRequest, settings: object
) -> None:
    store = store_for(install_backend(request, settings, name).cache)
    assert isinstance(store, RedisStore)
    assert store.algorithms == {"fixed-window", "sliding-window", "token-bucket"}


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
    # No compare-and-swap through django-redis: the token bucket is refused (E007).
    assert store_for(cache).algorithms == {"fixed-window", "sliding-window"}
    assert counter.count([WindowHit("a", 1, 60), WindowHit("b", 1, 60)]) == [1, 1]
    assert counter.count([WindowHit("a", 2, 60)]) == [3]


def test_the_default_cache_proxy_resolves_to_its_backend(
    request: pytest.FixtureRequest, settings: Any
) -> None:
    from django.core.cache import cache

    install_backend(request, settings, "redis")
    settings.CACHES = {"default": settings.CACHES["redis"]}
    assert isinstance(store_for(cache), RedisStore)
