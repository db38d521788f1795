"""Declarations: what a ``@ratelimit``, a ``get_usage`` call or a throttle class
says, as written, before any setting is applied.

A declaration is compiled into a :class:`~drf_ratelimit._engine.plan.Plan`
against the settings snapshot (see there). Those made when a module is
imported (decorators, throttle classes) are also recorded in
:data:`DECLARED`, so the system checks validate every one of them at
start-up, with the same parsers the plans use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.cache.backends.base import BaseCache

from drf_ratelimit._algorithms import FIXED_WINDOW, SLIDING_WINDOW
from drf_ratelimit._spec.methods import ALL, MethodSpec

if TYPE_CHECKING:
    from drf_ratelimit._engine.plan import Plan

#: django-ratelimit's kind: the decorator and the functions. Fixed window by
#: default, denied requests charged (in the fixed window), its key layout.
DECORATOR = "decorator"
#: The DRF throttles: the sliding window by default, denied requests not
#: charged, clock-aligned fixed windows.
THROTTLE = "throttle"


@dataclass(frozen=True, eq=False)
class Declaration:
    """One limit as declared. Compared by identity: each is its own counter set."""

    kind: str
    #: Where it was declared, for messages: ``@ratelimit on app.views.login``.
    where: str
    key: Any
    rate: Any
    group: str | None = None
    method: MethodSpec = ALL
    #: An algorithm name, or None for ``RATELIMIT_ALGORITHM``, else the kind's default.
    algorithm: str | None = None
    count_denied: bool | None = None
    burst: int | None = None
    #: A cache object of its own (a throttle's ``cache``), else ``RATELIMIT_USE_CACHE``.
    cache: BaseCache | None = None
    #: How errors name the rate: ``rate``, ``ItemsThrottle.rate``, a setting.
    rate_source: str = "rate"
    #: The algorithm when neither the declaration nor ``RATELIMIT_ALGORITHM``
    #: names one; empty: the kind's (the fixed window for the decorator, the
    #: sliding window for the throttles).
    default_algorithm: str = ""
    #: A DRF throttle's scope: its ``DEFAULT_THROTTLE_RATES`` entry applies
    #: when it has no rate of its own (``ANY_SCOPE``: the view's).
    scope: str | None = None
    #: Its plans by group, each for the settings it was compiled against.
    plans: dict[str, Plan] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.default_algorithm:
            kinds_default = FIXED_WINDOW.name if self.kind == DECORATOR else SLIDING_WINDOW.name
            object.__setattr__(self, "default_algorithm", kinds_default)


#: The scope of a throttle whose scope is the view's (DRF's ScopedRateThrottle).
ANY_SCOPE = "*"

DECLARED: list[Declaration] = []


def declare(declaration: Declaration) -> Declaration:
    """Record a declaration made at import time, for the system checks."""
    DECLARED.append(declaration)
    return declaration
