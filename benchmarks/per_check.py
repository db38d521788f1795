"""Per-check cost, side by side, and how it grows with the limit and the number of clients.

Every row of a table runs on the same backend, in the same process, one after
another: warm-up, then ``iterations`` checks timed one by one, then a shorter
pass counted at the server (round trips), then the bytes its keys hold.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from benchmarks.environment import DJANGO_REDIS, LABELS, LOCMEM, MEMCACHED, REDIS, Servers
from benchmarks.observe import LocMemObserver, MemcachedObserver, Observer, RedisObserver
from benchmarks.rows import FLOOR, Row, Scenario, Target, all_rows

#: The main tables: 100 clients taking turns at 1,000/h, so every timed check is allowed.
MAIN_SCENARIO = Scenario(limit=1000, clients=100)
LIMITS = (10, 1_000, 100_000)
CLIENTS = (1, 10, 10_000)
#: The client-count tables use this limit, as a typical API would.
CLIENTS_LIMIT = 100


@dataclass(frozen=True)
class Settings:
    iterations: int = 3000
    warmup: int = 300
    counted: int = 200  # checks in the round-trip pass
    repeats: int = 3


@dataclass(frozen=True)
class Measured:
    row: Row
    samples_ns: list[int]
    round_trips: float
    bytes_per_client: float | None

    @property
    def median_us(self) -> float:
        return statistics.median(self.samples_ns) / 1000

    @property
    def p99_us(self) -> float:
        if len(self.samples_ns) < 2:
            return self.median_us
        return statistics.quantiles(self.samples_ns, n=100, method="inclusive")[98] / 1000


@dataclass(frozen=True)
class Bench:
    """Where a table runs: the backend and what observes its server."""

    target: Target
    observer: Observer

    @property
    def label(self) -> str:
        return LABELS[self.target.alias]

    @contextmanager
    def active(self) -> Iterator[None]:
        """drf_ratelimit and django-ratelimit both read RATELIMIT_USE_CACHE.

        Configured, then restored, without ``override_settings``, which adds a
        layer to every settings lookup that a deployed project does not have
        (django-ratelimit reads its settings on every call); drf_ratelimit is
        told of the change as Django tells it of any.
        """
        from django.conf import settings

        previous = settings.RATELIMIT_USE_CACHE
        use_cache(self.target.alias)
        try:
            yield
        finally:
            use_cache(previous)


def use_cache(alias: str) -> None:
    """Point RATELIMIT_USE_CACHE at ``alias`` and say so, as Django says of any change."""
    from django.conf import settings
    from django.core.signals import setting_changed

    settings.RATELIMIT_USE_CACHE = alias
    setting_changed.send(sender=Bench, setting="RATELIMIT_USE_CACHE", value=alias, enter=True)


def benches(running: Servers) -> dict[str, Bench]:
    """One Bench per backend, for a process whose CACHES came from environment.cache_settings."""
    from django.core.cache import caches

    redis_url = f"redis://127.0.0.1:{running.redis_port}"
    redis = RedisObserver(running.redis_port)
    return {
        LOCMEM: Bench(Target(LOCMEM), LocMemObserver(caches[LOCMEM])),
        DJANGO_REDIS: Bench(Target(DJANGO_REDIS, f"{redis_url}/1"), redis),
        REDIS: Bench(Target(REDIS, f"{redis_url}/0"), redis),
        MEMCACHED: Bench(Target(MEMCACHED), MemcachedObserver(running.memcached_port)),
    }


def timed(check: Callable[[], object], n: int) -> list[int]:
    """Nanoseconds of each of ``n`` checks."""
    clock = time.perf_counter_ns
    samples = [0] * n
    for i in range(n):
        start = clock()
        check()
        samples[i] = clock() - start
    return samples


def repeat(check: Callable[[], object], n: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(n):
            check()

    return run


def measure(
    bench: Bench, row: Row, scenario: Scenario, settings: Settings, sent: int = 0
) -> Measured:
    """Time one row. With ``sent``, every client starts the timed checks having sent that many."""
    bench.observer.reset()
    before = bench.observer.stored_bytes()
    row.check()  # connects, loads scripts, creates the keys
    if sent > 1:
        (row.prefill or bench.observer.set_counters)(sent)
    repeat(row.check, settings.warmup)()
    gc.collect()
    samples = timed(row.check, settings.iterations)
    trips = bench.observer.round_trips(repeat(row.check, settings.counted))
    made = 1 + settings.warmup + settings.iterations + settings.counted
    stored = bench.observer.stored_bytes() - before
    per_client = None if row.kind == FLOOR else stored / min(scenario.clients, made)
    return Measured(row, samples, trips / settings.counted, per_client)


def table(bench: Bench, scenario: Scenario, settings: Settings, sent: int = 0) -> list[Measured]:
    """Each row measured ``settings.repeats`` times (fresh clients each time, rows
    taking turns); the run with the lowest median is kept, as timeit does, so a
    burst of work elsewhere on a shared machine does not land on one row only."""
    runs: list[list[Measured]] = []
    with bench.active():
        for _ in range(settings.repeats):
            rows = all_rows(bench.target, scenario)
            runs.append([measure(bench, row, scenario, settings, sent) for row in rows])
    return [min(candidates, key=lambda m: m.median_us) for candidates in zip(*runs, strict=True)]


def prefilled(limit: int, settings: Settings) -> int:
    """Requests a client has sent when its timed checks start: the timed checks
    straddle the limit (the first half allowed, the rest refused), when it is
    larger than them."""
    return max(0, limit - settings.iterations // 2 - settings.warmup - 1)
