"""Cache-key derivation, byte-identical to django-ratelimit 4.1.

Every user-controlled part (the key value: an IP, a header, a form field) is
hashed, so a 10 kB header or one full of control characters is just another
client and never an ``InvalidCacheKey``.
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
    """The storage key of a DRF throttle's window.

    Tagged and separated so it can never collide with a decorator key, whose
    windows are laid out differently, nor with another group or rate.
    """
    material = "\0".join(("drf_ratelimit.throttle", group, rate, value, str(window_start)))
    return prefix + str(hasher(material.encode("utf-8", "backslashreplace")).hexdigest())
