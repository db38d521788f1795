"""Which counters a view holds for one client: read them, reset them.

Support work ("unlock this user"), the ``ratelimit`` management command and
:mod:`drf_ratelimit.testing` all need the counters of one view for one client.
Cache keys are hashes, so they cannot be found by scanning the cache (and
memcached cannot be scanned at all). Instead the view's limits are resolved
for a request that stands for the client, by the same code that counts real
requests: ``@ratelimit``'s arguments through :func:`.core.resolve_limit`, each
drf_ratelimit throttle through its ``get_limits()``. Keys, callables, methods
and proxies are therefore honoured exactly, on every backend.

DRF views are handled through their own methods (``initialize_request``,
``get_throttles``); this module never imports DRF itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.core.cache.backends.base import BaseCache
from django.urls import Resolver404, resolve
from django.utils.module_loading import import_string

from drf_ratelimit import conf
from drf_ratelimit.algorithms import FIXED_WINDOW
from drf_ratelimit.core import resolve_limit
from drf_ratelimit.engine import Limit, cache_keys, check, ratelimit_cache
from drf_ratelimit.methods import ALL, MethodSpec, method_key_part, normalise_method
from drf_ratelimit.rates import parse_rate
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
    """One limit of a view, for one client: where it is counted and by whom."""

    source: str
    limit: Limit
    cache: BaseCache | None = None
    #: The algorithm it counts with (None: RATELIMIT_ALGORITHM, else the fixed window).
    algorithm: str | None = None

    def describe(self) -> str:
        return f"{self.source} {self.limit.rate.limit}/{self.limit.rate.period}s"


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
    methods = method_key_part(normalise_method(method))
    return Counter(f"group {group!r}", Limit(group, parsed, value, methods=methods))


def read(found: Sequence[Counter]) -> list[Usage | None]:
    """Each counter's usage now, without counting; None when the cache failed."""
    return [_peek(counter) for counter in found]


def reset(found: Sequence[Counter]) -> int:
    """Delete the current window of each counter; returns how many were deleted."""
    for counter in found:
        cache = counter.cache if counter.cache is not None else ratelimit_cache()
        cache.delete_many(cache_keys([counter.limit]))
    return len(found)


def _peek(counter: Counter) -> Usage | None:
    algorithm = counter.algorithm or conf.algorithm(FIXED_WINDOW)
    usages = check([counter.limit], 0, algorithm=algorithm, cache=counter.cache)
    if usages is None or usages[0].failed:
        return None
    return usages[0]


def _decorator_counters(declared: Sequence[Any], request: Any) -> Iterator[Counter]:
    """``@ratelimit`` stacks, outermost first (the order they count in)."""
    for arguments in reversed(declared):
        limit = resolve_limit(
            request,
            group=arguments.group,
            fn=arguments.fn,
            key=arguments.key,
            rate=arguments.rate,
            method=arguments.method,
        )
        if limit is not None:
            source = f"@ratelimit(key={arguments.key!r}) on {_name(arguments.fn)}"
            options = arguments.options
            if options.burst is not None:
                limit = replace(limit, burst=options.burst)
            yield Counter(source, limit, algorithm=options.algorithm)


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
    from drf_ratelimit.throttles import BaseRatelimitThrottle  # DRF only for DRF views

    instance = view_class(**_initkwargs(view))
    drf_request = request if hasattr(request, "_request") else instance.initialize_request(request)
    if user is not None:
        drf_request.user = user
    instance.request, instance.args, instance.kwargs = drf_request, (), {}
    instance.headers, instance.format_kwarg = {}, None
    throttles = [t for t in instance.get_throttles() if isinstance(t, BaseRatelimitThrottle)]
    found = [
        Counter(type(throttle).__name__, limit, throttle.cache, throttle.get_algorithm())
        for throttle in throttles
        for limit in throttle.get_limits(drf_request, instance)
    ]
    return bool(throttles), found


def _initkwargs(view: Any) -> dict[str, Any]:
    kwargs = getattr(view, "initkwargs", None) or getattr(view, "view_initkwargs", None)
    return dict(kwargs) if isinstance(kwargs, dict) else {}


def _name(view: Any) -> str:
    target: Callable[..., Any] | type = view
    module = getattr(target, "__module__", "?")
    return f"{module}.{getattr(target, '__qualname__', repr(target))}"
