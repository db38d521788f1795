"""The ``@ratelimit`` decorator for plain Django views (sync and async)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction, sync_to_async

from drf_ratelimit import conf
from drf_ratelimit.algorithms import (
    FIXED_WINDOW,
    parse_algorithm,
    parse_burst,
    parse_count_denied,
    parse_literal_cost,
)
from drf_ratelimit.core import get_usage
from drf_ratelimit.groups import group_for
from drf_ratelimit.keys import key_function
from drf_ratelimit.methods import ALL, UNSAFE, MethodSpec, normalise_method
from drf_ratelimit.rates import is_dotted_path, parse_rate
from drf_ratelimit.registry import declare
from drf_ratelimit.signals import send_request_limited

__all__ = ["ratelimit"]

View = TypeVar("View", bound=Callable[..., Any])


def ratelimit(
    group: str | None = None,
    key: Any = None,
    rate: Any = None,
    method: MethodSpec = ALL,
    block: bool = True,
    *,
    algorithm: str | None = None,
    cost: Any = 1,
    count_denied: bool | None = None,
    burst: int | None = None,
) -> Callable[[View], View]:
    """Count every request to the view; over the limit, set ``request.limited``
    and (with ``block=True``) raise ``RATELIMIT_EXCEPTION_CLASS``.

    The keyword-only extras choose the ``algorithm`` (default
    ``RATELIMIT_ALGORITHM``, else django-ratelimit's fixed window), what a
    request costs (an int, a callable of the request or its dotted path),
    whether denied requests are charged, and the token bucket's ``burst``.

    Literal rates, keys and options are validated here, when the view module
    is imported, so a typo fails at start-up instead of on the first request.
    """
    _validate_literals(key, rate)
    options = _Options(
        algorithm=_optional(parse_algorithm, algorithm, "@ratelimit(algorithm)"),
        cost=parse_literal_cost(cost, "@ratelimit(cost)"),
        count_denied=parse_count_denied(count_denied, "@ratelimit(count_denied)"),
        burst=parse_burst(burst, "@ratelimit(burst)"),
    )

    def decorator(fn: View) -> View:
        where = f"@ratelimit on {_describe(fn)}"
        declare(where, key, rate, algorithm or FIXED_WINDOW, algorithm is not None)
        arguments = _Arguments(
            group=group,
            fn=fn,
            key=key,
            rate=rate,
            method=normalise_method(method),
            block=block,
            options=options,
        )
        view = _async_view(fn, arguments) if iscoroutinefunction(fn) else _sync_view(fn, arguments)
        # What this view counts against, outermost last, for drf_ratelimit.lookup.
        view.ratelimits = (*getattr(fn, "ratelimits", ()), arguments)  # type: ignore[attr-defined]
        return view  # type: ignore[return-value]

    return decorator


@dataclass(frozen=True)
class _Arguments:
    """What one @ratelimit(...) was given, plus the view it wraps."""

    group: str | None
    fn: Callable[..., Any]
    key: Any
    rate: Any
    method: MethodSpec
    block: bool
    options: _Options


@dataclass(frozen=True)
class _Options:
    """The keyword-only extras, validated."""

    algorithm: str | None
    cost: Any
    count_denied: bool | None
    burst: int | None


def _optional(parse: Callable[[Any, str], str], value: Any, source: str) -> str | None:
    return None if value is None else parse(value, source)


def _describe(fn: Any) -> str:
    module = getattr(fn, "__module__", None) or "?"
    return f"{module}.{getattr(fn, '__qualname__', repr(fn))}"


def _validate_literals(key: Any, rate: Any) -> None:
    if not callable(rate) and not (isinstance(rate, str) and is_dotted_path(rate)):
        parse_rate(rate, source="@ratelimit(rate=...)")
    if key:
        key_function(key)


def _enforce(request: Any, limit: _Arguments) -> None:
    """Count the request; keep ``request.limited`` sticky across stacked decorators."""
    was_limited = getattr(request, "limited", False)
    usage = get_usage(
        request=request,
        group=limit.group,
        fn=limit.fn,
        key=limit.key,
        rate=limit.rate,
        method=limit.method,
        increment=True,
        algorithm=limit.options.algorithm,
        cost=limit.options.cost,
        count_denied=limit.options.count_denied,
        burst=limit.options.burst,
    )
    limited = usage is not None and usage.should_limit
    request.limited = limited or was_limited
    if usage is not None and limited:
        group = limit.group if limit.group is not None else group_for(limit.fn)
        send_request_limited(ratelimit, request=request, view=limit.fn, group=group, usages=[usage])
    if limited and limit.block:
        raise conf.exception_class()()


def _sync_view(fn: Callable[..., Any], limit: _Arguments) -> Callable[..., Any]:
    @functools.wraps(fn)
    def view(request: Any, *args: Any, **kwargs: Any) -> Any:
        _enforce(request, limit)
        return fn(request, *args, **kwargs)

    return view


def _async_view(fn: Callable[..., Any], limit: _Arguments) -> Callable[..., Any]:
    # The sync path runs in a worker thread: Django's aincr is a non-atomic
    # get-then-set, the sync incr/script path is atomic.
    enforce = sync_to_async(_enforce)

    @functools.wraps(fn)
    async def view(request: Any, *args: Any, **kwargs: Any) -> Any:
        await enforce(request, limit)
        return await fn(request, *args, **kwargs)

    return view


ratelimit.ALL = ALL  # type: ignore[attr-defined]
ratelimit.UNSAFE = UNSAFE  # type: ignore[attr-defined]
