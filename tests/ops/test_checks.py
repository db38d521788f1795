"""System checks: the cache behind the limits, and every declared rate and key."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import checks
from django.core.checks.registry import registry as check_registry

from drf_ratelimit._engine.declarations import DECLARED, THROTTLE, Declaration
from drf_ratelimit._ops.checks import (
    check_algorithms,
    check_cache,
    check_declared_limits,
    check_default_throttles,
    check_hash_tags,
    check_log_memory,
    check_settings,
    check_throttle_rates,
)
from drf_ratelimit.decorators import ratelimit

LOCMEM = "django.core.cache.backends.locmem.LocMemCache"


@pytest.fixture(autouse=True)
def declarations() -> Iterator[list[Declaration]]:
    """An empty registry for each test; the real one is put back afterwards."""
    saved = list(DECLARED)
    DECLARED.clear()
    yield DECLARED
    DECLARED[:] = saved


def declare(where: str, key: Any, rate: Any, algorithm: str | None = None) -> None:
    """What a throttle class records when it is defined."""
    DECLARED.append(Declaration(THROTTLE, where, key, rate, algorithm=algorithm))


def ids(messages: list[checks.CheckMessage]) -> list[str | None]:
    return [message.id for message in messages]


def use_cache(settings: Any, backend: str, alias: str = "default", **extra: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": LOCMEM}, alias: {"BACKEND": backend, **extra}}
    settings.RATELIMIT_USE_CACHE = alias


def test_both_checks_are_registered() -> None:
    registered = check_registry.get_checks()

    assert check_cache in registered
    assert check_declared_limits in registered
    assert check_registry.tag_exists("drf_ratelimit")


def test_e001_no_caches(settings: Any) -> None:
    settings.CACHES = {}
    messages = check_cache()

    assert ids(messages) == ["drf_ratelimit.E001"]
    assert messages[0].level == checks.ERROR


def test_e002_unknown_alias(settings: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": LOCMEM}}
    settings.RATELIMIT_USE_CACHE = "ratelimit"
    messages = check_cache()

    assert ids(messages) == ["drf_ratelimit.E002"]
    assert messages[0].level == checks.ERROR
    assert "'ratelimit'" in messages[0].msg
    assert "'default'" in (messages[0].hint or "")


def test_the_default_alias_is_checked_when_the_setting_is_absent(settings: Any) -> None:
    del settings.RATELIMIT_USE_CACHE
    settings.CACHES = {"other": {"BACKEND": LOCMEM}}

    assert ids(check_cache()) == ["drf_ratelimit.E002"]


def test_e003_dummy_cache(settings: Any) -> None:
    use_cache(settings, "django.core.cache.backends.dummy.DummyCache", alias="rl")
    messages = check_cache()

    assert ids(messages) == ["drf_ratelimit.E003"]
    assert messages[0].level == checks.ERROR
    assert "'rl'" in messages[0].msg


@pytest.mark.parametrize(
    ("backend", "extra"),
    [
        ("django.core.cache.backends.db.DatabaseCache", {"LOCATION": "cache_table"}),
        ("django.core.cache.backends.filebased.FileBasedCache", {"LOCATION": "/tmp/rl"}),
    ],
)
def test_e004_caches_without_atomic_increment(
    settings: Any, backend: str, extra: dict[str, str]
) -> None:
    use_cache(settings, backend, **extra)
    messages = check_cache()

    assert ids(messages) == ["drf_ratelimit.E004"]
    assert messages[0].level == checks.ERROR
    assert "atomic" in messages[0].msg


def test_w001_local_memory(settings: Any) -> None:
    use_cache(settings, LOCMEM)
    messages = check_cache()

    assert ids(messages) == ["drf_ratelimit.W001"]
    assert messages[0].level == checks.WARNING


def test_w002_an_unknown_backend(settings: Any) -> None:
    use_cache(settings, "tests.helpers.UnknownCache")
    messages = check_cache()

    assert ids(messages) == ["drf_ratelimit.W002"]
    assert messages[0].level == checks.WARNING
    assert "tests.helpers.UnknownCache" in messages[0].msg


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.cache.backends.redis.RedisCache",
        "django_redis.cache.RedisCache",
        "django.core.cache.backends.memcached.PyMemcacheCache",
        "django.core.cache.backends.memcached.PyLibMCCache",
        "tests.helpers.SubclassedRedisCache",
    ],
)
def test_atomic_backends_pass(settings: Any, backend: str) -> None:
    use_cache(settings, backend, LOCATION="redis://127.0.0.1:1/0")

    assert check_cache() == []


def test_an_unimportable_backend_is_left_to_djangos_own_checks(settings: Any) -> None:
    use_cache(settings, "nowhere.Cache")

    assert check_cache() == []


def test_no_declarations_no_errors() -> None:
    assert check_declared_limits() == []


def test_valid_declarations_pass() -> None:
    ratelimit(key="ip", rate="5/m")(lambda request: None)
    ratelimit(key="tests.helpers.mykey", rate="tests.helpers.callable_rate")(lambda request: None)
    ratelimit(key=lambda group, request: "k", rate=lambda group, request: "1/s")(lambda r: None)
    declare("a throttle", "user_or_ip", (10, 60))
    declare("no rate", None, None)

    assert len(DECLARED) == 5
    assert check_declared_limits() == []


def test_the_decorator_records_where_it_was_used() -> None:
    def login(request: Any) -> None: ...

    ratelimit(key="ip", rate="5/m")(login)

    [declaration] = DECLARED
    assert "test_the_decorator_records_where_it_was_used.<locals>.login" in declaration.where
    assert (declaration.key, declaration.rate) == ("ip", "5/m")


@pytest.mark.parametrize(
    ("key", "rate", "quoted"),
    [
        ("field:x", "5/m", "'field:x'"),
        ("nodots", "5/m", "'nodots'"),
        ("ip", "tests.helpers.no_such_rate", "'tests.helpers.no_such_rate'"),
        ("ip", "nowhere_at_all.rate", "'nowhere_at_all.rate'"),
        ("tests.helpers.no_such_key", "5/m", "'tests.helpers.no_such_key'"),
        ("ip", "5/M", "'5/M'"),
        ("ip", (5, 0), "(5, 0)"),
    ],
)
def test_e005_a_declared_rate_or_key_that_does_not_parse(key: Any, rate: Any, quoted: str) -> None:
    declare("SomeThrottle", "ip", "5/m")
    declare("BadThrottle", key, rate)

    messages = check_declared_limits()

    assert ids(messages) == ["drf_ratelimit.E005"]
    assert messages[0].level == checks.ERROR
    assert messages[0].msg.startswith("BadThrottle: ")
    assert quoted in messages[0].msg


def test_e005_reports_every_bad_declaration() -> None:
    declare("one", "field:x", "5/m")
    declare("two", "ip", "tests.helpers.no_such_rate")

    assert [message.msg.split(":")[0] for message in check_declared_limits()] == ["one", "two"]


def test_the_throttle_checks_are_registered() -> None:
    registered = check_registry.get_checks()

    assert check_throttle_rates in registered
    assert check_default_throttles in registered


def test_e006_valid_throttle_rates_pass(settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        "DEFAULT_THROTTLE_RATES": {"anon": "100/15m", "user": None, "burst": ["10/s", "1000/d"]}
    }

    assert check_throttle_rates() == []


def test_e006_drfs_default_rates_pass(settings: Any) -> None:
    settings.REST_FRAMEWORK = {}

    assert check_throttle_rates() == []


@pytest.mark.parametrize("rate", ["10/x", "bogus", "10/S", ["10/s", "1.5/m"], 7])
def test_e006_a_throttle_rate_that_does_not_parse(settings: Any, rate: Any) -> None:
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"anon": "5/m", "login": rate}}
    messages = check_throttle_rates()

    assert ids(messages) == ["drf_ratelimit.E006"]
    assert "REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['login']" in messages[0].msg


def test_e006_rates_that_are_not_a_dict(settings: Any) -> None:
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": ["5/m"]}
    messages = check_throttle_rates()

    assert ids(messages) == ["drf_ratelimit.E006"]
    assert "must be a dict" in messages[0].msg


@pytest.mark.parametrize(
    "path",
    [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.ScopedRateThrottle",
    ],
)
def test_w003_drfs_own_rate_throttles(settings: Any, path: str) -> None:
    settings.REST_FRAMEWORK = {
        "DEFAULT_THROTTLE_CLASSES": ["drf_ratelimit.throttles.AnonRateThrottle", path]
    }
    messages = check_default_throttles()

    assert ids(messages) == ["drf_ratelimit.W003"]
    name = path.rpartition(".")[2]
    assert name in messages[0].msg
    assert f"drf_ratelimit.throttles.{name}" in messages[0].hint


def test_w003_a_subclass_of_drfs_throttle_passed_as_a_class(settings: Any) -> None:
    from rest_framework.throttling import SimpleRateThrottle

    class Custom(SimpleRateThrottle):
        scope = "custom"

    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_CLASSES": [Custom]}

    assert ids(check_default_throttles()) == ["drf_ratelimit.W003"]


@pytest.mark.parametrize(
    "classes",
    [
        [],
        ["drf_ratelimit.throttles.UserRateThrottle", "drf_ratelimit.throttles.RatelimitThrottle"],
        ["rest_framework.throttling.BaseThrottle"],
        ["no.such.Throttle"],
    ],
)
def test_w003_silent_for_other_throttles(settings: Any, classes: list[str]) -> None:
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_CLASSES": classes}

    assert check_default_throttles() == []


def test_e005_a_throttle_class_with_a_dotted_rate_that_does_not_import() -> None:
    from drf_ratelimit.throttles import RatelimitThrottle

    class Login(RatelimitThrottle):
        rate = "tests.helpers.no_such_rate"

    messages = check_declared_limits()

    assert ids(messages) == ["drf_ratelimit.E005"]
    assert "Login" in messages[0].msg
    assert "no_such_rate" in messages[0].msg


# --- algorithms ------------------------------------------------------------------------------


def test_e007_an_unknown_project_algorithm(settings: Any) -> None:
    settings.RATELIMIT_ALGORITHM = "leaky-bucket"
    messages = check_algorithms()

    assert ids(messages) == ["drf_ratelimit.E007"]
    assert "RATELIMIT_ALGORITHM='leaky-bucket'" in messages[0].msg


def test_e007_count_denied_must_be_a_bool(settings: Any) -> None:
    settings.RATELIMIT_COUNT_DENIED = "yes"

    assert ids(check_algorithms()) == ["drf_ratelimit.E007"]


@pytest.mark.parametrize(
    ("backend", "expected"),
    [
        (LOCMEM, []),
        ("django.core.cache.backends.redis.RedisCache", []),
        ("django.core.cache.backends.memcached.PyMemcacheCache", []),
        ("django.core.cache.backends.filebased.FileBasedCache", ["drf_ratelimit.E008"]),
    ],
)
def test_e008_the_token_bucket_needs_a_cache_that_can_swap(
    settings: Any, tmp_path: Any, backend: str, expected: list[str]
) -> None:
    use_cache(settings, backend, alias="limits", LOCATION=str(tmp_path))

    @ratelimit(key="ip", rate="5/m", algorithm="token-bucket")
    def view(request: Any) -> None: ...

    @ratelimit(key="ip", rate="5/m", algorithm="sliding-window")
    def other(request: Any) -> None: ...

    messages = check_algorithms()
    assert ids(messages) == expected
    if expected:
        assert "'token-bucket'" in messages[0].msg and "view" in messages[0].msg


def test_e008_follows_the_project_default_for_limits_that_name_no_algorithm(
    settings: Any, tmp_path: Any
) -> None:
    use_cache(
        settings, "django.core.cache.backends.filebased.FileBasedCache", LOCATION=str(tmp_path)
    )

    @ratelimit(key="ip", rate="5/m")
    def view(request: Any) -> None: ...

    assert check_algorithms() == []
    settings.RATELIMIT_ALGORITHM = "token-bucket"
    messages = check_algorithms()
    assert ids(messages) == ["drf_ratelimit.E008", "drf_ratelimit.E008"]
    assert {m.msg.split(":")[0] for m in messages} >= {"RATELIMIT_ALGORITHM"}


PYLIBMC = "django.core.cache.backends.memcached.PyLibMCCache"


def test_e008_a_drop_in_subclass_on_pylibmc_is_refused(settings: Any) -> None:
    """The drop-ins' default, the sliding log, needs compare-and-swap."""
    from drf_ratelimit.throttles import AnonRateThrottle

    use_cache(settings, PYLIBMC, LOCATION="127.0.0.1:1")

    class LoginThrottle(AnonRateThrottle):
        rate = "5/m"

    messages = check_algorithms()
    assert ids(messages) == ["drf_ratelimit.E008"]
    assert "LoginThrottle" in messages[0].msg and "'sliding-log'" in messages[0].msg
    assert "sliding-window" in str(messages[0].hint)
    settings.RATELIMIT_ALGORITHM = "sliding-window"
    assert check_algorithms() == []


def test_e008_sees_the_packages_own_classes_in_default_throttle_classes(settings: Any) -> None:
    use_cache(settings, PYLIBMC, LOCATION="127.0.0.1:1")
    assert check_algorithms() == []  # importing the drop-ins declares nothing
    settings.REST_FRAMEWORK = {
        "DEFAULT_THROTTLE_CLASSES": ["drf_ratelimit.throttles.UserRateThrottle"]
    }
    messages = check_algorithms()
    assert ids(messages) == ["drf_ratelimit.E008"]
    assert "DEFAULT_THROTTLE_CLASSES: UserRateThrottle" in messages[0].msg


def test_w004_a_long_sliding_log_is_pointed_out(settings: Any) -> None:
    from drf_ratelimit.throttles import ScopedRateThrottle, UserRateThrottle

    class Sustained(UserRateThrottle):
        rate = "5000/day"

    class Burst(UserRateThrottle):
        rate = "60/min"

    class Flat(UserRateThrottle):
        rate = "5000/day"
        algorithm = "sliding-window"

    messages = check_log_memory()
    assert ids(messages) == ["drf_ratelimit.W004"]
    assert "Sustained" in messages[0].msg and "5,000 entries" in messages[0].msg
    assert "sliding-window" in str(messages[0].hint)

    class ByView(ScopedRateThrottle):
        pass

    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"uploads": "2000/h", "login": "5/m"}}
    messages = check_log_memory()
    assert ids(messages) == ["drf_ratelimit.W004"] * 2
    assert "['uploads']" in messages[1].msg
    settings.RATELIMIT_ALGORITHM = "sliding-window"
    assert check_log_memory() == []


def test_w004_sees_the_packages_own_classes_in_default_throttle_classes(settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        "DEFAULT_THROTTLE_CLASSES": ["drf_ratelimit.throttles.UserRateThrottle"],
        "DEFAULT_THROTTLE_RATES": {"user": "5000/day", "anon": "10/min"},
    }
    messages = check_log_memory()
    assert ids(messages) == ["drf_ratelimit.W004"]
    assert "['user']" in messages[0].msg


def test_e009_every_other_setting_is_validated_at_start_up(settings: Any) -> None:
    """Each bad setting is its own error, with the message a request would raise."""
    assert check_settings() == []
    settings.RATELIMIT_IPV4_MASK = 33
    settings.RATELIMIT_CACHE_PREFIX = b"rl:"
    settings.RATELIMIT_EXCEPTION_CLASS = "json.dumps"
    messages = check_settings()
    assert ids(messages) == ["drf_ratelimit.E009"] * 3
    text = " ".join(message.msg for message in messages)
    for setting in ("RATELIMIT_IPV4_MASK=33", "RATELIMIT_CACHE_PREFIX=b'rl:'", "'json.dumps'"):
        assert setting in text


def test_e009_leaves_the_settings_other_checks_report_to_them(settings: Any) -> None:
    settings.RATELIMIT_USE_CACHE = 3  # E002
    settings.RATELIMIT_ALGORITHM = "leaky"  # E007
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": ["5/m"]}  # E006
    assert check_settings() == []
    assert ids(check_cache()) == ["drf_ratelimit.E002"]


def hashing_key_function(key: str, key_prefix: str, version: int) -> str:
    """A KEY_FUNCTION that hides the key (and its hash tag) in a digest."""
    return hashlib.md5(f"{key_prefix}:{version}:{key}".encode()).hexdigest()


SHARDED = {
    "BACKEND": "django_redis.cache.RedisCache",
    "LOCATION": ["redis://127.0.0.1:1/0", "redis://127.0.0.1:1/1"],
    "OPTIONS": {"CLIENT_CLASS": "django_redis.client.ShardClient"},
}


def test_e010_a_key_function_that_loses_the_hash_tag_on_a_sharded_cache(settings: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": LOCMEM}, "sharded": dict(SHARDED)}
    settings.RATELIMIT_USE_CACHE = "sharded"
    assert check_hash_tags() == []
    settings.CACHES = {
        "default": {"BACKEND": LOCMEM},
        "sharded": {**SHARDED, "KEY_FUNCTION": f"{__name__}.hashing_key_function"},
    }
    messages = check_hash_tags()
    assert ids(messages) == ["drf_ratelimit.E010"]
    assert "'sharded'" in messages[0].msg and "hash tag" in messages[0].msg


def test_no_hash_tag_check_on_a_single_redis(settings: Any) -> None:
    use_cache(
        settings,
        "django.core.cache.backends.redis.RedisCache",
        LOCATION="redis://127.0.0.1:1",
        KEY_FUNCTION=f"{__name__}.hashing_key_function",
    )
    assert check_hash_tags() == []


CLUSTER = {"BACKEND": "drf_ratelimit.cluster.RedisClusterCache", "LOCATION": "redis://127.0.0.1:1"}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, []),
        ({"KEY_PREFIX": "site"}, []),
        ({"KEY_PREFIX": "{tenant1}"}, ["drf_ratelimit.W005"]),
        ({"KEY_FUNCTION": f"{__name__}.hashing_key_function"}, ["drf_ratelimit.E010"]),
    ],
    ids=["plain", "prefix", "braced-prefix", "hashing-key-function"],
)
def test_hash_tags_on_a_redis_cluster(
    settings: Any, extra: dict[str, Any], expected: list[str]
) -> None:
    settings.CACHES = {"default": {"BACKEND": LOCMEM}, "cluster": {**CLUSTER, **extra}}
    settings.RATELIMIT_USE_CACHE = "cluster"
    messages = check_hash_tags()
    assert ids(messages) == expected
    if expected == ["drf_ratelimit.W005"]:
        assert "{tenant1}" in messages[0].msg and "one slot" in messages[0].msg
