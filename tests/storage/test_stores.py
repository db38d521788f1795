"""The cache adapters on every backend, against real servers.

The counter primitives (memcached, and any cache through Django's API) and
the choice of store; the algorithms themselves are tested through the engine
in tests/algorithms/test_on_every_backend.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import caches

from drf_ratelimit._algorithms import ALIGNED_FIXED_WINDOW, SLIDING_WINDOW, TOKEN_BUCKET
from drf_ratelimit._algorithms.base import Charge, Counters
from drf_ratelimit._spec.rates import Rate
from drf_ratelimit._storage import Quotas, store_for
from drf_ratelimit._storage.counters import CounterStore, DjangoCounters
from drf_ratelimit._storage.locmem import LockedStore, LocMemSwapper
from drf_ratelimit._storage.memcached import MemcachedSwapper, PyMemcacheCounters
from drf_ratelimit._storage.redis import RedisStore
from tests.conftest import Backend, install_backend
from tests.servers import RedisServer

COUNTER_BACKENDS = ["subclassed_locmem", "memcached", "pylibmc"]
ALL_ALGORITHMS = (ALIGNED_FIXED_WINDOW, SLIDING_WINDOW, TOKEN_BUCKET)
SUBCLASSED_LOCMEM = {"BACKEND": "tests.helpers.SubclassedLocMemCache", "LOCATION": "subclassed"}


@pytest.fixture(params=COUNTER_BACKENDS)
def counter_backend(request: pytest.FixtureRequest, settings: Any) -> Backend:
    if request.param == "subclassed_locmem":
        settings.CACHES = {"default": SUBCLASSED_LOCMEM}
        settings.RATELIMIT_USE_CACHE = "default"
        caches["default"].clear()
        return Backend("subclassed_locmem", "default", None)
    return install_backend(request, settings, request.param)


def counters_for(cache: Any) -> Counters:
    store = store_for(cache)
    assert isinstance(store, CounterStore)
    return store.counters


def test_counts_from_one_and_reads_without_writing(counter_backend: Backend) -> None:
    backend = counter_backend
    counters = counters_for(backend.cache)
    assert counters.add(["k"], 0, [60]) == [0]
    assert backend.cache.get("k") is None
    assert counters.add(["k"], 1, [60]) == [1]
    assert counters.add(["k"], 3, [60]) == [4]
    assert counters.add(["k"], 0, [60]) == [4]


def test_several_keys_in_one_call(counter_backend: Backend) -> None:
    counters = counters_for(counter_backend.cache)
    assert counters.add(["a", "b"], 2, [60, 60]) == [2, 2]
    assert counters.add(["a", "b"], 1, [60, 60]) == [3, 3]


def test_counter_is_readable_through_the_django_cache(counter_backend: Backend) -> None:
    counters_for(counter_backend.cache).add(["k"], 5, [60])
    assert counter_backend.cache.get("k") == 5


def test_giving_back_and_a_vanished_key_gives_nothing(counter_backend: Backend) -> None:
    counters = counters_for(counter_backend.cache)
    counters.add(["k"], 3, [60])
    counters.give_back(["k", "gone"], 2)
    assert counters.add(["k"], 0, [60]) == [1]
    assert counter_backend.cache.get("gone") is None


def test_a_closed_window_is_read_once(counter_backend: Backend) -> None:
    """A window that has ended is remembered; one still open is read every time."""
    counters = counters_for(counter_backend.cache)
    counters.add(["w"], 2, [60])
    assert counters.read_closed("w", closed=False) == 2
    counters.add(["w"], 1, [60])
    assert counters.read_closed("w", closed=False) == 3
    assert counters.read_closed("w", closed=True) == 3
    counters.add(["w"], 1, [60])  # a late write the process no longer sees
    assert counters.read_closed("w", closed=True) == 3
    assert counters.read_closed("w", closed=False) == 4


def test_fixed_window_keys_are_readable_through_the_django_cache(backend: Backend) -> None:
    """Every store keeps the fixed window as a plain integer under the Django key,
    which is what lets django-ratelimit's counters carry over."""
    quotas = Quotas.compile(ALIGNED_FIXED_WINDOW, [Rate(10, 60)], None)
    store_for(backend.cache).run(quotas, Charge(["k"], 5, False, 0))
    assert backend.cache.get("k") == 5


@pytest.mark.parametrize("name", ["redis", "django_redis"])
def test_redis_key_gets_its_expiry_in_the_same_call(
    name: str, request: pytest.FixtureRequest, settings: object
) -> None:
    backend = install_backend(request, settings, name)
    quotas = Quotas.compile(ALIGNED_FIXED_WINDOW, [Rate(10, 60)], None)
    store_for(backend.cache).run(quotas, Charge(["k"], 1, False, 0))
    ttl = backend.cache.ttl("k") if name == "django_redis" else None
    if ttl is None:
        import redis

        assert backend.server is not None
        client = redis.Redis(port=backend.server.port)
        ttl = client.ttl(backend.cache.make_key("k"))
    assert 60 < ttl <= 65


def test_each_cache_backend_gets_its_atomic_store(
    request: pytest.FixtureRequest, settings: Any
) -> None:
    memcached = store_for(install_backend(request, settings, "memcached").cache)
    assert isinstance(memcached, CounterStore)
    assert isinstance(memcached.counters, PyMemcacheCounters)
    assert isinstance(memcached.swapper, MemcachedSwapper)
    assert all(memcached.accepts(algorithm) for algorithm in ALL_ALGORITHMS)
    locmem = store_for(install_backend(request, settings, "locmem").cache)
    assert isinstance(locmem, LockedStore)
    assert all(locmem.accepts(algorithm) for algorithm in ALL_ALGORITHMS)


def test_an_unknown_local_memory_class_goes_through_the_cache_api(settings: Any) -> None:
    settings.CACHES = {"default": SUBCLASSED_LOCMEM}
    store = store_for(caches["default"])
    assert isinstance(store, CounterStore)
    assert isinstance(store.counters, DjangoCounters)
    assert isinstance(store.swapper, LocMemSwapper)
    assert all(store.accepts(algorithm) for algorithm in ALL_ALGORITHMS)


def test_pylibmc_counts_windows_but_has_no_token_bucket(
    request: pytest.FixtureRequest, settings: object
) -> None:
    store = store_for(install_backend(request, settings, "pylibmc").cache)
    assert isinstance(store, CounterStore)
    assert isinstance(store.counters, DjangoCounters)
    assert store.swapper is None
    assert [store.accepts(algorithm) for algorithm in ALL_ALGORITHMS] == [True, True, False]


@pytest.mark.parametrize("name", ["redis", "django_redis"])
def test_redis_backends_run_every_algorithm_as_a_script(
    name: str, request: pytest.FixtureRequest, settings: object
) -> None:
    store = store_for(install_backend(request, settings, name).cache)
    assert isinstance(store, RedisStore)
    assert all(store.accepts(algorithm) for algorithm in ALL_ALGORITHMS)


def test_django_redis_sharded_client_runs_scripts_on_the_checks_shard(
    redis_server: RedisServer, settings: Any
) -> None:
    """The keys of one check share a hash tag, which ShardClient hashes to pick
    a server: one script there sees them all, so every algorithm runs."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "sharded": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": [redis_server.url[:-1] + "2", redis_server.url[:-1] + "3"],
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.ShardClient"},
        },
    }
    store = store_for(caches["sharded"])
    assert isinstance(store, RedisStore)
    assert store.shard_of is not None
    assert all(store.accepts(algorithm) for algorithm in ALL_ALGORITHMS)


def test_the_default_cache_proxy_resolves_to_its_backend(
    request: pytest.FixtureRequest, settings: Any
) -> None:
    from django.core.cache import cache

    install_backend(request, settings, "redis")
    settings.CACHES = {"default": settings.CACHES["redis"]}
    assert isinstance(store_for(cache), RedisStore)
