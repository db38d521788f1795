"""Cache keys: byte-identical to django-ratelimit 4.1, and always memcached-safe."""

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

from drf_ratelimit.cachekeys import fixed_window_cache_key, state_cache_key, throttle_cache_key
from drf_ratelimit.methods import ALL, method_key_part
from drf_ratelimit.rates import parse_rate

#: Any text at all, lone surrogates and control characters included.
ANY_TEXT = st.text(st.characters(codec=None, categories=None, exclude_categories=[]))
#: 10 kB strings (Hypothesis cannot draw that many characters one by one).
LONG_TEXT = st.text(
    st.characters(codec=None, categories=None, exclude_categories=[]), min_size=1, max_size=16
).map(lambda chunk: (chunk * (10_240 // len(chunk) + 1))[:10_240])
SHA256_KEY = re.compile(r"rl:[0-9a-f]{64}")
#: A throttle or state key: the Redis Cluster hash tag, then the digest.
TAGGED_KEY = re.compile(r"rl:\{[0-9a-f]{16}\}[0-9a-f]{64}")


def _key(
    group: str,
    rate: str,
    value: str,
    window_end: int,
    methods: str = "",
    hasher: Callable[[bytes], Any] = hashlib.sha256,
    prefix: str = "rl:",
) -> str:
    return fixed_window_cache_key(
        prefix=prefix,
        hasher=hasher,
        group=group,
        rate=rate,
        value=value,
        window_end=window_end,
        methods=methods,
    )


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


# --- the throttles' storage keys ------------------------------------------------------


def _throttle_key(
    group: str = "anon",
    rate: str = "5/60s",
    value: str = "throttle_anon_1.2.3.4",
    window_start: int = 1_699_999_980,
    hasher: Callable[[bytes], Any] = hashlib.sha256,
    prefix: str = "rl:",
) -> str:
    return throttle_cache_key(
        prefix=prefix,
        hasher=hasher,
        group=group,
        rate=rate,
        value=value,
        window_start=window_start,
    )


_THROTTLE_BASE: dict[str, Any] = {
    "group": "anon",
    "rate": "5/60s",
    "value": "1.2.3.4",
    "window_start": 1_699_999_980,
}


def test_throttle_key_is_the_slot_tag_then_the_separated_hash() -> None:
    tag = hashlib.sha256(b"drf_ratelimit.slot\0anon\0throttle_anon_1.2.3.4").hexdigest()[:16]
    material = "drf_ratelimit\0throttle\x005/60s\x001699999980\0anon\0throttle_anon_1.2.3.4"
    expected = "rl:{" + tag + "}" + hashlib.sha256(material.encode()).hexdigest()
    assert _throttle_key() == expected


def test_throttle_key_is_stable() -> None:
    assert _throttle_key() == _throttle_key()
    assert TAGGED_KEY.fullmatch(_throttle_key())


def test_throttle_key_uses_the_configured_prefix_and_hasher() -> None:
    key = _throttle_key(hasher=hashlib.md5, prefix="custom-")
    assert re.fullmatch(r"custom-\{[0-9a-f]{16}\}[0-9a-f]{32}", key)


def _state_key(algorithm: str = "sliding-window", rate: str = "5/60s", **parts: str) -> str:
    return state_cache_key(
        prefix="rl:",
        hasher=hashlib.sha256,
        algorithm=algorithm,
        group=parts.get("group", "anon"),
        rate=rate,
        value=parts.get("value", "1.2.3.4"),
    )


def test_every_key_of_one_check_shares_a_redis_cluster_slot() -> None:
    """Keys of one client and group (one per rate, any window) share a hash tag,
    so one script may touch them all on a Redis Cluster."""
    keys = [
        _state_key(rate="5/60s"),
        _state_key(rate="100/3600s"),
        _state_key("token-bucket", rate="5/1s"),
        _throttle_key(group="anon", value="1.2.3.4", rate="5/60s"),
        _throttle_key(group="anon", value="1.2.3.4", rate="9/1s", window_start=7),
    ]
    assert len({key_slot(key.encode()) for key in keys}) == 1
    assert key_slot(_state_key(value="1.2.3.5").encode()) != key_slot(keys[0].encode())


def test_the_algorithm_is_part_of_the_state_key() -> None:
    """Switching algorithms never reads a value of another shape (WRONGTYPE)."""
    assert _state_key("sliding-window") != _state_key("token-bucket")
    assert TAGGED_KEY.fullmatch(_state_key())


@given(value=ANY_TEXT, group=ANY_TEXT)
def test_property_state_key_is_always_memcached_safe(value: str, group: str) -> None:
    key = _state_key(group=group, value=value)
    assert TAGGED_KEY.fullmatch(key)
    assert list(memcache_key_warnings(key)) == []


@pytest.mark.parametrize(
    "parts",
    [
        {"group": "g", "rate": "5/60s", "value": "1.2.3.4", "window": 1_700_000_000},
        {"group": "myapp.views.login", "rate": "5/60s", "value": "1.2.3.4", "window": 1700000057},
        {"group": "", "rate": "", "value": "", "window": 0},
    ],
)
def test_throttle_key_differs_from_decorator_key_for_the_same_parts(
    parts: dict[str, Any],
) -> None:
    """A throttle and a decorator counting the same group, rate and client in
    windows with the same number must never share a counter: their windows
    are laid out differently."""
    decorator = _key(parts["group"], parts["rate"], parts["value"], parts["window"])
    throttle = _throttle_key(
        group=parts["group"], rate=parts["rate"], value=parts["value"], window_start=parts["window"]
    )
    assert throttle != decorator


@pytest.mark.parametrize(
    "changed",
    [
        {"group": "user"},
        {"rate": "5/61s"},
        {"value": "throttle_anon_1.2.3.5"},
        {"window_start": 1_700_000_040},
    ],
)
def test_every_part_changes_the_throttle_key(changed: dict[str, Any]) -> None:
    assert _throttle_key(**changed) != _throttle_key()


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"group": "anon5", "rate": "/60s"}, {"group": "anon", "rate": "5/60s"}),
        ({"group": "g5/60s", "rate": ""}, {"group": "g", "rate": "5/60s"}),
        ({"value": "x1", "window_start": 23}, {"value": "x", "window_start": 123}),
        ({"rate": "5/60s1", "value": "2"}, {"rate": "5/60s", "value": "12"}),
    ],
)
def test_separators_prevent_ambiguous_concatenations(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    """The decorator's key concatenates its parts bare (django-ratelimit's
    layout), so these pairs collide there; the throttle key separates them."""
    a, b = {**_THROTTLE_BASE, **first}, {**_THROTTLE_BASE, **second}
    assert _key(a["group"], a["rate"], a["value"], a["window_start"]) == _key(
        b["group"], b["rate"], b["value"], b["window_start"]
    )
    assert _throttle_key(**a) != _throttle_key(**b)


@given(value=ANY_TEXT, group=ANY_TEXT)
def test_property_throttle_key_is_always_memcached_safe(value: str, group: str) -> None:
    key = _throttle_key(group=group, value=value)
    assert TAGGED_KEY.fullmatch(key)
    assert list(memcache_key_warnings(key)) == []


@given(value=LONG_TEXT)
def test_property_long_values_give_a_short_throttle_key(value: str) -> None:
    assert TAGGED_KEY.fullmatch(_throttle_key(value=value))


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
        assert _throttle_key(group=a[0], value=a[1]) != _throttle_key(group=b[0], value=b[1])
