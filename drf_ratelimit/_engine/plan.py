"""Plans: a declaration compiled once, run per request.

A :class:`Plan` is a :class:`~drf_ratelimit._engine.declarations.Declaration`
with every setting applied: the algorithm object, whether denied requests
are charged, the method filter, the key function, the rates compiled into
:class:`~drf_ratelimit._storage.Quotas`, and where its keys live. It is built
the first time a declaration runs and again when the settings snapshot
changes (:func:`plan_for`). Per request only this is left:

1. the method filter, the rates if they are a callable, and the key value
   (:meth:`Plan.resolve`);
2. one store call (:meth:`Plan.run`): one script on Redis, one lock in local
   memory, counters on memcached, with the store this thread found first;
3. the :class:`Result`, whose ``Usage`` objects are computed only if someone
   reads them (a header, ``wait()``, ``get_usage``).

Cache failures are resolved here, and only here: logged on the
``drf_ratelimit`` logger, ``fail_policy_used`` sent, and
``RATELIMIT_FAIL_OPEN`` decides.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from django.core.cache import InvalidCacheBackendError, caches
from django.core.cache.backends.base import BaseCache
from django.core.exceptions import ImproperlyConfigured

from drf_ratelimit import clock, conf, signals
from drf_ratelimit._algorithms import algorithm_named
from drf_ratelimit._algorithms.base import US, Algorithm, Charge, Decision, KeyScope, Outcome
from drf_ratelimit._engine.declarations import DECORATOR, Declaration
from drf_ratelimit._request.keys import KeyFunc, compile_key, normalise_value
from drf_ratelimit._spec.methods import method_key_part, method_set, normalise_method
from drf_ratelimit._spec.options import is_dynamic, resolve_rate, resolve_rates
from drf_ratelimit._spec.rates import Rate, parse_rate, parse_rates
from drf_ratelimit._storage import Quotas, Store, store_for
from drf_ratelimit.conf import RatelimitSettings
from drf_ratelimit.exceptions import CounterUnavailable
from drf_ratelimit.usage import FAIL_CLOSED, Usage

logger = logging.getLogger("drf_ratelimit")

#: Distinct rates a callable may answer before a plan forgets the compiled ones.
_DYNAMIC_QUOTAS_KEPT = 64


def plan_for(declaration: Declaration, group: str, counter: str | None = None) -> Plan:
    """The plan of ``declaration`` for ``group``, compiled for the settings as they are.

    ``group`` is what key and rate callables receive; ``counter`` (default:
    the group) is what sets the counters apart in the cache.
    """
    current = conf.snapshot()
    plan = declaration.plans.get(group)
    if plan is None or plan.generation != current.generation:
        plan = Plan(declaration, group, counter or group, current)
        declaration.plans[group] = plan
    return plan


class Plan:
    """One declaration for one group, under one settings snapshot."""

    def __init__(
        self, declaration: Declaration, group: str, counter: str, current: RatelimitSettings
    ) -> None:
        self.declaration = declaration
        self.group = group
        self.generation = current.generation
        self.enabled = current.enabled
        self.fail_open = current.fail_open
        self.limit_override = current.limit_override
        self.cache = declaration.cache
        self.alias = current.cache_alias
        method = normalise_method(declaration.method)
        self.methods = method_set(method)
        self.scope = KeyScope(
            current.cache_prefix, current.hasher, counter, method_key_part(method)
        )
        name = declaration.algorithm or current.resolve_default_algorithm(
            declaration.default_algorithm
        )
        self.algorithm = algorithm_named(name, aligned_windows=declaration.kind != DECORATOR)
        decorator_default = declaration.kind == DECORATOR and name == "fixed-window"
        self.count_denied = (
            declaration.count_denied
            if declaration.count_denied is not None
            else current.resolve_count_denied(decorator_default)
        )
        self.key_fn = _key_function(declaration.key, current)
        self.headers = current.headers
        #: This thread's store (Django gives each thread its own cache objects).
        self._here = threading.local()
        self.static_quotas: Quotas | None = None
        self.dynamic = is_dynamic(declaration.rate)
        self._dynamic_quotas: dict[tuple[Rate, ...], Quotas] = {}
        if not self.dynamic:
            rates = self._parse(declaration.rate)
            self.static_quotas = self._compile(rates) if rates else None

    def resolve(self, request: Any) -> tuple[Quotas, str] | None:
        """What ``request`` counts against: the compiled rates and the key value,
        decided in django-ratelimit's order (method, rate, key); None when it is
        not counted."""
        methods = self.methods
        if methods is not None and (request.method or "").upper() not in methods:
            return None
        quotas = self._quotas_for(request) if self.dynamic else self.static_quotas
        if quotas is None:
            return None
        value = self.key_fn(self.group, request)
        if type(value) is not str:
            value = normalise_value(value, self.declaration.key)
            if value is None:
                return None
        return quotas, value

    def _quotas_for(self, request: Any) -> Quotas | None:
        """The compiled rates a rate callable answers for this request; None
        when no rate applies."""
        declaration = self.declaration
        if declaration.kind == DECORATOR:
            rate = resolve_rate(declaration.rate, self.group, request, declaration.rate_source)
            rates: tuple[Rate, ...] = () if rate is None else (rate,)
        else:
            rates = resolve_rates(declaration.rate, self.group, request, declaration.rate_source)
        quotas = self._dynamic_quotas.get(rates)
        if quotas is None:
            if len(self._dynamic_quotas) >= _DYNAMIC_QUOTAS_KEPT:
                self._dynamic_quotas.clear()
            quotas = self._dynamic_quotas[rates] = self._compile(rates)
        return quotas if quotas.items else None

    def _parse(self, rate: Any) -> tuple[Rate, ...]:
        source = self.declaration.rate_source
        if self.declaration.kind == DECORATOR:
            parsed = parse_rate(rate, source=source)
            return () if parsed is None else (parsed,)
        return parse_rates(rate, source=source)

    def _compile(self, rates: Sequence[Rate]) -> Quotas:
        rates = overridden(rates, self.limit_override)
        return Quotas.distinct(self.algorithm, rates, self.declaration.burst)

    def cache_object(self) -> BaseCache:
        """The cache this plan counts in."""
        return self.cache if self.cache is not None else ratelimit_cache(self.alias)

    def store(self) -> Store:
        """This thread's store for this plan's cache (one that can run its algorithm)."""
        try:
            return self._here.store  # type: ignore[no-any-return]
        except AttributeError:
            cache = self.cache
            store = store_for(cache) if cache is not None else alias_store(self.alias)
            accept(store, self.algorithm)
            self._here.store = store
            return store

    def run(
        self,
        quotas: Quotas,
        value: str,
        cost: int,
        now: float | None = None,
        app_now: float | None = None,
        keys: Sequence[str] | None = None,
    ) -> Result | None:
        """Charge ``cost`` to every quota if all of them admit it (0 only reads).

        ``now`` is the time to decide at; None: the app's clock (``app_now``,
        if the caller has already read it), or the Redis server's for the
        algorithms that keep timestamps. ``keys`` default to the algorithm's
        for this client. None when the cache failed and the policy is to fail
        open.
        """
        if app_now is None:
            app_now = clock.now() if now is None else now
        algorithm = quotas.algorithm
        if keys is None:
            keys = algorithm.keys(quotas.items, self.scope, value, app_now)
        try:  # self.store(), without a call in the steady state
            store = self._here.store
        except AttributeError:
            store = self.store()
        if algorithm.uses_clock and store.server_clock and now is None and not clock.injected():
            now_us = None  # the server decides with its own clock
        else:
            now_us = round(app_now * US)
        try:
            outcome = store.run(quotas, Charge(keys, cost, self.count_denied, now_us))
        except CounterUnavailable as exc:
            return fail(exc, quotas, self.fail_open)
        return Result(outcome, quotas, cost, app_now, value)


def overridden(rates: Sequence[Rate], limit: int | None) -> Sequence[Rate]:
    """``rates`` with the limit :func:`drf_ratelimit.testing.override_ratelimit`
    set (each keeps its own period, so two rates stay two counters)."""
    return rates if limit is None else [Rate(limit, rate.period) for rate in rates]


def _key_function(key: Any, current: RatelimitSettings) -> KeyFunc:
    """The key's function, or one that raises its error when a request needs
    it: django-ratelimit checks the key only after the rate, so a declaration
    whose rate is None never complains about its key."""
    if not key:
        return _raises(ImproperlyConfigured("Ratelimit key must be specified"))
    try:
        return compile_key(key, current)
    except ImproperlyConfigured as exc:
        return _raises(exc)


def _raises(error: ImproperlyConfigured) -> KeyFunc:
    def key(group: str, request: Any) -> object:
        raise error

    return key


class Result:
    """How one check went. ``usages`` (one per declared rate, in order) are
    computed on first access: an allowed request without headers never needs them."""

    __slots__ = ("_usages", "allowed", "cost", "now", "outcome", "quotas", "value")

    def __init__(
        self, outcome: Outcome | None, quotas: Quotas, cost: int, now: float, value: str
    ) -> None:
        self.outcome = outcome
        self.allowed = outcome is not None and outcome.allowed
        self.quotas = quotas
        self.cost = cost
        self.now = now
        self.value = value
        self._usages: list[Usage] | None = None

    @property
    def usages(self) -> list[Usage]:
        if self._usages is None:
            self._usages = self._compute()
        return self._usages

    def _compute(self) -> list[Usage]:
        quotas, outcome = self.quotas, self.outcome
        if outcome is None:  # the cache failed and the policy is to fail closed
            return [FAIL_CLOSED] * quotas.declared
        algorithm = quotas.algorithm
        found = algorithm.found(outcome.found) if outcome.raw else outcome.found
        decision = Decision(self.cost, outcome.counted, outcome.now_us, self.now, self.value)
        computed = [
            algorithm.usage(quota, state, decision)
            for quota, state in zip(quotas.items, found, strict=True)
        ]
        if quotas.order is None:
            return computed
        return [computed[i] for i in quotas.order]


def fail(exc: CounterUnavailable, quotas: Quotas, fail_open: bool) -> Result | None:
    """The single place a cache failure is resolved (and ``fail_policy_used`` sent)."""
    if fail_open:
        logger.warning("Rate limit cache failed; failing open (request allowed): %s", exc)
    else:
        logger.error("Rate limit cache failed; failing closed (request limited): %s", exc)
    signals.send_fail_policy_used(exc, fail_open=fail_open)
    return None if fail_open else Result(None, quotas, 0, 0.0, "")


def accept(store: Store, algorithm: Algorithm) -> None:
    """Refuse an algorithm the store cannot run atomically (never race silently)."""
    if not store.accepts(algorithm):
        raise ImproperlyConfigured(
            f"The cache RATELIMIT_USE_CACHE={conf.cache_alias()!r} cannot run the "
            f"{algorithm.name!r} algorithm atomically (its adapter is {store.name!r}); "
            "use Redis, memcached through pymemcache or local memory, or another algorithm"
        )


def ratelimit_cache(alias: str | None = None) -> BaseCache:
    """The cache named by ``RATELIMIT_USE_CACHE`` (or ``alias``)."""
    alias = conf.cache_alias() if alias is None else alias
    try:
        return caches[alias]
    except InvalidCacheBackendError as exc:
        raise InvalidCacheBackendError(
            f"RATELIMIT_USE_CACHE={alias!r} is not an alias in CACHES"
        ) from exc


def alias_store(alias: str) -> Store:
    """The store of this thread's cache object for ``alias``.

    Django hands each thread its own cache objects (a memcached client is not
    thread-safe), so each thread has its own stores; a plan keeps the one of
    each thread it runs in, until the settings change.
    """
    return store_for(ratelimit_cache(alias))
