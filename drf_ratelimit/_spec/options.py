"""The options a declaration may give besides its key and rate, and how a
callable or dotted-path rate or cost is resolved for one request.

Literal values are checked where they are declared (a class body, a
decorator call), so a typo fails at import; a callable's result is checked
each time it is called, and the error names the callable and where it was
declared.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

from drf_ratelimit._spec.loading import import_dotted
from drf_ratelimit._spec.rates import Rate, is_dotted_path, parse_rate, parse_rates


def parse_cost(value: Any, source: str) -> int:
    """A request's cost: a non-negative int (0 only reads), named in the error otherwise."""
    if type(value) is not int or value < 0:
        raise ImproperlyConfigured(f"{source}={value!r} must be a non-negative integer")
    return value


def parse_burst(value: Any, source: str) -> int | None:
    """A token bucket's size: None (the rate's own limit) or a positive int."""
    if value is not None and (type(value) is not int or value < 1):
        raise ImproperlyConfigured(f"{source}={value!r} must be None or a positive integer")
    return value


def parse_count_denied(value: Any, source: str) -> bool | None:
    """None (the ``RATELIMIT_COUNT_DENIED`` default) or a bool."""
    if value is not None and not isinstance(value, bool):
        raise ImproperlyConfigured(f"{source}={value!r} must be None, True or False")
    return value


def is_dynamic(value: Any) -> bool:
    """A callable or the dotted path of one: resolved per request, not at declaration."""
    return callable(value) or (isinstance(value, str) and is_dotted_path(value))


def parse_literal_cost(value: Any, source: str) -> Any:
    """A cost as declared: a callable or dotted path is checked per request."""
    if is_dynamic(value):
        return value
    if isinstance(value, str):
        raise ImproperlyConfigured(
            f"{source}={value!r} must be an int, a callable or the dotted path of one"
        )
    return parse_cost(value, source)


def resolve_cost(cost: Any, request: Any, source: str = "cost") -> int:
    """A literal cost, or what a callable (or dotted path) of the request returns."""
    if type(cost) is int and cost >= 0:
        return cost
    if isinstance(cost, str) and is_dotted_path(cost):
        cost = import_dotted(cost, source)
        source = f"{source} {getattr(cost, '__qualname__', cost)!r}"
    if callable(cost):
        source = f"{source} callable {getattr(cost, '__qualname__', cost)!r} returned"
        cost = cost(request)
    return parse_cost(cost, source)


def resolve_rate(rate: Any, group: str, request: Any, source: str = "rate") -> Rate | None:
    """A literal rate, or the result of a callable / dotted path ``(group, request)``."""
    rate, source = _call_rate(rate, group, request, source)
    return parse_rate(rate, source=source)


def resolve_rates(rate: Any, group: str, request: Any, source: str = "rate") -> tuple[Rate, ...]:
    """Like :func:`resolve_rate`, for specs that may also be lists of rates (throttles)."""
    rate, source = _call_rate(rate, group, request, source)
    return parse_rates(rate, source=source)


def _call_rate(rate: Any, group: str, request: Any, source: str) -> tuple[Any, str]:
    if isinstance(rate, str) and is_dotted_path(rate):
        source = f"{source} {rate!r}"
        rate = import_dotted(rate, "rate")
    if callable(rate):
        source = f"{source} callable {getattr(rate, '__qualname__', rate)!r} returned"
        rate = rate(group, request)
    return rate, source
