"""Cache-key derivation.

Every user-controlled part (the key value: an IP, a header, a form field) is
hashed, so a 10 kB header or one full of control characters is just another
client and never an ``InvalidCacheKey``.

The decorator's fixed-window keys are byte-identical to django-ratelimit
4.1's. Every other key starts with a Redis Cluster hash tag derived from the
group and the client only, so all the keys of one check (one per rate) land
in the same slot and one script may touch them all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

HashFunction = Callable[[bytes], Any]


def fixed_window_cache_key(
    *,
    prefix: str,
    hasher: HashFunction,
    group: str,
    rate: str,
    value: str,
    window_end: int,
    methods: str,
) -> str:
    """``prefix + hexdigest(group + rate + value + window_end + methods)``.

    The parts are concatenated without separators, exactly as django-ratelimit
    does, which is what lets a counter it started be continued here.
    """
    material = f"{group}{rate}{value}{window_end}{methods}".encode("utf-8", "backslashreplace")
    return prefix + str(hasher(material).hexdigest())


def throttle_cache_key(
    *,
    prefix: str,
    hasher: HashFunction,
    group: str,
    rate: str,
    value: str,
    window_start: int,
) -> str:
    """The key of a throttle's fixed window.

    Tagged and separated so it can never collide with a decorator key, whose
    windows are laid out differently, nor with another group or rate.
    """
    return _tagged_key(prefix, hasher, group, value, "throttle", rate, str(window_start))


def state_cache_key(
    *,
    prefix: str,
    hasher: HashFunction,
    algorithm: str,
    group: str,
    rate: str,
    value: str,
    methods: str = "",
) -> str:
    """The key holding one client's sliding-window counters or token-bucket TAT.

    The algorithm is part of it, so switching algorithms never reads a value
    of another shape (Redis would answer WRONGTYPE); so are the methods, as in
    the decorator's fixed-window key, so GET and POST limits count apart.
    """
    return _tagged_key(prefix, hasher, group, value, algorithm, rate, methods)


def _tagged_key(prefix: str, hasher: HashFunction, group: str, value: str, *parts: str) -> str:
    tag = _digest(hasher, "drf_ratelimit.slot", group, value)[:16]
    return f"{prefix}{{{tag}}}{_digest(hasher, 'drf_ratelimit', *parts, group, value)}"


def _digest(hasher: HashFunction, *parts: str) -> str:
    return str(hasher("\0".join(parts).encode("utf-8", "backslashreplace")).hexdigest())
