"""The settings snapshot: the one place that reads Django settings.

Every ``RATELIMIT_*`` setting (and DRF's ``NUM_PROXIES``, which the
decorator follows too) is parsed and validated once into a frozen
:class:`RatelimitSettings`, which
:func:`snapshot` hands out until the settings change. A change is seen two
ways, so ``override_settings`` and pytest-django's ``settings`` fixture work
everywhere: Django's ``setting_changed`` signal, and the settings holder
itself (every ``override_settings`` installs a new one). A check therefore
costs one lookup, not a dozen ``getattr(settings, ...)`` calls.

Each snapshot has a ``generation``; what is compiled from settings (the
plans of :mod:`drf_ratelimit._engine`) records the generation it was built
for and is rebuilt when it differs. The system checks validate the same
fields (:func:`problem`), and DRF's ``DEFAULT_THROTTLE_RATES``, which the
throttles read through DRF's own ``api_settings``, so a bad value is reported at start-up by
``manage.py check`` with the message a request would raise.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from types import MappingProxyType
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from drf_ratelimit._algorithms import parse_algorithm
from drf_ratelimit._spec.loading import import_dotted

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
THROTTLE_RATES_SETTING = "REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']"

#: DRF's own default for ``REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']``.
DRF_DEFAULT_THROTTLE_RATES: dict[str, Any] = {"user": None, "anon": None}

Network = IPv4Network | IPv6Network
HashFunction = Callable[[bytes], Any]


@dataclass(frozen=True)
class RatelimitSettings:
    """Every setting drf_ratelimit reads, parsed. Build with :func:`snapshot`."""

    generation: int
    enabled: bool
    cache_alias: str
    cache_prefix: str
    hasher: HashFunction
    fail_open: bool
    #: None, a ``request.META`` key, or a callable (or its dotted path) of the request.
    ip_meta_key: Any
    ipv4_mask: int
    ipv6_mask: int
    trusted_proxies: tuple[Network, ...]
    proxy_count: int | None
    #: ``proxy_count`` is ``RATELIMIT_PROXY_COUNT``'s, not DRF's ``NUM_PROXIES``
    #: (which the DRF layer reads through ``api_settings`` instead).
    own_proxy_count: bool
    headers: bool
    #: ``RATELIMIT_ALGORITHM``: None leaves each kind of declaration its own default.
    algorithm: str | None
    count_denied: bool | None
    #: Set by :func:`drf_ratelimit.testing.override_ratelimit`: every rate allows
    #: this many requests per its own period.
    limit_override: int | None
    #: No IP meta key and no proxies: the client is ``REMOTE_ADDR``.
    direct_ip: bool
    #: The settings holder this was read from (a new one means new settings).
    source: object

    def resolve_default_algorithm(self, fallback: str) -> str:
        """``RATELIMIT_ALGORITHM``, or ``fallback`` (a kind of declaration's own default)."""
        return fallback if self.algorithm is None else self.algorithm

    def resolve_count_denied(self, fallback: bool) -> bool:
        """``RATELIMIT_COUNT_DENIED``, or ``fallback`` when it is unset."""
        return fallback if self.count_denied is None else self.count_denied


def get(name: str) -> Any:
    """The current raw value of a ``RATELIMIT_*`` setting, or its default."""
    return getattr(settings, name, DEFAULTS[name])


def drf_setting(name: str, default: Any = None) -> Any:
    """A key of ``settings.REST_FRAMEWORK``, read without importing DRF."""
    rest_framework = getattr(settings, "REST_FRAMEWORK", None)
    if rest_framework is None:
        return default
    if not isinstance(rest_framework, dict):
        raise ImproperlyConfigured(f"REST_FRAMEWORK={rest_framework!r} must be a dict")
    return rest_framework.get(name, default)


# --- parsing, one function per field ------------------------------------------------------


def _string(name: str, what: str) -> str:
    value = get(name)
    if not isinstance(value, str):
        raise ImproperlyConfigured(f"{name}={value!r} must be {what}")
    return value


def _hasher() -> HashFunction:
    value = get("RATELIMIT_HASH_ALGORITHM")
    hasher = import_dotted(value, "RATELIMIT_HASH_ALGORITHM") if isinstance(value, str) else value
    if not callable(hasher):
        raise ImproperlyConfigured(
            f"RATELIMIT_HASH_ALGORITHM={hasher!r} must be a hashlib-style callable"
        )
    return hasher  # type: ignore[no-any-return]


def _mask(name: str, most: int) -> int:
    value = get(name)
    if type(value) is not int or not 0 <= value <= most:
        raise ImproperlyConfigured(f"{name}={value!r} must be an integer from 0 to {most}")
    return value


def _trusted_proxies() -> tuple[Network, ...]:
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
def _parse_networks(values: tuple[object, ...]) -> tuple[Network, ...]:
    try:
        return tuple(ip_network(str(v), strict=False) for v in values)
    except ValueError as exc:
        raise ImproperlyConfigured(f"RATELIMIT_TRUSTED_PROXIES: {exc}") from None


def _proxy_count() -> int | None:
    """``RATELIMIT_PROXY_COUNT`` when set; otherwise DRF's ``NUM_PROXIES``, so a
    DRF project that already declared its proxies keeps its clients apart
    after switching throttles. DRF's default ``None``, with which DRF trusts
    the whole header, means "no proxies" here."""
    value = get("RATELIMIT_PROXY_COUNT")
    if value is None:
        return parse_num_proxies(drf_setting("NUM_PROXIES"))
    return _parse_proxy_count(value, "RATELIMIT_PROXY_COUNT")


def parse_num_proxies(value: Any) -> int | None:
    """DRF's ``NUM_PROXIES`` as a proxy count (the DRF layer passes ``api_settings``')."""
    return _parse_proxy_count(value, "REST_FRAMEWORK['NUM_PROXIES']")


def _parse_proxy_count(value: Any, setting: str) -> int | None:
    if value is not None and (type(value) is not int or value < 0):
        raise ImproperlyConfigured(f"{setting}={value!r} must be None or a non-negative integer")
    return value


def _algorithm() -> str | None:
    value = get("RATELIMIT_ALGORITHM")
    return None if value is None else parse_algorithm(value, "RATELIMIT_ALGORITHM")


def _count_denied() -> bool | None:
    value = get("RATELIMIT_COUNT_DENIED")
    if value is not None and not isinstance(value, bool):
        raise ImproperlyConfigured(f"RATELIMIT_COUNT_DENIED={value!r} must be None, True or False")
    return value


def throttle_rates() -> Mapping[str, Any]:
    """``REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']`` from the settings, validated
    (read-only), for the system checks: the throttles read it through DRF's
    ``api_settings`` on every request."""
    rates = drf_setting("DEFAULT_THROTTLE_RATES", _MISSING)
    if rates is _MISSING:
        rates = DRF_DEFAULT_THROTTLE_RATES
    elif not isinstance(rates, dict):
        raise ImproperlyConfigured(
            f"{THROTTLE_RATES_SETTING}={rates!r} must be a dict of scope to rate"
        )
    return MappingProxyType(dict(rates))


_FIELDS: dict[str, Callable[[], Any]] = {
    "enabled": lambda: bool(get("RATELIMIT_ENABLE")),
    "cache_alias": lambda: _string("RATELIMIT_USE_CACHE", "a cache alias string"),
    "cache_prefix": lambda: _string("RATELIMIT_CACHE_PREFIX", "a string"),
    "hasher": _hasher,
    "fail_open": lambda: bool(get("RATELIMIT_FAIL_OPEN")),
    "ip_meta_key": lambda: get("RATELIMIT_IP_META_KEY"),
    "ipv4_mask": lambda: _mask("RATELIMIT_IPV4_MASK", 32),
    "ipv6_mask": lambda: _mask("RATELIMIT_IPV6_MASK", 128),
    "trusted_proxies": _trusted_proxies,
    "proxy_count": _proxy_count,
    "headers": lambda: bool(get("RATELIMIT_HEADERS")),
    "algorithm": _algorithm,
    "count_denied": _count_denied,
}


# --- the snapshot -------------------------------------------------------------------------

#: The instance dictionary of ``django.conf.settings``, where the current
#: settings holder lives under ``_wrapped`` (read directly: LazySettings'
#: attribute access is slower than the rest of the lookup).
_LAZY_SETTINGS: dict[str, Any] = vars(settings)
_current: RatelimitSettings | None = None
_generations = itertools.count(1)
#: How many times the settings changed: a snapshot read across a change is not kept.
_changes = 0
_limit_override: int | None = None
_lock = threading.Lock()


def snapshot() -> RatelimitSettings:
    """The settings as they are now, parsed (ImproperlyConfigured if one is invalid)."""
    current = _current
    if current is not None and current.source is _LAZY_SETTINGS.get("_wrapped"):
        return current
    return _rebuild()


def _rebuild() -> RatelimitSettings:
    """A new snapshot, with a generation of its own (so every plan is recompiled)."""
    global _current
    get("RATELIMIT_ENABLE")  # sets the settings up if nothing has yet
    changes, source = _changes, _LAZY_SETTINGS.get("_wrapped")
    fields = {name: parse() for name, parse in _FIELDS.items()}
    built = RatelimitSettings(
        generation=next(_generations),
        limit_override=_limit_override,
        direct_ip=_direct_ip(
            fields["ip_meta_key"], fields["trusted_proxies"], fields["proxy_count"]
        ),
        own_proxy_count=get("RATELIMIT_PROXY_COUNT") is not None,
        source=source,
        **fields,
    )
    with _lock:  # a change that arrived while we read is never overwritten
        if changes == _changes:
            _current = built
    return built


def _direct_ip(ip_meta_key: Any, trusted_proxies: tuple[Network, ...], proxies: int | None) -> bool:
    return not (ip_meta_key or trusted_proxies or proxies)


#: Snapshots with another proxy count, by (generation, count): see with_proxy_count.
_with_proxies: dict[tuple[int, int | None], RatelimitSettings] = {}


def with_proxy_count(current: RatelimitSettings, count: int | None) -> RatelimitSettings:
    """``current`` with ``count`` proxies in front instead, as a snapshot of its
    own generation (made once per pair), so plans compiled for it are kept
    apart. The DRF layer uses it for a ``NUM_PROXIES`` set on ``api_settings``."""
    if count == current.proxy_count:
        return current
    key = (current.generation, count)
    derived = _with_proxies.get(key)
    if derived is None:
        if len(_with_proxies) >= 16:
            _with_proxies.clear()
        direct = _direct_ip(current.ip_meta_key, current.trusted_proxies, count)
        derived = _with_proxies[key] = dataclasses.replace(
            current, generation=next(_generations), proxy_count=count, direct_ip=direct
        )
    return derived


def invalidate(**kwargs: Any) -> None:
    """Forget the snapshot (connected to ``setting_changed``)."""
    global _current, _changes
    with _lock:
        _changes += 1
        _current = None


setting_changed.connect(invalidate, dispatch_uid="drf_ratelimit.conf.invalidate")


@contextmanager
def overridden_limit(limit: int | None) -> Iterator[None]:
    """Inside the block every rate allows ``limit`` requests per its own period
    (see :func:`drf_ratelimit.testing.override_ratelimit`); plans compiled
    inside the block carry it, so the check itself never looks for it."""
    global _limit_override
    if limit is not None and (type(limit) is not int or limit < 0):
        raise ValueError(f"limit={limit!r} must be a non-negative integer")
    previous, _limit_override = _limit_override, limit
    invalidate()
    try:
        yield
    finally:
        _limit_override = previous
        invalidate()


def problem(field: str) -> str | None:
    """Why one field of the snapshot does not parse (None when it does), for the
    system checks: the message a request would raise."""
    parse = _CHECKED_ONLY.get(field) or _FIELDS[field]
    try:
        parse()
    except ImproperlyConfigured as exc:
        return str(exc)
    return None


#: Every field :func:`problem` can check.
FIELDS = (*_FIELDS, "exception_class", "throttle_rates")


# --- accessors ---------------------------------------------------------------------------
#
# Everything else is read from ``snapshot()``; these are what callers outside
# a check need by name.


def cache_alias() -> str:
    return snapshot().cache_alias


def headers_enabled() -> bool:
    """``RATELIMIT_HEADERS``: send RateLimit-Policy and RateLimit from the throttles."""
    return snapshot().headers


def throttle_rate_setting(scope: object) -> str:
    """How error messages name one scope's entry in ``DEFAULT_THROTTLE_RATES``."""
    return f"{THROTTLE_RATES_SETTING}[{scope!r}]"


def exception_class() -> type[Exception]:
    """``RATELIMIT_EXCEPTION_CLASS``, imported (once per distinct path)."""
    value = get("RATELIMIT_EXCEPTION_CLASS")
    cls = import_dotted(value, "RATELIMIT_EXCEPTION_CLASS") if isinstance(value, str) else value
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        raise ImproperlyConfigured(
            f"RATELIMIT_EXCEPTION_CLASS={value!r} must be an exception class or its dotted path"
        )
    return cls


def ratelimit_view() -> Callable[..., Any]:
    """``RATELIMIT_VIEW``, imported: what the middleware answers limited requests with."""
    value = get("RATELIMIT_VIEW")
    if value is None:
        raise ImproperlyConfigured(
            "RatelimitMiddleware needs RATELIMIT_VIEW, the dotted path of a "
            "view(request, exception) that answers limited requests"
        )
    view = import_dotted(value, "RATELIMIT_VIEW") if isinstance(value, str) else value
    if not callable(view):
        raise ImproperlyConfigured(f"RATELIMIT_VIEW={value!r} is not callable")
    return view  # type: ignore[no-any-return]


def resolve(value: Any, setting: str) -> Any:
    """Import ``value`` when it is a dotted-path string, else return it."""
    return import_dotted(value, setting) if isinstance(value, str) else value


#: What :func:`problem` validates besides the snapshot's fields.
_CHECKED_ONLY: dict[str, Callable[[], Any]] = {
    "exception_class": exception_class,
    "throttle_rates": throttle_rates,
}
