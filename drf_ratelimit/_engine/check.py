"""Checking limits named directly, without a declaration.

The adapters run compiled plans (:mod:`.plan`). This is the entry point for
callers that hold the limits themselves: a :class:`Limit` per rate, all of
one client and one group, checked (or read, with cost 0) in one atomic call
through the same step every plan ends in. :func:`cache_keys` lists every
key such limits may keep, under every algorithm, which is what a reset
deletes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.cache.backends.base import BaseCache

from drf_ratelimit import clock, conf
from drf_ratelimit._algorithms import NAMES, algorithm_named, parse_algorithm
from drf_ratelimit._algorithms.base import Algorithm, KeyScope
from drf_ratelimit._engine.declarations import DECORATOR, THROTTLE, Declaration
from drf_ratelimit._engine.plan import Plan, overridden
from drf_ratelimit._spec.rates import Rate
from drf_ratelimit._storage import Quotas
from drf_ratelimit.conf import RatelimitSettings
from drf_ratelimit.usage import Usage


@dataclass(frozen=True)
class Limit:
    """One rate applied to one client of one group.

    ``methods`` is the method selector's part of the keys; ``aligned``
    selects the throttles' clock-aligned fixed window instead of
    django-ratelimit's; ``burst`` is the token bucket's size (None: the
    rate's limit).
    """

    group: str
    rate: Rate
    value: str
    methods: str = ""
    aligned: bool = False
    burst: int | None = None

    @property
    def scope(self) -> KeyScope:
        current = conf.snapshot()
        return KeyScope(current.cache_prefix, current.hasher, self.group, self.methods)


def check(
    limits: Sequence[Limit],
    cost: int = 1,
    *,
    algorithm: str | Algorithm = "fixed-window",
    count_denied: bool = False,
    now: float | None = None,
    cache: BaseCache | None = None,
) -> list[Usage] | None:
    """Charge ``cost`` to every limit if all of them admit it (0 only reads).

    The limits are of one client (one key value) in one layout; each may have
    a group of its own (the same limit twice is one counter). ``now`` defaults
    to the clock, or to the Redis server's for the algorithms that keep
    timestamps; ``cache`` to the ``RATELIMIT_USE_CACHE`` cache. None when the
    cache failed and the policy is to fail open.
    """
    first = _common(limits)
    current = conf.snapshot()
    chosen = _algorithm(algorithm, first.aligned)
    distinct = list(dict.fromkeys(limits))
    order = None if len(distinct) == len(limits) else tuple(map(distinct.index, limits))
    rates = overridden([limit.rate for limit in distinct], current.limit_override)
    quotas = Quotas.compile(chosen, rates, first.burst, order)
    app_now = clock.now() if now is None else now
    keys = [
        chosen.keys([quota], limit.scope, limit.value, app_now)[0]
        for quota, limit in zip(quotas.items, distinct, strict=True)
    ]
    plan = _runner(current, chosen, first.aligned, count_denied, cache)
    result = plan.run(quotas, first.value, cost, now, app_now, keys)
    return None if result is None else result.usages


_RUNNERS: dict[tuple[Any, ...], Plan] = {}


def _runner(
    current: RatelimitSettings,
    algorithm: Algorithm,
    aligned: bool,
    count_denied: bool,
    cache: BaseCache | None,
) -> Plan:
    """A plan to run limits named directly: only its store, its charging rule
    and the fail policy are used (the quotas and keys come with the limits).
    Kept per settings, like every plan."""
    shape = (current.generation, algorithm.name, aligned, count_denied, cache)
    plan = _RUNNERS.get(shape)
    if plan is None:
        if len(_RUNNERS) >= 64:
            _RUNNERS.clear()
        declaration = Declaration(
            THROTTLE if aligned else DECORATOR,
            "check()",
            None,
            None,
            algorithm=algorithm.name,
            count_denied=count_denied,
            cache=cache,
        )
        plan = _RUNNERS[shape] = Plan(declaration, "check()", "check()", current)
    return plan


def cache_keys(limits: Sequence[Limit], *, now: float | None = None) -> list[str]:
    """Every key the state of these limits may be under now, whatever the
    algorithm and the backend: what a reset deletes (deleting a key that is
    not there is harmless)."""
    now = clock.now() if now is None else now
    override = conf.snapshot().limit_override
    keys: list[str] = []
    for limit in limits:
        rates = overridden([limit.rate], override)
        keys += every_key(limit.scope, rates, limit.aligned, limit.burst, limit.value, now)
    return keys


def every_key(
    scope: KeyScope,
    rates: Sequence[Rate],
    aligned: bool,
    burst: int | None,
    value: str,
    now: float,
) -> list[str]:
    """The keys of one client's state for these rates under every algorithm."""
    keys: list[str] = []
    for name in NAMES:
        chosen = algorithm_named(name, aligned_windows=aligned)
        quotas = Quotas.compile(chosen, rates, burst)
        keys += chosen.reset_keys(quotas.items, scope, value, now)
    return keys


def _common(limits: Sequence[Limit]) -> Limit:
    if not limits:
        raise ValueError("check() needs at least one limit")
    first = limits[0]
    for limit in limits[1:]:
        if (limit.value, limit.aligned, limit.burst) != (first.value, first.aligned, first.burst):
            raise ValueError(f"{limit!r} is not of the same client and layout as {first!r}")
    return first


def _algorithm(algorithm: str | Algorithm, aligned: bool) -> Algorithm:
    if isinstance(algorithm, str):
        return algorithm_named(parse_algorithm(algorithm, "algorithm"), aligned_windows=aligned)
    return algorithm
