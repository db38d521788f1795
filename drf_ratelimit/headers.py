"""IETF ``RateLimit-Policy`` and ``RateLimit`` header fields. Pure: usages in, text out.

Follows draft-ietf-httpapi-ratelimit-headers (-10 and later): both fields are
Structured Field Lists. ``RateLimit-Policy`` names every quota that applied to
the request (``q`` requests per ``w`` seconds); ``RateLimit`` reports the most
restrictive one, with ``r`` requests remaining and ``t`` seconds until quota
comes back. The partition key (``pk``) is never sent: it would leak who shares
a bucket. Serialisation is done by ``http_sf`` so names are always escaped
correctly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import http_sf
from http_sf.types import ItemType, ListType, ParamsType

from drf_ratelimit.usage import Usage

POLICY_HEADER = "RateLimit-Policy"
STATUS_HEADER = "RateLimit"


@dataclass(frozen=True)
class Policy:
    """One quota applied to a request, and whether its throttle denied the request."""

    name: str
    usage: Usage
    denied: bool = False


def policy_names(base: str, periods: Sequence[int]) -> list[str]:
    """One name per rate of a throttle: the base name, or ``base-<period>s`` for several."""
    if len(periods) == 1:
        return [base]
    return [f"{base}-{period}s" for period in periods]


def rate_limit_headers(policies: Sequence[Policy]) -> dict[str, str]:
    """The two header fields for these policies, or nothing when none can be reported.

    When the request was denied, ``RateLimit`` reports the denying quota with
    the latest retry time, and ``t`` is that retry time. That is exactly the
    wait the throttle gave DRF, so ``Retry-After`` (the largest wait, rounded
    up) is never earlier than ``t``. Otherwise ``t`` is the time until the
    whole quota is back.
    """
    known = [policy for policy in policies if not policy.usage.failed]
    if not known:
        return {}
    names = _unique([_sf_string(policy.name) for policy in known])
    named = list(zip(names, known, strict=True))
    listed: ListType = [
        _item(name, {"q": policy.usage.limit, "w": policy.usage.period}) for name, policy in named
    ]
    name, policy = _most_restrictive(named)
    usage = policy.usage
    until = usage.retry_after if policy.denied and usage.should_limit else usage.reset_after
    status: ListType = [_item(name, {"r": usage.remaining, "t": math.ceil(until)})]
    return {POLICY_HEADER: http_sf.ser(listed), STATUS_HEADER: http_sf.ser(status)}


def _item(name: str, params: ParamsType) -> ItemType:
    return (name, params)


def _most_restrictive(named: list[tuple[str, Policy]]) -> tuple[str, Policy]:
    blocking = [item for item in named if item[1].denied and item[1].usage.should_limit]
    if blocking:
        return max(blocking, key=lambda item: item[1].usage.retry_after)
    return min(named, key=lambda item: (item[1].usage.remaining, -item[1].usage.reset_after))


def _sf_string(name: str) -> str:
    """Structured-field strings hold printable ASCII only; anything else becomes ``?``."""
    return "".join(ch if " " <= ch <= "~" else "?" for ch in name) or "?"


def _unique(names: list[str]) -> list[str]:
    """Policy names must be unique within the field: repeats get ``-2``, ``-3``..."""
    result: list[str] = []
    for name in names:
        unique, n = name, 1
        while unique in result:
            n += 1
            unique = f"{name}-{n}"
        result.append(unique)
    return result
