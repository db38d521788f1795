"""Per-check cost, side by side, and how it grows with the limit and the number of clients.

Every row of a table runs on the same backend, in the same process. Each row
is first accounted alone (a pass counted at the server for its round trips,
then the bytes its keys hold); then all rows are timed together, taking turns
check by check (warm-up, then ``iterations`` timed checks each), so that a
change in the machine's speed lands on every row alike.
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


def taking_turns(checks: list[Callable[[], object]], n: int) -> list[list[int]]:
    """Nanoseconds of ``n`` checks of each row, the rows taking turns check by
    check: a shared machine changes speed (here the round trip itself went
    from about 20 to about 100 µs and back within a run), and this way every
    change lands on all rows alike, so their ratios hold."""
    clock = time.perf_counter_ns
    samples: list[list[int]] = [[0] * n for _ in checks]
    for i in range(n):
        for row, check in enumerate(checks):
            start = clock()
            check()
            samples[row][i] = clock() - start
    return samples


def repeat(check: Callable[[], object], n: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(n):
            check()

    return run


@dataclass(frozen=True)
class Accounted:
    """What one row makes the server do and keep, measured on its own."""

    round_trips: float
    bytes_per_client: float | None


def account(
    bench: Bench, row: Row, scenario: Scenario, settings: Settings, sent: int = 0
) -> Accounted:
    """Round trips per check and bytes per client of one row, alone on the
    server. With ``sent``, every client starts having sent that many."""
    bench.observer.reset()
    before = bench.observer.stored_bytes()
    row.check()  # connects, loads scripts, creates the keys
    if sent > 1:
        (row.prefill or bench.observer.set_counters)(sent)
    repeat(row.check, settings.warmup)()
    trips = bench.observer.round_trips(repeat(row.check, settings.counted))
    made = 1 + settings.warmup + settings.counted
    stored = bench.observer.stored_bytes() - before
    per_client = None if row.kind == FLOOR else stored / min(scenario.clients, made)
    return Accounted(trips / settings.counted, per_client)


def timings(bench: Bench, rows: list[Row], settings: Settings, sent: int = 0) -> list[list[int]]:
    """The timed checks of every row, taking turns, from the same starting state."""
    bench.observer.reset()
    for row in rows:
        row.check()
    if sent > 1:
        bench.observer.set_counters(sent)
        for row in rows:
            if row.prefill is not None:
                row.prefill(sent)
    for _ in range(settings.warmup):
        for row in rows:
            row.check()
    gc.collect()
    return taking_turns([row.check for row in rows], settings.iterations)


def table(bench: Bench, scenario: Scenario, settings: Settings, sent: int = 0) -> list[Measured]:
    """Each row accounted alone, then timed with every other row taking turns;
    ``settings.repeats`` times with fresh clients, keeping each row's run with
    the lowest median (as timeit does)."""
    runs: list[list[Measured]] = []
    with bench.active():
        for _ in range(settings.repeats):
            rows = all_rows(bench.target, scenario)
            accounted = [account(bench, row, scenario, settings, sent) for row in rows]
            samples = timings(bench, rows, settings, sent)
            runs.append(
                [
                    Measured(row, timed, counted.round_trips, counted.bytes_per_client)
                    for row, timed, counted in zip(rows, samples, accounted, strict=True)
                ]
            )
    return [min(candidates, key=lambda m: m.median_us) for candidates in zip(*runs, strict=True)]


def prefilled(limit: int, settings: Settings) -> int:
    """Requests a client has sent when its timed checks start: the timed checks
    straddle the limit (the first half allowed, the rest refused), when it is
    larger than them."""
    return max(0, limit - settings.iterations // 2 - settings.warmup - 1)
