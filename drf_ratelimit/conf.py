"""The one place that reads Django settings.

Every accessor reads ``django.conf.settings`` when it is called, never at
import, so ``override_settings`` works everywhere. Dotted paths are imported
once per distinct string (the import is cached, the setting is not).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from drf_ratelimit.algorithms import parse_algorithm
from drf_ratelimit.loading import import_dotted

DEFAULTS: dict[str, Any] = {
    "RATELIMIT_ENABLE": True,
    "RATELIMIT_USE_CACHE": "default",
    "RATELIMIT_CACHE_PREFIX": "rl:",
    "RATELIMIT_HASH_ALGORITHM": hashlib.sha256,
    "RATELIMIT_FAIL_OPEN": False,
    "RATELIMIT_EXCEPTION_CLASS": "drf_ratelimit.exceptions.Ratelimited",
    "RATELIMIT_VIEW": None,
    "RATELIMIT_IP_META_KEY": None,
    "RATELIMIT_IPV4_MASK": 32,
    "RATELIMIT_IPV6_MASK": 64,
    "RATELIMIT_TRUSTED_PROXIES": None,
    "RATELIMIT_PROXY_COUNT": None,
    "RATELIMIT_HEADERS": False,
    "RATELIMIT_ALGORITHM": None,
    "RATELIMIT_COUNT_DENIED": None,
}

_MISSING = object()
_THROTTLE_RATES_SETTING = "REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']"

#: DRF's own default for ``REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']``.
DRF_DEFAULT_THROTTLE_RATES: dict[str, Any] = {"user": None, "anon": None}


def get(name: str) -> Any:
    """The current value of a ``RATELIMIT_*`` setting, or its default."""
    return getattr(settings, name, DEFAULTS[name])


def resolve(value: Any, setting: str) -> Any:
    """Import ``value`` when it is a dotted-path string, else return it."""
    return import_dotted(value, setting) if isinstance(value, str) else value


def enabled() -> bool:
    return bool(get("RATELIMIT_ENABLE"))


def fail_open() -> bool:
    return bool(get("RATELIMIT_FAIL_OPEN"))


def cache_alias() -> str:
    alias = get("RATELIMIT_USE_CACHE")
    if not isinstance(alias, str):
        raise ImproperlyConfigured(f"RATELIMIT_USE_CACHE={alias!r} must be a cache alias string")
    return alias


def cache_prefix() -> str:
    prefix = get("RATELIMIT_CACHE_PREFIX")
    if not isinstance(prefix, str):
        raise ImproperlyConfigured(f"RATELIMIT_CACHE_PREFIX={prefix!r} must be a string")
    return prefix


def hash_function() -> Callable[[bytes], Any]:
    hasher = resolve(get("RATELIMIT_HASH_ALGORITHM"), "RATELIMIT_HASH_ALGORITHM")
    if not callable(hasher):
        raise ImproperlyConfigured(
            f"RATELIMIT_HASH_ALGORITHM={hasher!r} must be a hashlib-style callable"
        )
    return hasher  # type: ignore[no-any-return]


def exception_class() -> type[Exception]:
    value = get("RATELIMIT_EXCEPTION_CLASS")
    cls = resolve(value, "RATELIMIT_EXCEPTION_CLASS")
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        raise ImproperlyConfigured(
            f"RATELIMIT_EXCEPTION_CLASS={value!r} must be an exception class or its dotted path"
        )
    return cls


def ratelimit_view() -> Callable[..., Any]:
    value = get("RATELIMIT_VIEW")
    if value is None:
        raise ImproperlyConfigured(
            "RatelimitMiddleware needs RATELIMIT_VIEW, the dotted path of a "
            "view(request, exception) that answers limited requests"
        )
    view = resolve(value, "RATELIMIT_VIEW")
    if not callable(view):
        raise ImproperlyConfigured(f"RATELIMIT_VIEW={value!r} is not callable")
    return view  # type: ignore[no-any-return]


def ip_meta_key() -> Any:
    return get("RATELIMIT_IP_META_KEY")


def trusted_proxies() -> tuple[IPv4Network | IPv6Network, ...]:
    """``RATELIMIT_TRUSTED_PROXIES`` parsed into networks (cached per value)."""
    value = get("RATELIMIT_TRUSTED_PROXIES")
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise ImproperlyConfigured(
            f"RATELIMIT_TRUSTED_PROXIES={value!r} must be a list of networks such as "
            "['10.0.0.0/8', '::1']"
        )
    return _parse_networks(tuple(value))


@lru_cache(maxsize=32)
def _parse_networks(values: tuple[object, ...]) -> tuple[IPv4Network | IPv6Network, ...]:
    try:
        return tuple(ip_network(str(v), strict=False) for v in values)
    except ValueError as exc:
        raise ImproperlyConfigured(f"RATELIMIT_TRUSTED_PROXIES: {exc}") from None


def proxy_count() -> int | None:
    """How many reverse proxies append to X-Forwarded-For.

    ``RATELIMIT_PROXY_COUNT`` when set; otherwise DRF's ``NUM_PROXIES``, so a
    DRF project that already declared its proxies keeps its clients apart
    after switching throttles. DRF's default ``None``, with which DRF trusts
    the whole header, means "no proxies" here.
    """
    value, setting = get("RATELIMIT_PROXY_COUNT"), "RATELIMIT_PROXY_COUNT"
    if value is None:
        value, setting = drf_setting("NUM_PROXIES"), "REST_FRAMEWORK['NUM_PROXIES']"
    if value is not None and (type(value) is not int or value < 0):
        raise ImproperlyConfigured(f"{setting}={value!r} must be None or a non-negative integer")
    return value


def algorithm(fallback: str) -> str:
    """``RATELIMIT_ALGORITHM``, or ``fallback`` (the caller's own default) when unset.

    Unset, the decorator counts in django-ratelimit's fixed window and the
    throttles in a sliding window (see docs/algorithms.md).
    """
    value = get("RATELIMIT_ALGORITHM")
    return fallback if value is None else parse_algorithm(value, "RATELIMIT_ALGORITHM")


def count_denied(fallback: bool) -> bool:
    """``RATELIMIT_COUNT_DENIED``: charge denied requests too; ``fallback`` when unset.

    Unset, only django-ratelimit's own fixed window (the decorator and
    ``is_ratelimited``) charges them, as django-ratelimit does; the throttles
    and the other algorithms never do, so retrying never extends a lockout.
    """
    value = get("RATELIMIT_COUNT_DENIED")
    if value is None:
        return fallback
    if not isinstance(value, bool):
        raise ImproperlyConfigured(f"RATELIMIT_COUNT_DENIED={value!r} must be None, True or False")
    return value


def headers_enabled() -> bool:
    """``RATELIMIT_HEADERS``: send RateLimit-Policy and RateLimit from the throttles."""
    return bool(get("RATELIMIT_HEADERS"))


def drf_setting(name: str, default: Any = None) -> Any:
    """A key of ``settings.REST_FRAMEWORK``, read live without importing DRF."""
    rest_framework = getattr(settings, "REST_FRAMEWORK", None)
    if rest_framework is None:
        return default
    if not isinstance(rest_framework, dict):
        raise ImproperlyConfigured(f"REST_FRAMEWORK={rest_framework!r} must be a dict")
    return rest_framework.get(name, default)


def throttle_rate_setting(scope: object) -> str:
    """How error messages name one scope's entry in ``DEFAULT_THROTTLE_RATES``."""
    return f"{_THROTTLE_RATES_SETTING}[{scope!r}]"


def throttle_rates() -> dict[str, Any]:
    """``REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']`` as it is now (not at import)."""
    rates = drf_setting("DEFAULT_THROTTLE_RATES", _MISSING)
    if rates is _MISSING:
        return dict(DRF_DEFAULT_THROTTLE_RATES)
    if not isinstance(rates, dict):
        raise ImproperlyConfigured(
            f"{_THROTTLE_RATES_SETTING}={rates!r} must be a dict of scope to rate"
        )
    return rates


def ip_masks() -> tuple[int, int]:
    """(IPv4 prefix length, IPv6 prefix length), validated."""
    v4, v6 = get("RATELIMIT_IPV4_MASK"), get("RATELIMIT_IPV6_MASK")
    if type(v4) is not int or not 0 <= v4 <= 32:
        raise ImproperlyConfigured(f"RATELIMIT_IPV4_MASK={v4!r} must be an integer from 0 to 32")
    if type(v6) is not int or not 0 <= v6 <= 128:
        raise ImproperlyConfigured(f"RATELIMIT_IPV6_MASK={v6!r} must be an integer from 0 to 128")
    return v4, v6
