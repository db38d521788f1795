"""DRF throttles that count atomically. The only module of the package that imports DRF.

* :class:`RatelimitThrottle` speaks django-ratelimit's grammar (``key``,
  ``rate``, ``group``, ``method``); ``rate`` may be a list, all enforced.
* :class:`AnonRateThrottle`, :class:`UserRateThrottle` and
  :class:`ScopedRateThrottle` are drop-ins for DRF's classes of the same
  names: same scopes, settings (read through DRF's ``api_settings``, so they
  follow changes at run time), cache-key strings, error messages and, by
  default, DRF's own algorithm (the sliding log: at most N in any period),
  with the extended rate grammar and without the races.

Every throttle makes one atomic check for all its rates (one round trip on
Redis), charging all of them or none. :class:`RatelimitThrottle` defaults to
the sliding window, whose memory per client does not grow with the limit
(``RATELIMIT_ALGORITHM`` or a class's ``algorithm`` changes either default;
see docs/algorithms.md). :meth:`wait` is exact. Like DRF, every throttle
counts a request another throttle denies (see docs/throttles.md).

A throttle's attributes are compiled into a plan the first time it runs
for a view (and again when they or the settings change); DRF still builds
a new throttle object per request, which then only finds its plan.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from operator import attrgetter
from typing import Any, ClassVar

from django.core.cache.backends.base import BaseCache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from drf_ratelimit import clock, conf
from drf_ratelimit._algorithms import SLIDING_LOG, SLIDING_WINDOW, parse_algorithm
from drf_ratelimit._engine import ANY_SCOPE, THROTTLE, Declaration, Plan, Result, declare
from drf_ratelimit._request.ip import settled_client_ip
from drf_ratelimit._request.keys import key_function
from drf_ratelimit._spec.groups import view_class_name
from drf_ratelimit._spec.methods import ALL, MethodSpec
from drf_ratelimit._spec.options import (
    is_dynamic,
    parse_burst,
    parse_count_denied,
    parse_literal_cost,
    resolve_cost,
)
from drf_ratelimit._spec.rates import Rate, parse_rates
from drf_ratelimit._storage import Quotas
from drf_ratelimit.conf import RatelimitSettings
from drf_ratelimit.headers import Policy, policy_names, rate_limit_headers
from drf_ratelimit.signals import send_request_limited
from drf_ratelimit.usage import Usage

__all__ = [
    "AnonRateThrottle",
    "BaseRatelimitThrottle",
    "RatelimitThrottle",
    "ScopedRateThrottle",
    "SimpleRateThrottle",
    "UserRateThrottle",
]

_POLICIES_ATTR = "_drf_ratelimit_policies"


class BaseRatelimitThrottle(BaseThrottle):
    """Counts a request against :meth:`get_check` in one atomic engine call.

    ``cache`` may name a cache object for this throttle (as DRF's ``cache``
    attribute does); by default ``RATELIMIT_USE_CACHE`` is used. ``timer`` is
    the clock, replaceable in tests as in DRF's own suite.
    """

    cache: ClassVar[BaseCache | None] = None
    scope: str | None = None
    #: ``'fixed-window'``, ``'sliding-window'``, ``'token-bucket'`` or
    #: ``'sliding-log'``; None: ``RATELIMIT_ALGORITHM``, else :attr:`default_algorithm`.
    algorithm: str | None = None
    #: The algorithm when neither ``algorithm`` nor ``RATELIMIT_ALGORITHM`` names one.
    default_algorithm: ClassVar[str] = SLIDING_WINDOW.name
    #: What a request counts as: an int, or a callable of the request (or its
    #: dotted path). Override :meth:`get_cost` for anything else.
    cost: Any = 1
    #: Charge denied requests too (brute-force defence); None: ``RATELIMIT_COUNT_DENIED``.
    count_denied: bool | None = None
    #: The token bucket's size; None: each rate's own limit.
    burst: int | None = None
    _result: Result | None = None

    #: This class's plans by shape (every subclass gets its own dict).
    _drf_ratelimit_plans: ClassVar[dict[tuple[Any, ...], Plan]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._drf_ratelimit_plans = {}
        if isinstance(cls.__dict__.get("cost"), types.FunctionType):  # not a method
            cls.cost = staticmethod(cls.__dict__["cost"])
        _validate_options(cls)
        if cls.__module__ == __name__:
            return  # the package's own classes: the checks see them where a project uses them
        key, rate = cls._declared_key_and_rate()
        declare(
            Declaration(
                THROTTLE,
                f"{cls.__module__}.{cls.__qualname__}",
                key,
                rate,
                algorithm=cls.algorithm,
                default_algorithm=cls.default_algorithm,
                scope=cls._declared_scope(),
            )
        )

    @classmethod
    def _declared_key_and_rate(cls) -> tuple[Any, Any]:
        """What the system checks parse at start-up (DRF-style classes may
        parse their own rates, so by default nothing)."""
        return None, None

    @classmethod
    def _declared_scope(cls) -> str | None:
        """The ``DEFAULT_THROTTLE_RATES`` entry the system checks look at."""
        return cls.scope if isinstance(cls.scope, str) else None

    def timer(self) -> float:
        return clock.now()

    def get_cost(self, request: Request) -> int:
        """What this request counts as against every rate of this throttle."""
        cost = self.cost
        if type(cost) is int and cost >= 0:
            return cost
        return resolve_cost(cost, request, f"{type(self).__name__}.cost")

    @property
    def THROTTLE_RATES(self) -> Mapping[str, Any]:
        """``DEFAULT_THROTTLE_RATES`` as DRF's ``api_settings`` has it now (DRF
        froze it at import); a subclass may set its own dict."""
        rates = api_settings.DEFAULT_THROTTLE_RATES
        if not isinstance(rates, Mapping):
            raise ImproperlyConfigured(
                f"{conf.THROTTLE_RATES_SETTING}={rates!r} must be a dict of scope to rate"
            )
        return rates

    @property
    def usages(self) -> Sequence[Usage]:
        """The usage of each rate after the last check (empty when nothing was counted)."""
        return () if self._result is None else self._result.usages

    def get_check(
        self, request: Request, view: Any, current: RatelimitSettings | None = None
    ) -> tuple[Plan, Quotas, str] | None:
        """The plan, rates and key value this request counts against; None to
        let it through uncounted. ``current``: the settings, if already read."""
        raise NotImplementedError(".get_check() must be overridden")

    def policy_name(self) -> str:
        """The name of this throttle's policy in the RateLimit headers."""
        return self.scope or type(self).__name__

    def allow_request(self, request: Request, view: Any) -> bool:
        self._result = None
        current = drf_settings()
        if not current.enabled:
            return True
        checked = self.get_check(request, view, current)
        if checked is None:
            return True
        plan, quotas, value = checked
        timer = self.timer
        # A subclass's (or a test's) own timer() decides; else the engine may
        # use the Redis server's clock.
        own_clock = getattr(timer, "__func__", None) is not BaseRatelimitThrottle.timer
        self.now = now = timer() if own_clock else clock.now()
        cost = self.cost
        if type(cost) is not int or cost < 0 or type(self).get_cost is not _GET_COST:
            cost = self.get_cost(request)
        result = plan.run(quotas, value, cost, now if own_clock else None, now)
        if result is None:  # the cache failed and RATELIMIT_FAIL_OPEN is on
            return True
        self._result = result
        if current.headers:
            _publish_headers(request, view, self._policies(result))
        if result.allowed:
            return self.throttle_success()
        send_request_limited(
            type(self), request=request, view=view, group=self.policy_name(), usages=result.usages
        )
        return self.throttle_failure()

    def _plan(
        self,
        shape: tuple[Any, ...],
        compile: Callable[[RatelimitSettings], Plan],
        current: RatelimitSettings | None,
    ) -> Plan:
        """The plan for this throttle's attributes as they are now (``shape``):
        compiled once per distinct shape and settings, so a throttle changed at
        run time (on the class or the instance, as tests do) is recompiled."""
        if current is None:
            current = conf.snapshot()
        plans = self._drf_ratelimit_plans
        try:
            plan = plans.get(shape)
        except TypeError:  # an unhashable attribute (a set of methods): compiled each time
            return compile(current)
        if plan is None or plan.generation != current.generation:
            if len(plans) >= _PLANS_KEPT:  # attributes set per request: keep memory bounded
                plans.clear()
            plan = plans[shape] = compile(current)
        return plan

    def throttle_success(self) -> bool:
        """Called after a counted request was allowed; DRF's hook, kept for subclasses."""
        return True

    def throttle_failure(self) -> bool:
        """Called after a counted request was denied (a place to log or alert)."""
        return False

    def get_ident(self, request: Request) -> str:
        """The client address: ``REMOTE_ADDR`` unless trusted proxies are configured.

        Replaces DRF's version, which trusts a client-sent X-Forwarded-For.
        """
        return settled_client_ip(request, drf_settings())

    def wait(self) -> float | None:
        """Seconds until a request like the last one would be admitted by every rate.

        Exact for every algorithm, and never 0 while a rate is exhausted. None
        when nothing is exhausted, and when the cache failed (fail-closed):
        nobody knows when it will be back.
        """
        waits = [usage.retry_after for usage in self.usages if not usage.failed]
        return max(waits, default=0.0) or None

    def _policies(self, result: Result) -> list[Policy]:
        usages = result.usages
        names = policy_names(self.policy_name(), [usage.period for usage in usages])
        denied = not result.allowed
        return [Policy(name, usage, denied) for name, usage in zip(names, usages, strict=True)]


def drf_settings() -> RatelimitSettings:
    """The settings snapshot, with DRF's ``NUM_PROXIES`` as ``api_settings`` has
    it now (when ``RATELIMIT_PROXY_COUNT`` is unset): DRF's own throttles read
    it there on every request, and projects and DRF's tests set it there."""
    current = conf.snapshot()
    if current.own_proxy_count:
        return current
    num_proxies = api_settings.NUM_PROXIES
    if num_proxies == current.proxy_count:
        return current
    return conf.with_proxy_count(current, conf.parse_num_proxies(num_proxies))


#: Plans one throttle class keeps (a class whose attributes vary per request
#: could otherwise make one for every request).
_PLANS_KEPT = 256
#: The attributes that shape a throttle's plan, besides its rate (and its view).
_OPTIONS = attrgetter("algorithm", "count_denied", "burst", "cache")


_GET_COST = BaseRatelimitThrottle.get_cost


def _publish_headers(request: Request, view: Any, policies: list[Policy]) -> None:
    """Merge this throttle's policies into the view's response headers.

    DRF copies ``view.headers`` onto the response in ``finalize_response``,
    429s included. Policies accumulate on the request, so with several
    throttles the last one writes headers that cover them all.
    """
    headers = getattr(view, "headers", None)
    if not isinstance(headers, dict):  # a view used outside dispatch (schema tools)
        return
    accumulated = [*getattr(request, _POLICIES_ATTR, ()), *policies]
    setattr(request, _POLICIES_ATTR, accumulated)
    headers.update(rate_limit_headers(accumulated))


def _validate_options(cls: type[BaseRatelimitThrottle]) -> None:
    """Literal options fail when the class is defined, not on the first request."""
    name = cls.__name__
    if cls.algorithm is not None:
        parse_algorithm(cls.algorithm, f"{name}.algorithm")
    parse_literal_cost(cls.cost, f"{name}.cost")
    parse_count_denied(cls.count_denied, f"{name}.count_denied")
    parse_burst(cls.burst, f"{name}.burst")


def _frozen(value: Any) -> Any:
    """A list (of rates, of methods) as something hashable that no other
    declaration can equal, so it can be part of a plan's shape."""
    return (list, tuple(value)) if isinstance(value, list) else value


class RatelimitThrottle(BaseRatelimitThrottle):
    """A throttle configured with django-ratelimit's grammar.

    * ``key``: ``'ip'``, ``'user'``, ``'user_or_ip'`` (default), ``'header:x-api-key'``,
      ``'data:username'``, a callable ``(group, request)`` or its dotted path.
    * ``rate``: ``'100/15m'``, ``(100, 900)``, a list such as ``['10/s', '1000/d']``,
      a callable ``(group, request)`` or its dotted path. ``None`` (default):
      ``DEFAULT_THROTTLE_RATES[scope]``.
    * ``group``: share a counter between views (and throttle classes); by
      default each view counts on its own, per throttle class.
    * ``method``: only requests with these methods are counted (default: all).
    * ``scope``: the ``DEFAULT_THROTTLE_RATES`` entry used when ``rate`` is None,
      and the policy name in the RateLimit headers.

    Literal keys and rates are checked when the class is defined, so a typo is
    an ImproperlyConfigured at import, not a 500 on the first request.
    """

    key: Any = "user_or_ip"
    rate: Any = None
    group: str | None = None
    method: MethodSpec = ALL
    scope: str | None = "ratelimit"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        for name in ("key", "rate"):  # a function in the class body is not a method
            if isinstance(cls.__dict__.get(name), types.FunctionType):
                setattr(cls, name, staticmethod(cls.__dict__[name]))
        _validate_literals(cls)
        super().__init_subclass__(**kwargs)

    @classmethod
    def _declared_key_and_rate(cls) -> tuple[Any, Any]:
        return cls.key, cls.rate

    def get_check(
        self, request: Request, view: Any, current: RatelimitSettings | None = None
    ) -> tuple[Plan, Quotas, str] | None:
        rate = self.rate
        if rate is None:
            rate = _scope_rate(self)
        view_class = type(view)
        grammar = (view_class, _frozen(rate), self.key, self.group, _frozen(self.method))
        shape: tuple[Any, ...] = grammar + _OPTIONS(self)
        plan = self._plan(shape, lambda now: self._compile(view_class, rate, now), current)
        counted = plan.resolve(request)
        return None if counted is None else (plan, *counted)

    def _compile(self, view_class: type, rate: Any, current: RatelimitSettings) -> Plan:
        """The plan for this view: the group key and rate callables see is the
        ``group``, else the view's name; without a ``group`` each (view,
        throttle class) pair counts on its own, so two throttles of one view
        never add up each other's requests."""
        throttle = type(self)
        source = (
            _rate_attribute(throttle)
            if self.rate is not None
            else conf.throttle_rate_setting(self.scope)
        )
        declaration = Declaration(
            THROTTLE,
            f"{throttle.__module__}.{throttle.__qualname__}",
            self.key,
            rate,
            group=self.group,
            method=self.method,
            algorithm=self.algorithm,
            count_denied=self.count_denied,
            burst=self.burst,
            cache=self.cache,
            rate_source=source,
            default_algorithm=self.default_algorithm,
        )
        if self.group:
            return Plan(declaration, self.group, self.group, current)
        view_name = _view_name(view_class)
        counter = f"{view_name}\0{throttle.__module__}.{throttle.__qualname__}"
        return Plan(declaration, view_name, counter, current)


_VIEW_NAMES: dict[type, str] = {}


def _view_name(view_class: type) -> str:
    name = _VIEW_NAMES.get(view_class)
    if name is None:
        name = _VIEW_NAMES[view_class] = view_class_name(view_class)
    return name


def _validate_literals(cls: type[RatelimitThrottle]) -> None:
    key_function(cls.key)
    if not is_dynamic(cls.rate):
        parse_rates(cls.rate, source=_rate_attribute(cls))


def _scope_rate(throttle: BaseRatelimitThrottle) -> Any:
    """DRF's ``get_rate()``: the scope's entry in the rates, with DRF's messages."""
    scope = throttle.scope
    if not scope:
        raise ImproperlyConfigured(
            f"You must set either `.scope` or `.rate` for '{type(throttle).__name__}' throttle"
        )
    try:
        return throttle.THROTTLE_RATES[scope]
    except KeyError:
        raise ImproperlyConfigured(f"No default throttle rate set for '{scope}' scope") from None


def _rate_attribute(throttle: type) -> str:
    """How error messages name a throttle class's ``rate`` attribute."""
    return f"{throttle.__name__}.rate"


class SimpleRateThrottle(BaseRatelimitThrottle):
    """DRF's ``SimpleRateThrottle`` surface over the atomic engine.

    ``rate`` on the class wins, else ``THROTTLE_RATES[scope]``, which reads
    ``DEFAULT_THROTTLE_RATES`` now (DRF froze it at import). A subclass may
    still set ``THROTTLE_RATES`` to a dict of its own. ``get_cache_key``
    returns DRF's strings (``throttle_anon_<ident>``); the stored key is a hash
    of it with the scope (and the algorithm's own part: for the sliding log,
    the period). By default the algorithm is DRF's, the sliding log, kept
    atomically in the cache.
    """

    cache_format = "throttle_%(scope)s_%(ident)s"
    rate: Any = None
    default_algorithm: ClassVar[str] = SLIDING_LOG.name

    def __init__(self) -> None:
        self._resolve_rate()

    def _resolve_rate(self) -> None:
        rate = getattr(self, "rate", None)
        scope = None
        if not rate:
            rate = self.rate = self.get_rate()
            scope = self.scope
        cls = type(self)
        if cls.parse_rate is SimpleRateThrottle.parse_rate:
            self.rates, self.num_requests, self.duration = _parsed_rates(rate, cls.__name__, scope)
        else:  # a DRF-style subclass that parses its own rates, e.g. "5/15min" -> (5, 900)
            self.rates = _rates_from_pair(self.parse_rate(rate), cls.__name__)
            self.num_requests, self.duration = _first(self.rates)

    @classmethod
    def _declared_key_and_rate(cls) -> tuple[Any, Any]:
        base = globals().get("SimpleRateThrottle", cls)  # cls itself, while it is defined
        if cls.parse_rate is not base.parse_rate:
            return None, None  # a grammar of its own: parsed when it runs
        return None, cls.rate

    def get_rate(self) -> Any:
        return _scope_rate(self)

    def wait(self) -> float | None:
        """The exact wait of the last check, which is what DRF's ``wait()``
        answers after a denial (except that a rate lowered below the requests
        already admitted still gets a wait, where DRF answers None).

        DRF's ``history`` is not kept on the throttle (the log stays in the
        cache); a subclass or caller that sets it gets DRF's formula applied
        to it, with ``now``, ``num_requests`` and ``duration``.
        """
        history = self.__dict__.get("history")
        if history is None:
            return super().wait()
        return drf_wait(history, self.num_requests, self.duration, lambda: self.now)

    def parse_rate(self, rate: Any) -> tuple[int | None, int | None]:
        """DRF's ``(num_requests, duration)`` of the first rate, ``(None, None)`` for None."""
        return _first(parse_rates(rate, source=_rate_attribute(type(self))))

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        raise NotImplementedError(".get_cache_key() must be overridden")

    def get_check(
        self, request: Request, view: Any, current: RatelimitSettings | None = None
    ) -> tuple[Plan, Quotas, str] | None:
        if not self.rates:
            return None
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return None
        shape = (self.scope, _frozen(self.rate), *_OPTIONS(self))
        plan = self._plan(shape, self._compile, current)
        quotas = plan.static_quotas
        return None if quotas is None else (plan, quotas, self.key)

    def _compile(self, current: RatelimitSettings) -> Plan:
        throttle = type(self)
        declaration = Declaration(
            THROTTLE,
            f"{throttle.__module__}.{throttle.__qualname__}",
            None,
            list(self.rates),
            algorithm=self.algorithm,
            count_denied=self.count_denied,
            burst=self.burst,
            cache=self.cache,
            default_algorithm=self.default_algorithm,
        )
        group = self.scope or throttle.__qualname__
        return Plan(declaration, group, group, current)

    def _ident_or_pk(self, request: Request) -> str:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return str(user.pk)
        return self.get_ident(request)


ParsedRates = tuple[tuple[Rate, ...], int | None, int | None]


def _parsed_rates(rate: Any, throttle: str, scope: str | None) -> ParsedRates:
    """``rate`` parsed (once per distinct value), and DRF's ``num_requests`` and
    ``duration``; an error names the class attribute or (``scope``) the setting."""
    try:
        return _parsed_rates_cached(_frozen(rate), throttle, scope)
    except TypeError:  # something unhashable inside: parsed each time
        return _parse_rates(rate, throttle, scope)


@lru_cache(maxsize=256, typed=True)
def _parsed_rates_cached(frozen: Any, throttle: str, scope: str | None) -> ParsedRates:
    rate = list(frozen[1]) if type(frozen) is tuple and frozen[:1] == (list,) else frozen
    return _parse_rates(rate, throttle, scope)


def _parse_rates(rate: Any, throttle: str, scope: str | None) -> ParsedRates:
    source = f"{throttle}.rate" if scope is None else conf.throttle_rate_setting(scope)
    rates = parse_rates(rate, source=source)
    return (rates, *_first(rates))


def _rates_from_pair(pair: Any, throttle: str) -> tuple[Rate, ...]:
    if pair is None or tuple(pair) == (None, None):
        return ()
    return parse_rates(tuple(pair), source=f"{throttle}.parse_rate() returned")


def _first(rates: Sequence[Rate]) -> tuple[int | None, int | None]:
    return (rates[0].limit, rates[0].period) if rates else (None, None)


def drf_wait(
    history: Sequence[float],
    num_requests: int | None,
    duration: int | None,
    now: Callable[[], float],
) -> float | None:
    """DRF's ``SimpleRateThrottle.wait()`` formula over a history, newest first:
    the time until the oldest entry expires, spread over the requests still
    available; None when none is."""
    assert num_requests is not None and duration is not None, "wait() of a throttle with a rate"
    remaining = duration - (now() - history[-1]) if history else duration
    available = num_requests - len(history) + 1
    return None if available <= 0 else remaining / float(available)


class AnonRateThrottle(SimpleRateThrottle):
    """Limits anonymous clients by IP (scope ``anon``); authenticated users pass."""

    scope = "anon"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class UserRateThrottle(SimpleRateThrottle):
    """Limits each user by id, anonymous clients by IP (scope ``user``)."""

    scope = "user"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self._ident_or_pk(request)}


class ScopedRateThrottle(SimpleRateThrottle):
    """Limits by the view's ``throttle_scope``; views without one are not throttled.

    Views that share a scope share its count, as in DRF.
    """

    scope_attr = "throttle_scope"

    @classmethod
    def _declared_scope(cls) -> str | None:
        return ANY_SCOPE

    def __init__(self) -> None:
        """The rate depends on the view, so it is resolved in :meth:`get_check`."""

    def get_check(
        self, request: Request, view: Any, current: RatelimitSettings | None = None
    ) -> tuple[Plan, Quotas, str] | None:
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return None
        self.rate = None
        self._resolve_rate()
        return super().get_check(request, view, current)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self._ident_or_pk(request)}
