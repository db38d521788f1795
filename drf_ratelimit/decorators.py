"""The ``@ratelimit`` decorator for plain Django views (sync and async).

The arguments are validated and turned into a declaration when the view
module is imported; the first request compiles it into a plan (again when
the settings change), so a request costs the key, one store call, and, when
limited, the exception.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction, sync_to_async

from drf_ratelimit import conf
from drf_ratelimit._algorithms import parse_algorithm
from drf_ratelimit._engine import DECORATOR, Declaration, declare, plan_for
from drf_ratelimit._request.keys import key_function
from drf_ratelimit._spec.groups import group_for
from drf_ratelimit._spec.methods import ALL, UNSAFE, MethodSpec, normalise_method
from drf_ratelimit._spec.options import (
    is_dynamic,
    parse_burst,
    parse_count_denied,
    parse_literal_cost,
    resolve_cost,
)
from drf_ratelimit._spec.rates import parse_rate
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
        algorithm=None
        if algorithm is None
        else parse_algorithm(algorithm, "@ratelimit(algorithm)"),
        cost=parse_literal_cost(cost, "@ratelimit(cost)"),
        count_denied=parse_count_denied(count_denied, "@ratelimit(count_denied)"),
        burst=parse_burst(burst, "@ratelimit(burst)"),
    )
    declared: dict[str, Declaration] = {}

    def decorator(fn: View) -> View:
        # method_decorator applies this to a new partial on every request: each
        # view's declaration is made (and recorded for the checks) once.
        name = group if group is not None else group_for(fn)
        declaration = declared.get(name)
        if declaration is None:
            declaration = declared[name] = declare(
                _declaration(fn, group, key, rate, method, options)
            )
        arguments = _Arguments(fn, name, block, options.cost, declaration)
        view = _async_view(fn, arguments) if iscoroutinefunction(fn) else _sync_view(fn, arguments)
        # What this view counts against, outermost last, for the ops tools.
        view.ratelimits = (*getattr(fn, "ratelimits", ()), arguments)  # type: ignore[attr-defined]
        return view  # type: ignore[return-value]

    return decorator


@dataclass(frozen=True)
class _Options:
    """The keyword-only extras, validated."""

    algorithm: str | None
    cost: Any
    count_denied: bool | None
    burst: int | None


@dataclass(frozen=True)
class _Arguments:
    """One @ratelimit(...) on one view: what the ops tools find on ``view.ratelimits``."""

    fn: Callable[..., Any]
    group: str
    block: bool
    cost: Any
    declaration: Declaration


def _declaration(
    fn: Any, group: str | None, key: Any, rate: Any, method: MethodSpec, options: _Options
) -> Declaration:
    return Declaration(
        kind=DECORATOR,
        where=f"@ratelimit on {_describe(fn)}",
        key=key,
        rate=rate,
        group=group,
        method=normalise_method(method),
        algorithm=options.algorithm,
        count_denied=options.count_denied,
        burst=options.burst,
    )


def _describe(fn: Any) -> str:
    if isinstance(fn, functools.partial):
        fn = fn.func
    module = getattr(fn, "__module__", None) or "?"
    return f"{module}.{getattr(fn, '__qualname__', repr(fn))}"


def _validate_literals(key: Any, rate: Any) -> None:
    if not is_dynamic(rate):
        parse_rate(rate, source="@ratelimit(rate=...)")
    if key:
        key_function(key)


def _enforce(request: Any, limit: _Arguments) -> None:
    """Count the request; keep ``request.limited`` sticky across stacked decorators."""
    plan = plan_for(limit.declaration, limit.group)
    counted = plan.resolve(request) if plan.enabled else None
    result = None if counted is None else plan.run(*counted, resolve_cost(limit.cost, request))
    limited = result is not None and not result.allowed
    if limited:
        assert result is not None
        send_request_limited(
            ratelimit, request=request, view=limit.fn, group=plan.group, usages=result.usages
        )
    request.limited = limited or getattr(request, "limited", False)
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
