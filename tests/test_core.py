"""core.get_usage / core.is_ratelimited: django-ratelimit 4.1's functional API,
its cache keys and its failure policy, on every backend."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from django.core.cache import InvalidCacheBackendError
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.test import RequestFactory

from drf_ratelimit import ALL, UNSAFE
from drf_ratelimit._engine import DECLARED
from drf_ratelimit.clock import FakeClock
from drf_ratelimit.core import get_usage, is_ratelimited
from drf_ratelimit.decorators import ratelimit
from drf_ratelimit.exceptions import InvalidRate, Ratelimited
from drf_ratelimit.usage import Usage
from tests.conftest import Backend
from tests.servers import free_port

rf = RequestFactory()

FAIL_CLOSED = {"count": 0, "limit": 0, "should_limit": True, "time_left": -1}

# django-ratelimit 4.1 golden vectors (reference section 5): at 1_700_000_000
# the window for 1.2.3.4 with a 60 s period ends at 1_700_000_057.
GOLDEN_GROUP = "myapp.views.login"
GOLDEN_END = 1_700_000_057
GOLDEN_KEY_ALL = "rl:92a2fa0c7220edcf033ebff3ad073a369bafbdc85e77e52470ce91f4004f13e9"
GOLDEN_KEY_POST_GET = "rl:f219a5431430ed38bd33716298cf401e4eacacfd92bbe3450d5028da3f2d8aa8"


@pytest.fixture(autouse=True)
def _restore_declarations() -> Iterator[None]:
    saved = list(DECLARED)
    yield
    DECLARED[:] = saved


def from_ip(ip: str = "1.2.3.4", method: str = "get") -> HttpRequest:
    request: HttpRequest = getattr(rf, method)("/")
    request.META["REMOTE_ADDR"] = ip
    return request


def usage_of(request: HttpRequest, **kwargs: Any) -> Usage:
    arguments: dict[str, Any] = {"group": "a", "key": "ip", "rate": "1/m"}
    arguments.update(kwargs)
    usage = get_usage(request, **arguments)
    assert usage is not None
    return usage


# --- arguments -----------------------------------------------------------------------


def test_get_usage_needs_a_group_or_a_function() -> None:
    with pytest.raises(ImproperlyConfigured, match="either `group` or `fn`"):
        get_usage(rf.get("/"), key="ip", rate="1/m")
    with pytest.raises(ImproperlyConfigured):
        is_ratelimited(rf.get("/"), key="ip", rate="1/m")


@pytest.mark.parametrize(
    ("key", "message"),
    [("field:x", "Unknown ratelimit key"), ("nodots", "Could not understand"), ("", "specified")],
)
def test_bad_keys_are_improperly_configured(
    backend: Backend, clock: FakeClock, key: str, message: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        get_usage(rf.get("/"), group="a", key=key, rate="1/m")


@pytest.mark.parametrize("rate", ["5/0", "1/0m", (5, 0), "abc", "5/M"])
def test_bad_rates_are_improperly_configured(backend: Backend, clock: FakeClock, rate: Any) -> None:
    with pytest.raises(InvalidRate) as excinfo:
        get_usage(rf.get("/"), group="a", key="ip", rate=rate)
    assert isinstance(excinfo.value, ImproperlyConfigured)
    assert repr(rate) in str(excinfo.value)


def test_no_limit_applies_returns_none(backend: Backend, clock: FakeClock, settings: Any) -> None:
    # A None rate is decided before the key is validated, as upstream.
    assert get_usage(rf.get("/"), group="a", key=None, rate=None, increment=True) is None
    assert get_usage(rf.get("/"), group="a", key="ip", rate="0/m", method="POST") is None
    assert not is_ratelimited(rf.get("/"), group="a", key="ip", rate="0/m", method=UNSAFE)
    settings.RATELIMIT_ENABLE = False
    assert get_usage(rf.get("/"), group="a", key="ip", rate="0/m", increment=True) is None
    assert is_ratelimited(rf.get("/"), group="a", key="ip", rate="0/m", increment=True) is False


def test_method_none_means_every_method(backend: Backend, clock: FakeClock) -> None:
    usage = get_usage(rf.delete("/"), group="a", key="ip", rate="1/m", method=None, increment=True)
    assert usage is not None and usage["count"] == 1
    assert usage_of(rf.get("/"), method=ALL)["count"] == 1, "None shares ALL's counter"


def test_group_is_derived_from_fn(backend: Backend, clock: FakeClock) -> None:
    def view(request: HttpRequest) -> None: ...

    get_usage(rf.get("/"), fn=view, key="ip", rate="5/m", increment=True)
    group = f"{__name__}.test_group_is_derived_from_fn.<locals>.view"
    assert usage_of(rf.get("/"), group=group, rate="5/m")["count"] == 1


def test_all_and_unsafe_are_function_attributes() -> None:
    for function in (get_usage, is_ratelimited):
        assert function.ALL == ALL == (None,)  # type: ignore[attr-defined]
        assert function.UNSAFE == UNSAFE == ["DELETE", "PATCH", "POST", "PUT"]  # type: ignore[attr-defined]


# --- counting ----------------------------------------------------------------------------


def test_a_peek_on_a_fresh_key(backend: Backend, clock: FakeClock) -> None:
    usage = usage_of(rf.get("/"), rate="5/m")

    assert usage["count"] == 0
    assert usage["limit"] == 5
    assert usage["should_limit"] is False
    assert 0 <= usage["time_left"] < 60  # type: ignore[operator]


@pytest.mark.parametrize("read", ["increment", "peek"])
def test_after_two_increments(backend: Backend, clock: FakeClock, read: str) -> None:
    count_one = partial(get_usage, group="a", key="ip", rate="1/m", increment=True)
    count_one(rf.get("/"))
    if read == "increment":
        usage = count_one(rf.get("/"))
    else:
        count_one(rf.get("/"))
        usage = get_usage(rf.get("/"), group="a", key="ip", rate="1/m")

    assert usage is not None
    assert (usage["count"], usage["limit"], usage["should_limit"]) == (2, 1, True)
    assert 0 <= usage["time_left"] < 60  # type: ignore[operator]


def test_is_ratelimited_peek_never_increments(backend: Backend, clock: FakeClock) -> None:
    peek = partial(is_ratelimited, group="a", key="ip", rate="1/m", method=ALL)

    assert [peek(rf.get("/")) for _ in range(5)] == [False] * 5
    assert usage_of(rf.get("/"))["count"] == 0


def test_is_ratelimited_increment_limits_on_the_second_call(
    backend: Backend, clock: FakeClock
) -> None:
    count_one = partial(is_ratelimited, group="a", key="ip", rate="1/m", increment=True)

    assert count_one(rf.get("/")) is False
    assert count_one(rf.get("/")) is True


def test_a_peek_after_exactly_limit_hits_is_not_limited(backend: Backend, clock: FakeClock) -> None:
    for _ in range(3):
        usage_of(rf.get("/"), rate="3/m", increment=True)

    assert usage_of(rf.get("/"), rate="3/m")["should_limit"] is False
    assert usage_of(rf.get("/"), rate="3/m", increment=True)["should_limit"] is True


def test_a_zero_rate_peek_is_not_limited_but_an_increment_is(
    backend: Backend, clock: FakeClock
) -> None:
    assert is_ratelimited(rf.get("/"), group="a", key="ip", rate="0/m") is False
    assert is_ratelimited(rf.get("/"), group="a", key="ip", rate="0/m", increment=True) is True


def test_equivalent_rates_share_a_counter(backend: Backend, clock: FakeClock) -> None:
    for rate in ("100/5m", "100/300s", "100/300", (100, 300)):
        usage_of(rf.get("/"), rate=rate, increment=True)

    assert usage_of(rf.get("/"), rate="100/5m")["count"] == 4


def test_groups_and_rates_count_separately(backend: Backend, clock: FakeClock) -> None:
    usage_of(rf.get("/"), group="a", rate="5/m", increment=True)
    usage_of(rf.get("/"), group="b", rate="5/m", increment=True)
    usage_of(rf.get("/"), group="b", rate="5/m", increment=True)
    usage_of(rf.get("/"), group="a", rate="6/m", increment=True)

    assert usage_of(rf.get("/"), group="a", rate="5/m")["count"] == 1
    assert usage_of(rf.get("/"), group="b", rate="5/m")["count"] == 2


def test_time_left_follows_the_clock(backend: Backend, clock: FakeClock) -> None:
    assert usage_of(from_ip(), rate="5/m")["time_left"] == GOLDEN_END - 1_700_000_000
    clock.advance(10)
    assert usage_of(from_ip(), rate="5/m")["time_left"] == GOLDEN_END - 1_700_000_010


def test_a_new_window_starts_a_new_count(backend: Backend, clock: FakeClock) -> None:
    usage_of(from_ip(), rate="5/m", increment=True)
    usage_of(from_ip(), rate="5/m", increment=True)
    clock.advance(GOLDEN_END - 1_700_000_000)
    assert usage_of(from_ip(), rate="5/m")["count"] == 2
    clock.advance(1)
    usage = usage_of(from_ip(), rate="5/m", increment=True)
    assert (usage["count"], usage["time_left"]) == (1, 59)


# --- the result ----------------------------------------------------------------------------


def test_the_result_reads_as_django_ratelimits_dict(backend: Backend, clock: FakeClock) -> None:
    usage = usage_of(from_ip(), rate="5/m", increment=True)
    expected = {"count": 1, "limit": 5, "should_limit": False, "time_left": 57}

    assert dict(usage) == expected
    assert set(usage) == {"count", "limit", "should_limit", "time_left"}
    assert len(usage) == 4
    assert usage == expected
    assert usage["count"] == 1
    assert usage.get("should_limit") is False
    assert "period" not in usage
    with pytest.raises(KeyError):
        usage["period"]


# --- the cache key ---------------------------------------------------------------------


def expected_key(group: str, rate: str, value: str, end: int, methods: str, prefix: str) -> str:
    digest = hashlib.sha256(f"{group}{rate}{value}{end}{methods}".encode()).hexdigest()
    return prefix + digest


@pytest.mark.parametrize(
    ("method", "methods_part", "golden"),
    [(ALL, "", GOLDEN_KEY_ALL), (["post", "get"], "GETPOST", GOLDEN_KEY_POST_GET)],
)
def test_the_counter_is_readable_through_the_cache_under_the_golden_key(
    backend: Backend, clock: FakeClock, method: Any, methods_part: str, golden: str
) -> None:
    for _ in range(3):
        usage_of(from_ip(), group=GOLDEN_GROUP, rate="5/m", method=method, increment=True)

    key = expected_key(GOLDEN_GROUP, "5/60s", "1.2.3.4", GOLDEN_END, methods_part, "rl:")
    assert key == golden
    assert backend.cache.get(key) == 3


def test_the_cache_prefix_setting(backend: Backend, clock: FakeClock, settings: Any) -> None:
    settings.RATELIMIT_CACHE_PREFIX = "custom:"
    usage_of(from_ip(), group=GOLDEN_GROUP, rate="5/m", increment=True)

    assert backend.cache.get("custom:" + GOLDEN_KEY_ALL.removeprefix("rl:")) == 1
    assert backend.cache.get(GOLDEN_KEY_ALL) is None


@pytest.mark.parametrize("algorithm", [hashlib.md5, "hashlib.md5"], ids=["callable", "dotted"])
def test_the_hash_algorithm_setting(
    backend: Backend, clock: FakeClock, settings: Any, algorithm: Any
) -> None:
    settings.RATELIMIT_HASH_ALGORITHM = algorithm
    usage_of(from_ip(), group=GOLDEN_GROUP, rate="5/m", increment=True)

    material = f"{GOLDEN_GROUP}5/60s1.2.3.4{GOLDEN_END}".encode()
    assert backend.cache.get("rl:" + hashlib.md5(material).hexdigest()) == 1


# --- cache failures (fixes django-ratelimit #333) ----------------------------------------


def broken_cache_config(kind: str, port: int) -> dict[str, Any]:
    if kind == "redis":
        return {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
        }
    if kind == "django_redis":
        return {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
        }
    return {
        "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
        "LOCATION": f"127.0.0.1:{port}",
    }


@pytest.fixture(params=["redis", "django_redis", "memcached"])
def broken_cache(request: pytest.FixtureRequest, settings: Any) -> str:
    """A cache whose server is not there: every call raises (or, for pymemcache
    once it has marked the server failed, answers a default)."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "broken": broken_cache_config(request.param, free_port()),
    }
    settings.RATELIMIT_USE_CACHE = "broken"
    return str(request.param)


def drf_records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "drf_ratelimit" and r.levelno == level]


def test_an_unavailable_cache_fails_closed_in_the_decorator(
    broken_cache: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="drf_ratelimit")
    view = ratelimit(key="ip", rate="10/m")(lambda request: "ok")

    for _ in range(3):
        with pytest.raises(Ratelimited):
            view(rf.get("/"))
    assert len(drf_records(caplog, logging.ERROR)) == 3


def test_an_unavailable_cache_sets_request_limited_without_block(
    broken_cache: str, clock: FakeClock
) -> None:
    view = ratelimit(key="ip", rate="10/m", block=False)(lambda request: request.limited)

    assert [view(rf.get("/")) for _ in range(3)] == [True] * 3


@pytest.mark.parametrize("increment", [True, False], ids=["increment", "peek"])
def test_get_usage_on_an_unavailable_cache_is_the_fail_closed_mapping(
    broken_cache: str, clock: FakeClock, caplog: pytest.LogCaptureFixture, increment: bool
) -> None:
    caplog.set_level(logging.WARNING, logger="drf_ratelimit")
    check: Callable[[], Usage | None] = partial(
        get_usage, rf.get("/"), group="a", key="ip", rate="10/m", increment=increment
    )

    for _ in range(3):
        assert check() == FAIL_CLOSED
    assert is_ratelimited(rf.get("/"), group="a", key="ip", rate="10/m", increment=increment)
    errors = drf_records(caplog, logging.ERROR)
    assert len(errors) == 4
    assert "failing closed" in errors[0].getMessage()


def test_fail_open_lets_requests_through_an_unavailable_cache(
    broken_cache: str, clock: FakeClock, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.RATELIMIT_FAIL_OPEN = True
    caplog.set_level(logging.WARNING, logger="drf_ratelimit")
    view = ratelimit(key="ip", rate="1/m")(lambda request: request.limited)

    assert [view(rf.get("/")) for _ in range(3)] == [False] * 3
    assert get_usage(rf.get("/"), group="a", key="ip", rate="1/m", increment=True) is None
    assert get_usage(rf.get("/"), group="a", key="ip", rate="1/m") is None
    assert is_ratelimited(rf.get("/"), group="a", key="ip", rate="1/m", increment=True) is False
    warnings = drf_records(caplog, logging.WARNING)
    assert len(warnings) >= 5
    assert "failing open" in warnings[0].getMessage()
    assert not drf_records(caplog, logging.ERROR)


def test_an_unknown_cache_alias_raises(backend: Backend, clock: FakeClock, settings: Any) -> None:
    settings.RATELIMIT_USE_CACHE = "fake-cache"
    view = ratelimit(key="ip", rate="1/m", block=False)(lambda request: request.limited)

    with pytest.raises(InvalidCacheBackendError, match="fake-cache"):
        view(rf.post("/"))
    with pytest.raises(InvalidCacheBackendError):
        get_usage(rf.get("/"), group="a", key="ip", rate="1/m")


# --- exemptions ----------------------------------------------------------------------------


def exempt_staff(group: str, request: HttpRequest) -> str | None:
    """A key function that exempts requests carrying the staff header."""
    return None if request.META.get("HTTP_X_STAFF") else request.META["REMOTE_ADDR"]


def test_a_key_returning_none_exempts_the_request(backend: Backend, clock: FakeClock) -> None:
    staff = from_ip()
    staff.META["HTTP_X_STAFF"] = "1"
    for _ in range(3):
        assert get_usage(staff, group="a", key=exempt_staff, rate="1/m", increment=True) is None
    assert usage_of(from_ip(), key=exempt_staff, increment=True).count == 1


def test_an_exempt_request_is_never_limited_by_the_decorator(
    backend: Backend, clock: FakeClock
) -> None:
    @ratelimit(key=exempt_staff, rate="0/m")
    def view(request: HttpRequest) -> str:
        return "ok"

    staff = from_ip()
    staff.META["HTTP_X_STAFF"] = "1"
    assert view(staff) == "ok"
    assert staff.limited is False  # type: ignore[attr-defined]
    with pytest.raises(Ratelimited):
        view(from_ip())
