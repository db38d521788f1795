"""The engine: declarations compiled into plans, and the one step that checks.

Adapters (the decorator, ``get_usage``, the throttles) describe what they
limit as a :class:`Declaration`, get its :class:`Plan` for the current
settings from :func:`plan_for`, and per request ask the plan for the key
value and the quotas, then :meth:`Plan.run` them. :func:`check` does the same
for limits named directly (the ops tools).
"""

from drf_ratelimit._engine.check import Limit, cache_keys, check
from drf_ratelimit._engine.declarations import (
    ANY_SCOPE,
    DECLARED,
    DECORATOR,
    THROTTLE,
    Declaration,
    declare,
)
from drf_ratelimit._engine.plan import Plan, Result, plan_for, ratelimit_cache

__all__ = [
    "ANY_SCOPE",
    "DECLARED",
    "DECORATOR",
    "THROTTLE",
    "Declaration",
    "Limit",
    "Plan",
    "Result",
    "cache_keys",
    "check",
    "declare",
    "plan_for",
    "ratelimit_cache",
]
