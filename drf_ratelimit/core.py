"""django-ratelimit's functional API: :func:`get_usage` and :func:`is_ratelimited`.

Same signatures, defaults and evaluation order as django-ratelimit 4.1, so a
project migrates by changing the import. The differences are fixes: malformed
rates are ImproperlyConfigured, cache failures follow RATELIMIT_FAIL_OPEN
instead of raising, ``method=None`` means every method, and counting is one
atomic round trip on Redis. Keyword-only extras choose the ``algorithm``, a
request's ``cost``, whether denied requests are charged (``count_denied``)
and the token bucket's ``burst``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from drf_ratelimit import conf
from drf_ratelimit.algorithms import FIXED_WINDOW, parse_algorithm, parse_burst, parse_cost
from drf_ratelimit.engine import Limit, check
from drf_ratelimit.groups import group_for
from drf_ratelimit.keys import key_value
from drf_ratelimit.loading import import_dotted
from drf_ratelimit.methods import (
    ALL,
    UNSAFE,
    MethodSpec,
    method_key_part,
    method_matches,
    normalise_method,
)
from drf_ratelimit.rates import Rate, is_dotted_path, parse_rate, parse_rates
from drf_ratelimit.usage import Usage

__all__ = ["get_usage", "is_ratelimited"]


def get_usage(
    request: Any,
    group: str | None = None,
    fn: Callable[..., Any] | None = None,
    key: Any = None,
    rate: Any = None,
    method: MethodSpec = ALL,
    increment: bool = False,
    *,
    algorithm: str | None = None,
    cost: Any = 1,
    count_denied: bool | None = None,
    burst: int | None = None,
) -> Usage | None:
    """Usage of the limit for this request, or None when no limit applies.

    With ``increment=True`` the request is charged ``cost`` (an int, or a
    callable of the request, or its dotted path). In the fixed window a
    denied request is charged too, as in django-ratelimit, unless
    ``count_denied`` or ``RATELIMIT_COUNT_DENIED`` says otherwise; the other
    algorithms never charge one by default. ``should_limit`` is
    ``count > limit``, so a peek (``increment=False``) after exactly ``limit``
    hits reports "not limited", as in django-ratelimit. ``algorithm`` defaults
    to ``RATELIMIT_ALGORITHM``, else the fixed window.
    """
    limit = resolve_limit(request, group=group, fn=fn, key=key, rate=rate, method=method)
    if limit is None:
        return None
    if burst is not None:
        limit = replace(limit, burst=parse_burst(burst, "burst"))
    algorithm = _algorithm(algorithm)
    if count_denied is None:
        count_denied = conf.count_denied(fallback=algorithm == FIXED_WINDOW)
    cost = resolve_cost(cost, request) if increment else 0
    usages = check([limit], cost, algorithm=algorithm, count_denied=count_denied)
    return None if usages is None else usages[0]


def is_ratelimited(
    request: Any,
    group: str | None = None,
    fn: Callable[..., Any] | None = None,
    key: Any = None,
    rate: Any = None,
    method: MethodSpec = ALL,
    increment: bool = False,
    *,
    algorithm: str | None = None,
    cost: Any = 1,
    count_denied: bool | None = None,
    burst: int | None = None,
) -> bool:
    """True when the request is over the limit (and counts it if ``increment``)."""
    usage = get_usage(
        request,
        group,
        fn,
        key,
        rate,
        method,
        increment,
        algorithm=algorithm,
        cost=cost,
        count_denied=count_denied,
        burst=burst,
    )
    return False if usage is None else usage.should_limit


def resolve_limit(
    request: Any,
    *,
    group: str | None,
    fn: Callable[..., Any] | None,
    key: Any,
    rate: Any,
    method: MethodSpec,
) -> Limit | None:
    """Everything get_usage decides before touching the cache, in upstream's order."""
    if group is None and fn is None:
        raise ImproperlyConfigured("get_usage must be called with either `group` or `fn` arguments")
    method = normalise_method(method)
    if not conf.enabled() or not method_matches(method, request.method):
        return None
    group = group if group is not None else group_for(fn)
    parsed = resolve_rate(rate, group, request)
    if parsed is None:
        return None
    if not key:
        raise ImproperlyConfigured("Ratelimit key must be specified")
    value = key_value(key, group, request)
    if value is None:
        return None
    return Limit(group=group, rate=parsed, value=value, methods=method_key_part(method))


def resolve_rate(rate: Any, group: str, request: Any) -> Rate | None:
    """A literal rate, or the result of a callable / dotted path ``(group, request)``."""
    rate, source = _call_rate(rate, group, request, "rate")
    return parse_rate(rate, source=source)


def resolve_rates(rate: Any, group: str, request: Any, source: str = "rate") -> tuple[Rate, ...]:
    """Like :func:`resolve_rate`, for specs that may also be lists of rates (throttles)."""
    rate, source = _call_rate(rate, group, request, source)
    return parse_rates(rate, source=source)


def _algorithm(algorithm: str | None) -> str:
    if algorithm is None:
        return conf.algorithm(FIXED_WINDOW)
    return parse_algorithm(algorithm, "algorithm")


def resolve_cost(cost: Any, request: Any, source: str = "cost") -> int:
    """A literal cost, or what a callable (or dotted path) of the request returns."""
    if isinstance(cost, str) and is_dotted_path(cost):
        cost = import_dotted(cost, source)
        source = f"{source} {getattr(cost, '__qualname__', cost)!r}"
    if callable(cost):
        source = f"{source} callable {getattr(cost, '__qualname__', cost)!r} returned"
        cost = cost(request)
    return parse_cost(cost, source)


def _call_rate(rate: Any, group: str, request: Any, source: str) -> tuple[Any, str]:
    if isinstance(rate, str) and is_dotted_path(rate):
        source = f"{source} {rate!r}"
        rate = import_dotted(rate, "rate")
    if callable(rate):
        source = f"{source} callable {getattr(rate, '__qualname__', rate)!r} returned"
        rate = rate(group, request)
    return rate, source


get_usage.ALL = ALL  # type: ignore[attr-defined]
get_usage.UNSAFE = UNSAFE  # type: ignore[attr-defined]
is_ratelimited.ALL = ALL  # type: ignore[attr-defined]
is_ratelimited.UNSAFE = UNSAFE  # type: ignore[attr-defined]
