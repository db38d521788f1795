"""Which counters a view holds for one client: read them, reset them.

Support work ("unlock this user"), the ``ratelimit`` management command and
:mod:`drf_ratelimit.testing` all need the counters of one view for one client.
Cache keys are hashes, so they cannot be found by scanning the cache (and
memcached cannot be scanned at all). Instead the view's limits are resolved
for a request that stands for the client, by the same code that counts real
requests: the plan of each ``@ratelimit`` declaration, and each drf_ratelimit
throttle's ``get_check()``. Keys, callables, methods and proxies are
therefore honoured exactly, on every backend.

DRF views are handled through their own methods (``initialize_request``,
``get_throttles``); this module imports neither DRF nor the adapters: it
finds what they declared on the views.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.urls import Resolver404, resolve
from django.utils.module_loading import import_string

from drf_ratelimit import clock
from drf_ratelimit._engine import DECORATOR, Declaration, Plan, plan_for
from drf_ratelimit._engine.check import every_key
from drf_ratelimit._spec.methods import ALL, MethodSpec, normalise_method
from drf_ratelimit._spec.rates import Rate, parse_rate
from drf_ratelimit._storage import Quotas
from drf_ratelimit.usage import Usage

__all__ = [
    "Counter",
    "UnknownView",
    "counters",
    "group_counter",
    "read",
    "reset",
    "resolve_view",
]


class UnknownView(LookupError):
    """A view path or URL that names no view, or a view with no rate limits."""


@dataclass(frozen=True)
class Counter:
    """One rate of one declaration, for one client: where it is counted and by whom."""

    source: str
    plan: Plan
    rate: Rate
    value: str

    def describe(self) -> str:
        return f"{self.source} {self.rate.limit}/{self.rate.period}s"

    @property
    def quotas(self) -> Quotas:
        return Quotas.compile(self.plan.algorithm, [self.rate], self.plan.declaration.burst)


def resolve_view(target: Any) -> Any:
    """A view from a URL path (``/api/items/``), a dotted path, or the view itself."""
    if not isinstance(target, str):
        return target
    if target.startswith("/"):
        try:
            return resolve(target.split("?", 1)[0]).func
        except Resolver404:
            raise UnknownView(f"No URL pattern matches {target!r}") from None
    try:
        return import_string(target)
    except ImportError as exc:
        raise UnknownView(f"{target!r} is not an importable view: {exc}") from None


def counters(view: Any, request: Any, *, user: Any = None) -> list[Counter]:
    """Every counter ``request`` would count against in ``view``, in check order.

    ``user``, when given, is the user the request is made as (for DRF views
    too, bypassing their authentication). Raises :class:`UnknownView` when the
    view has no drf_ratelimit limits at all: a typo in the path is likelier
    than a support request for it. An empty list means the view is limited
    but this request is exempt (another method, a key or rate that is None).
    """
    view = resolve_view(view)
    if user is not None:
        request.user = user
    declared = getattr(view, "ratelimits", ())
    found = list(_decorator_counters(declared, request))
    view_class = _drf_view_class(view)
    throttled = False
    if view_class is not None:
        throttled, from_throttles = _throttle_counters(view_class, view, request, user)
        found += from_throttles
    if not declared and not throttled:
        raise UnknownView(f"{_name(view)} has no @ratelimit and no drf_ratelimit throttle")
    return found


def group_counter(group: str, rate: Any, value: str, method: MethodSpec = ALL) -> Counter:
    """The counter of ``@ratelimit(group=...)`` / ``get_usage(group=...)`` for a key value.

    ``value`` is what the key gives (a user's pk, a username, a masked IP).
    """
    parsed = parse_rate(rate, source="rate")
    if parsed is None:
        raise ValueError("rate=None has no counter")
    declaration = Declaration(
        DECORATOR, f"group {group!r}", None, parsed, group=group, method=normalise_method(method)
    )
    plan = plan_for(declaration, group)
    assert plan.static_quotas is not None
    return Counter(f"group {group!r}", plan, plan.static_quotas.items[0].rate, value)


def read(found: Sequence[Counter]) -> list[Usage | None]:
    """Each counter's usage now, without counting; None when the cache failed."""
    return [_peek(counter) for counter in found]


def reset(found: Sequence[Counter]) -> int:
    """Delete each counter's current state, under every algorithm; returns how many."""
    now = clock.now()
    for counter in found:
        plan = counter.plan
        aligned = plan.declaration.kind != DECORATOR
        burst = plan.declaration.burst
        keys = every_key(plan.scope, [counter.rate], aligned, burst, counter.value, now)
        plan.cache_object().delete_many(keys)
    return len(found)


def _peek(counter: Counter) -> Usage | None:
    result = counter.plan.run(counter.quotas, counter.value, 0)
    if result is None or result.outcome is None:
        return None
    return result.usages[0]


def _split(source: str, plan: Plan, quotas: Quotas, value: str) -> list[Counter]:
    return [Counter(source, plan, quota.rate, value) for quota in quotas.items]


def _decorator_counters(declared: Sequence[Any], request: Any) -> Iterator[Counter]:
    """``@ratelimit`` stacks, outermost first (the order they count in)."""
    for arguments in reversed(declared):
        plan = plan_for(arguments.declaration, arguments.group)
        counted = plan.resolve(request)
        if counted is not None:
            source = f"@ratelimit(key={arguments.declaration.key!r}) on {_name(arguments.fn)}"
            yield from _split(source, plan, *counted)


def _drf_view_class(view: Any) -> type | None:
    """The APIView class behind ``view`` (a class, ``as_view()``, ``@api_view``)."""
    candidates: list[object] = [view, getattr(view, "cls", None), getattr(view, "view_class", None)]
    for candidate in candidates:
        if isinstance(candidate, type) and hasattr(candidate, "get_throttles"):
            return candidate
    return None


def _throttle_counters(
    view_class: type, view: Any, request: Any, user: Any
) -> tuple[bool, list[Counter]]:
    """(whether the view has drf_ratelimit throttles, their counters for this request)."""
    instance = view_class(**_initkwargs(view))
    drf_request = request if hasattr(request, "_request") else instance.initialize_request(request)
    if user is not None:
        drf_request.user = user
    instance.request, instance.args, instance.kwargs = drf_request, (), {}
    instance.headers, instance.format_kwarg = {}, None
    throttles = [t for t in instance.get_throttles() if hasattr(t, "get_check")]
    found: list[Counter] = []
    for throttle in throttles:
        checked = throttle.get_check(drf_request, instance)
        if checked is not None:
            found += _split(type(throttle).__name__, *checked)
    return bool(throttles), found


def _initkwargs(view: Any) -> dict[str, Any]:
    kwargs = getattr(view, "initkwargs", None) or getattr(view, "view_initkwargs", None)
    return dict(kwargs) if isinstance(kwargs, dict) else {}


def _name(view: Any) -> str:
    target: Callable[..., Any] | type = view
    module = getattr(target, "__module__", "?")
    return f"{module}.{getattr(target, '__qualname__', repr(target))}"
