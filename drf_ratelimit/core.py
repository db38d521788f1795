"""django-ratelimit's functional API: :func:`get_usage` and :func:`is_ratelimited`.

Same signatures, defaults and evaluation order as django-ratelimit 4.1, so a
project migrates by changing the import. The differences are fixes: malformed
rates are ImproperlyConfigured, cache failures follow RATELIMIT_FAIL_OPEN
instead of raising, ``method=None`` means every method, and counting is one
atomic round trip on Redis. Keyword-only extras choose the ``algorithm``, a
request's ``cost``, whether denied requests are charged (``count_denied``)
and the token bucket's ``burst``.

Each distinct set of arguments is compiled once into a plan (see
:mod:`drf_ratelimit._engine.plan`); a call then costs the key, one store
call and the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from drf_ratelimit._algorithms import parse_algorithm
from drf_ratelimit._engine import DECORATOR, Declaration, Result, plan_for
from drf_ratelimit._spec.groups import group_for
from drf_ratelimit._spec.methods import ALL, UNSAFE, MethodSpec, normalise_method
from drf_ratelimit._spec.options import parse_burst, parse_count_denied, resolve_cost
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
    result = _check(
        request, group, fn, key, rate, method, increment, algorithm, cost, count_denied, burst
    )
    return None if result is None else result.usages[0]


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
    result = _check(
        request, group, fn, key, rate, method, increment, algorithm, cost, count_denied, burst
    )
    return result is not None and not result.allowed


def _check(
    request: Any,
    group: str | None,
    fn: Callable[..., Any] | None,
    key: Any,
    rate: Any,
    method: MethodSpec,
    increment: bool,
    algorithm: str | None,
    cost: Any,
    count_denied: bool | None,
    burst: int | None,
) -> Result | None:
    """Everything get_usage decides, in django-ratelimit's order."""
    if group is None and fn is None:
        raise ImproperlyConfigured("get_usage must be called with either `group` or `fn` arguments")
    if type(method) is list:  # UNSAFE and friends: lists are not hashable
        method = tuple(method)
    arguments = (group, fn, key, rate, method, algorithm, count_denied, burst)
    try:
        declaration, group = _declared(*arguments)  # type: ignore[arg-type]
    except TypeError:  # an unhashable argument: compiled each time
        declaration, group = _declare(*arguments)
    plan = plan_for(declaration, group)
    counted = plan.resolve(request) if plan.enabled else None
    if counted is None:
        return None
    if not increment:
        cost = 0
    elif type(cost) is not int or cost < 0:
        cost = resolve_cost(cost, request)
    return plan.run(*counted, cost)


def _declare(
    group: str | None,
    fn: Callable[..., Any] | None,
    key: Any,
    rate: Any,
    method: MethodSpec,
    algorithm: str | None,
    count_denied: bool | None,
    burst: int | None,
) -> tuple[Declaration, str]:
    declaration = Declaration(
        kind=DECORATOR,
        where="get_usage",
        key=key,
        rate=rate,
        group=group,
        method=normalise_method(method),
        algorithm=None if algorithm is None else parse_algorithm(algorithm, "algorithm"),
        count_denied=parse_count_denied(count_denied, "count_denied"),
        burst=parse_burst(burst, "burst"),
    )
    return declaration, group if group is not None else group_for(fn)


#: Each distinct set of arguments is declared once (typed: burst=1 and
#: burst=True are different arguments, the second an error).

_declared = lru_cache(maxsize=512, typed=True)(_declare)


get_usage.ALL = ALL  # type: ignore[attr-defined]
get_usage.UNSAFE = UNSAFE  # type: ignore[attr-defined]
is_ratelimited.ALL = ALL  # type: ignore[attr-defined]
is_ratelimited.UNSAFE = UNSAFE  # type: ignore[attr-defined]
