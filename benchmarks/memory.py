"""Bytes per client: the sliding log against DRF's own history and the sliding window.

The sliding log keeps, like DRF's SimpleRateThrottle, one entry per admitted
request for one period, so what a client costs grows with the limit. For each
limit a fresh client sends exactly that many requests through the real check
path (``drf_ratelimit._engine.check``, one request per check), at a fixed
``now`` and 1 ms apart, all inside one period, so every one of them is
admitted and the log is full. Then what the store holds for that client is
read:

* Redis (Django's RedisCache): ``MEMORY USAGE key SAMPLES 0`` of the client's
  keys (every element counted: key, value and the server's per-key overhead);
* memcached: the growth of the server's ``bytes`` statistic (the items, with
  their keys and headers);
* LocMem: the length of the pickled values the cache keeps (the keys not
  counted), for the sliding log the pickled tuple of integer microseconds.

Compared with DRF's SimpleRateThrottle, filled with the same requests through
its own ``allow_request`` on the same cache (its history is a list of float
seconds, newest first, pickled by the cache), and with the sliding window,
whose counters do not grow with the limit (filled half in the previous
window and half in the current one, so that both of its counters exist).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.core.cache.backends.base import BaseCache
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from benchmarks.environment import LABELS, LOCMEM, MEMCACHED, REDIS
from benchmarks.per_check import Bench
from benchmarks.report import markdown, size
from benchmarks.rows import VIEW, drf_request, fresh_ips
from drf_ratelimit._engine import Limit, check
from drf_ratelimit._spec.rates import Rate

#: Limits per period (an hour) whose logs are measured.
MEMORY_LIMITS = (10, 100, 10_000)
#: ``--quick``: the filling of a 10,000 log (tens of thousands of checks) left out.
QUICK_LIMITS = (10, 100)
PERIOD = 3600
#: The fixed time of the first request (400 s into an hour-aligned window) and the
#: gap between requests: 10,000 requests take 10 s, well inside one period.
START = 1_750_000_000.0
STEP = 0.001
#: Where it is measured, in table order.
STORES = (REDIS, MEMCACHED, LOCMEM)
MEASURED_AS = {
    REDIS: "`MEMORY USAGE` of the client's key(s), `SAMPLES 0`",
    MEMCACHED: "growth of memcached's `bytes` statistic (items with key and header)",
    LOCMEM: "length of the pickled value(s) (keys not counted)",
}

SLIDING_LOG = "drf_ratelimit sliding-log"
DRF_HISTORY = "DRF SimpleRateThrottle history"
SLIDING_WINDOW = "drf_ratelimit sliding-window"

#: Fills one client's state on a cache: (cache, limit, client).
Fill = Callable[[BaseCache, int, str], None]


@dataclass(frozen=True)
class Kept:
    """What one way of limiting keeps for one client, by limit."""

    name: str
    per_request: bool  # one entry per admitted request, so bytes / entry means something
    bytes_per_client: dict[int, int]

    def per_entry(self, limit: int) -> str:
        if not self.per_request:
            return "-"
        return f"{self.bytes_per_client[limit] / limit:,.1f}"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fill_sliding_log(cache: BaseCache, limit: int, client: str) -> None:
    """``limit`` checks of one request each: the log ends with ``limit`` entries."""
    rate = Rate(limit, PERIOD)
    for i in range(limit):
        usages = check(
            [Limit("memory", rate, client)],
            algorithm="sliding-log",
            now=START + i * STEP,
            cache=cache,
        )
        assert usages is not None and not usages[0].should_limit, (limit, i)
        assert usages[0].count == i + 1, usages


def fill_sliding_window(cache: BaseCache, limit: int, client: str) -> None:
    """Half the requests one period earlier (the previous window), half now."""
    rate = Rate(limit, PERIOD)
    earlier = limit // 2
    times = [START - PERIOD + i * STEP for i in range(earlier)]
    times += [START + i * STEP for i in range(limit - earlier)]
    for now in times:
        usages = check(
            [Limit("memory", rate, client)], algorithm="sliding-window", now=now, cache=cache
        )
        assert usages is not None


class DrfHistory(SimpleRateThrottle):
    """DRF's own SimpleRateThrottle, for one client, on a given cache, at a given time."""

    def __init__(self, cache: BaseCache, rate: str, client: str, now: float) -> None:
        self.cache = cache
        self.rate = rate
        self.client = client
        self.at = now
        super().__init__()

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return f"throttle_memory_{self.client}"

    def timer(self) -> float:
        return self.at


def fill_drf(cache: BaseCache, limit: int, client: str) -> None:
    """``limit`` requests through DRF's ``allow_request``: a history of ``limit`` floats."""
    request = drf_request(client)
    for i in range(limit):
        throttle = DrfHistory(cache, f"{limit}/h", client, START + i * STEP)
        assert throttle.allow_request(request, VIEW), (limit, i)
    assert len(throttle.history) == limit


KINDS: tuple[tuple[str, bool, Fill], ...] = (
    (SLIDING_LOG, True, fill_sliding_log),
    (DRF_HISTORY, True, fill_drf),
    (SLIDING_WINDOW, False, fill_sliding_window),
)


def held(bench: Bench, fill: Callable[[], None]) -> int:
    """Bytes the store holds for what ``fill`` wrote (see the module's docstring)."""
    if bench.target.alias == LOCMEM:
        cache: Any = bench.target.cache
        cache.clear()
        fill()
        return sum(len(value) for value in cache._cache.values())
    bench.observer.reset()
    before = bench.observer.stored_bytes()
    fill()
    return bench.observer.stored_bytes() - before


def measure(bench: Bench, limits: Sequence[int] = MEMORY_LIMITS) -> list[Kept]:
    cache = bench.target.cache
    kept = []
    for name, per_request, fill in KINDS:
        sizes = {}
        for limit in limits:
            log(f"memory: {name}, {limit:,}/h on {bench.label}")
            client = fresh_ips(1)[0]
            sizes[limit] = held(bench, partial(fill, cache, limit, client))
        kept.append(Kept(name, per_request, sizes))
    return kept


def table(kept: Sequence[Kept], limits: Sequence[int]) -> str:
    header = ["state"] + [
        f"{limit:,}/h: {cell}" for limit in limits for cell in ("bytes / client", "bytes / entry")
    ]
    rows = [
        [k.name]
        + [
            cell
            for limit in limits
            for cell in (size(k.bytes_per_client[limit]), k.per_entry(limit))
        ]
        for k in kept
    ]
    return markdown(header, rows)


def section(benches: dict[str, Bench], limits: Sequence[int] = MEMORY_LIMITS) -> str:
    columns = ", ".join(f"{limit:,}" for limit in limits)
    parts = [
        "## Memory per client",
        "",
        f"What a store keeps for one client that sent {columns} requests in one period "
        f"(an hour), at the limit of the same number, all of them admitted: the sliding "
        "log (one entry per request, the drop-ins' default), DRF's own SimpleRateThrottle "
        "history, and the sliding window (two counters whatever the limit; half the requests "
        "in the previous window). Filled through each one's real check path at a fixed time; "
        "bytes / entry is bytes / client over the limit.",
    ]
    for alias in STORES:
        parts += [
            "",
            f"### {LABELS[alias]}",
            "",
            f"Measured as the {MEASURED_AS[alias]}.",
            "",
            table(measure(benches[alias], limits), limits),
        ]
    return "\n".join(parts)
