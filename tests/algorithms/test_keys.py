"""Cache keys: the decorator's byte-identical to django-ratelimit 4.1, the others
tagged for Redis Cluster; every one memcached-safe whatever the client sends."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache.backends.base import memcache_key_warnings
from hypothesis import given
from hypothesis import strategies as st
from redis.crc import key_slot

from drf_ratelimit._algorithms import ALIGNED_FIXED_WINDOW, SLIDING_WINDOW, TOKEN_BUCKET
from drf_ratelimit._algorithms.base import Algorithm, KeyScope
from drf_ratelimit._algorithms.fixed_window import django_ratelimit_key
from drf_ratelimit._spec.methods import ALL, method_key_part
from drf_ratelimit._spec.rates import Rate, parse_rate

#: Any text at all, lone surrogates and control characters included.
ANY_TEXT = st.text(st.characters(codec=None, categories=None, exclude_categories=[]))
#: 10 kB strings (Hypothesis cannot draw that many characters one by one).
LONG_TEXT = st.text(
    st.characters(codec=None, categories=None, exclude_categories=[]), min_size=1, max_size=16
).map(lambda chunk: (chunk * (10_240 // len(chunk) + 1))[:10_240])
SHA256_KEY = re.compile(r"rl:[0-9a-f]{64}")
#: A throttle or state key: 128 bits of the client's digest as a Redis Cluster hash tag,
#: then the algorithm, the rate and (fixed window) the window's start.
TAGGED_KEY = re.compile(r"rl:\{[0-9a-f]{32}\}(fw|sw|tb)[0-9]+/[0-9]+s(:[0-9]+)?")


def _key(
    group: str,
    rate: str,
    value: str,
    window_end: int,
    methods: str = "",
    hasher: Callable[[bytes], Any] = hashlib.sha256,
    prefix: str = "rl:",
) -> str:
    scope = KeyScope(prefix, hasher, group, methods)
    return django_ratelimit_key(scope, rate, value, window_end)


# The reference table lists the rate as '5/m'; what is hashed is the normalised
# form str(Rate) == '5/60s' (django-ratelimit's '%d/%ds').
@pytest.mark.parametrize(
    ("group", "value", "window_end", "method", "hasher", "expected"),
    [
        (
            "myapp.views.login",
            "1.2.3.4",
            1700000057,
            ALL,
            hashlib.sha256,
            "rl:92a2fa0c7220edcf033ebff3ad073a369bafbdc85e77e52470ce91f4004f13e9",
        ),
        (
            "myapp.views.login",
            "1.2.3.4",
            1700000057,
            ["post", "get"],
            hashlib.sha256,
            "rl:f219a5431430ed38bd33716298cf401e4eacacfd92bbe3450d5028da3f2d8aa8",
        ),
        (
            "g",
            "1.2.3.4",
            1700000000,
            ALL,
            hashlib.sha256,
            "rl:cb62782e7db69e4224da8a92becb2caaa670be894e4509250d327682b4ba4251",
        ),
        (
            "g",
            "1.2.3.4",
            1700000000,
            ALL,
            hashlib.md5,
            "rl:ad247709b50e2b3a73a5fb27715ee53f",
        ),
    ],
)
def test_golden_vectors(
    group: str,
    value: str,
    window_end: int,
    method: Any,
    hasher: Callable[[bytes], Any],
    expected: str,
) -> None:
    rate = str(parse_rate("5/m"))
    assert rate == "5/60s"
    methods = method_key_part(method)
    assert _key(group, rate, value, window_end, methods, hasher) == expected


def test_golden_vector_methods_part_is_getpost() -> None:
    assert method_key_part(["post", "get"]) == "GETPOST"
    assert (
        _key("myapp.views.login", "5/60s", "1.2.3.4", 1700000057, "GETPOST")
        == "rl:f219a5431430ed38bd33716298cf401e4eacacfd92bbe3450d5028da3f2d8aa8"
    )


def test_parts_are_concatenated_without_separators() -> None:
    material = b"myapp.views.login5/60s1.2.3.41700000057"
    expected = "rl:" + hashlib.sha256(material).hexdigest()
    assert _key("myapp.views.login", "5/60s", "1.2.3.4", 1700000057) == expected


def test_prefix_is_prepended_verbatim() -> None:
    key = _key("g", "5/60s", "1.2.3.4", 1700000000, prefix="custom-")
    assert key == "custom-cb62782e7db69e4224da8a92becb2caaa670be894e4509250d327682b4ba4251"


@pytest.mark.parametrize(
    "changed",
    [
        {"group": "h"},
        {"rate": "5/61s"},
        {"value": "1.2.3.5"},
        {"window_end": 1700000060},
        {"methods": "POST"},
    ],
)
def test_every_part_changes_the_key(changed: dict[str, Any]) -> None:
    base: dict[str, Any] = {
        "group": "g",
        "rate": "5/60s",
        "value": "1.2.3.4",
        "window_end": 1700000000,
        "methods": "",
    }
    assert _key(**{**base, **changed}) != _key(**base)


@pytest.mark.parametrize(
    "value",
    ["", "\x00\r\n\t ", "\udc80", "a\ud800b", "é" * 10_000, "x" * 10_240, "key with spaces"],
)
def test_hostile_values_give_a_valid_key(value: str) -> None:
    key = _key("g", "5/60s", value, 1700000000)
    assert SHA256_KEY.fullmatch(key)
    assert list(memcache_key_warnings(key)) == []


@given(value=ANY_TEXT)
def test_property_any_value_gives_a_memcached_safe_key(value: str) -> None:
    key = _key("myapp.views.login", "5/60s", value, 1700000057)
    assert SHA256_KEY.fullmatch(key)
    assert list(memcache_key_warnings(key)) == []


@given(value=LONG_TEXT)
def test_property_long_values_give_a_memcached_safe_key(value: str) -> None:
    assert len(value) == 10_240
    key = _key("g", "5/60s", value, 1700000000, "GETPOST")
    assert SHA256_KEY.fullmatch(key)
    assert list(memcache_key_warnings(key)) == []


@given(value=ANY_TEXT, group=ANY_TEXT)
def test_property_encodable_values_match_strict_utf8(value: str, group: str) -> None:
    """For text UTF-8 can encode, the key is exactly django-ratelimit's."""
    material = f"{group}5/60s{value}1700000000"
    try:
        raw = material.encode("utf-8")
    except UnicodeEncodeError:
        return
    assert _key(group, "5/60s", value, 1700000000) == "rl:" + hashlib.sha256(raw).hexdigest()


# --- the tagged keys: the throttles', and every algorithm's state ---------------------------


FIVE_PER_MINUTE = Rate(5, 60)


def _tagged(
    algorithm: Algorithm = SLIDING_WINDOW,
    rate: Rate = FIVE_PER_MINUTE,
    group: str = "anon",
    value: str = "throttle_anon_1.2.3.4",
    now: float = 1_700_000_000,
    methods: str = "",
    hasher: Callable[[bytes], Any] = hashlib.sha256,
    prefix: str = "rl:",
) -> str:
    quota = algorithm.quota(rate, None)
    (key,) = algorithm.keys([quota], KeyScope(prefix, hasher, group, methods), value, now)
    return key


def test_a_tagged_key_is_the_client_digest_then_the_algorithm_and_rate() -> None:
    digest = hashlib.sha256(b"anon\0\0throttle_anon_1.2.3.4").hexdigest()[:32]  # 128 bits
    assert _tagged() == "rl:{" + digest + "}sw5/60s"
    assert _tagged(TOKEN_BUCKET) == "rl:{" + digest + "}tb5/60s"
    assert _tagged(ALIGNED_FIXED_WINDOW) == "rl:{" + digest + "}fw5/60s:1699999980"


def test_a_tagged_key_uses_the_configured_prefix_and_hasher() -> None:
    key = _tagged(hasher=hashlib.md5, prefix="custom-")
    assert re.fullmatch(r"custom-\{[0-9a-f]{32}\}sw5/60s", key)


def test_every_key_of_one_check_shares_a_redis_cluster_slot() -> None:
    """Keys of one client and group (one per rate, any window, any algorithm)
    share a hash tag, so one script may touch them all on a Redis Cluster."""
    keys = [
        _tagged(rate=Rate(5, 60)),
        _tagged(rate=Rate(100, 3600)),
        _tagged(TOKEN_BUCKET, rate=Rate(5, 1)),
        _tagged(ALIGNED_FIXED_WINDOW, rate=Rate(5, 60)),
        _tagged(ALIGNED_FIXED_WINDOW, rate=Rate(9, 1), now=7),
    ]
    assert len({key_slot(key.encode()) for key in keys}) == 1
    assert key_slot(_tagged(value="1.2.3.5").encode()) != key_slot(keys[0].encode())


def test_the_algorithm_is_part_of_the_state_key() -> None:
    """Switching algorithms never reads a value of another shape (WRONGTYPE)."""
    assert len({_tagged(a) for a in (SLIDING_WINDOW, TOKEN_BUCKET, ALIGNED_FIXED_WINDOW)}) == 3
    assert TAGGED_KEY.fullmatch(_tagged())


@pytest.mark.parametrize(
    "changed",
    [
        {"group": "user"},
        {"rate": Rate(5, 61)},
        {"rate": Rate(6, 60)},
        {"value": "throttle_anon_1.2.3.5"},
        {"methods": "POST"},
    ],
)
def test_every_part_changes_the_tagged_key(changed: dict[str, Any]) -> None:
    assert _tagged(**changed) != _tagged()


def test_the_fixed_window_key_changes_with_the_window() -> None:
    first = _tagged(ALIGNED_FIXED_WINDOW, now=1_700_000_000)
    assert _tagged(ALIGNED_FIXED_WINDOW, now=1_700_000_039.9) == first
    assert _tagged(ALIGNED_FIXED_WINDOW, now=1_700_000_040) != first


@pytest.mark.parametrize(
    "parts",
    [
        {"group": "g", "value": "1.2.3.4", "window": 1_700_000_000},
        {"group": "myapp.views.login", "value": "1.2.3.4", "window": 1700000057},
        {"group": "", "value": "", "window": 0},
    ],
)
def test_throttle_key_differs_from_decorator_key_for_the_same_parts(
    parts: dict[str, Any],
) -> None:
    """A throttle and a decorator counting the same group, rate and client in
    windows with the same number must never share a counter: their windows
    are laid out differently."""
    decorator = _key(parts["group"], "5/60s", parts["value"], parts["window"])
    throttle = _tagged(
        ALIGNED_FIXED_WINDOW, group=parts["group"], value=parts["value"], now=parts["window"]
    )
    assert throttle != decorator


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("x1", 23), ("x", 123)),
        (("1.2.3.4", 1700000057), ("1.2.3.41", 700000057)),
    ],
)
def test_separators_prevent_ambiguous_concatenations(
    first: tuple[str, int], second: tuple[str, int]
) -> None:
    """The decorator's key concatenates its parts bare (django-ratelimit's
    layout), so these pairs collide there; the tagged key separates them."""
    assert _key("g", "5/60s", *first) == _key("g", "5/60s", *second)
    assert _tagged(ALIGNED_FIXED_WINDOW, value=first[0], now=first[1]) != _tagged(
        ALIGNED_FIXED_WINDOW, value=second[0], now=second[1]
    )


@given(value=ANY_TEXT, group=ANY_TEXT)
def test_property_tagged_key_is_always_memcached_safe(value: str, group: str) -> None:
    for algorithm in (SLIDING_WINDOW, TOKEN_BUCKET, ALIGNED_FIXED_WINDOW):
        key = _tagged(algorithm, group=group, value=value)
        assert TAGGED_KEY.fullmatch(key)
        assert list(memcache_key_warnings(key)) == []


@given(value=LONG_TEXT)
def test_property_long_values_give_a_short_tagged_key(value: str) -> None:
    assert TAGGED_KEY.fullmatch(_tagged(value=value))


@given(
    a=st.tuples(ANY_TEXT, ANY_TEXT),
    b=st.tuples(ANY_TEXT, ANY_TEXT),
)
def test_property_distinct_encodable_parts_give_distinct_keys(
    a: tuple[str, str], b: tuple[str, str]
) -> None:
    """NUL-free, encodable parts that differ always give different material."""
    for part in (*a, *b):
        if "\0" in part:
            return
        try:
            part.encode("utf-8")
        except UnicodeEncodeError:
            return
    if a != b:
        assert _tagged(group=a[0], value=a[1]) != _tagged(group=b[0], value=b[1])
