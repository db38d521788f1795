"""End to end: requests per second of a throttled DRF endpoint and its unthrottled twin.

gunicorn serves ``benchmarks/project`` with several gthread workers; separate
load processes on loopback keep one keep-alive connection each and send
requests back to back for a fixed time, spread over many client addresses.
Endpoints take turns, round after round, so a change in the machine's load
affects them alike. Everything shares the machine's cores, the load generator
included, so absolute numbers are a property of this machine; the ratio is
the result.
"""

from __future__ import annotations

import json
import multiprocessing
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.environment import LABELS, MEMCACHED, REDIS, Servers, cache_settings
from benchmarks.loader import CLIENTS, load
from benchmarks.report import markdown
from tests.servers import Gunicorn, start_gunicorn

WORKERS = 4
THREADS = 2
LOADERS = 4
UNTHROTTLED = "unthrottled twin"
#: What one round trip to the cache costs a request, whoever makes it.
FLOOR = "unthrottled twin + one bare incr (the floor)"
OURS = "drf_ratelimit AnonRateThrottle"
ENDPOINTS = (
    (UNTHROTTLED, "/unthrottled/"),
    (FLOOR, "/bare-incr/"),
    (OURS, "/drf-ratelimit/"),
    ("DRF AnonRateThrottle", "/drf/"),
)


@dataclass
class Throughput:
    requests: int = 0
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_load(
    pool: multiprocessing.pool.Pool, server: Gunicorn, path: str, seconds: float
) -> Counter[int]:
    start_at = time.time() + 0.3  # every loader has started its clock by then
    jobs = [
        (server.port, path, start_at, seconds, k * (CLIENTS // LOADERS)) for k in range(LOADERS)
    ]
    total: Counter[int] = Counter()
    for statuses in pool.starmap_async(load, jobs).get(timeout=seconds + 60):
        total.update(statuses)
    return total


def measure(server: Gunicorn, seconds: float, rounds: int) -> dict[str, Throughput]:
    results = {name: Throughput() for name, _ in ENDPOINTS}
    context = multiprocessing.get_context("spawn")
    with context.Pool(LOADERS) as pool:
        run_load(pool, server, "/unthrottled/", min(seconds, 0.5))  # warm up every worker
        for _ in range(rounds):
            for name, path in ENDPOINTS:
                statuses = run_load(pool, server, path, seconds)
                result = results[name]
                result.requests += sum(statuses.values())
                result.seconds += seconds
                result.statuses.update(statuses)
    return results


def backend_table(results: dict[str, Throughput]) -> str:
    baseline = results[ENDPOINTS[0][0]].per_second
    rows = []
    for name, _ in ENDPOINTS:
        result = results[name]
        others = {s: n for s, n in result.statuses.items() if s != 200}
        rows.append(
            [
                name,
                f"{result.per_second:,.0f}",
                f"{result.per_second / baseline:.2f}" if baseline else "-",
                f"{result.requests:,}",
                ", ".join(f"{n} x {s}" for s, n in sorted(others.items())) or "none",
            ]
        )
    header = ["endpoint", "requests/s", "vs unthrottled", "requests", "non-200"]
    return markdown(header, rows)


#: requests/s of each endpoint, by backend alias.
Results = dict[str, dict[str, Throughput]]


def ratio(results: dict[str, Throughput], endpoint: str = OURS) -> float:
    """An endpoint's requests/s over its unthrottled twin's (by default
    drf_ratelimit's throttled endpoint: the end-to-end result)."""
    baseline = results[UNTHROTTLED].per_second
    return results[endpoint].per_second / baseline if baseline else 0.0


def measure_backends(
    running: Servers, seconds: float, rounds: int, backends: tuple[str, ...] = (REDIS, MEMCACHED)
) -> Results:
    """One gunicorn per backend, its endpoints loaded in turn (see :func:`measure`)."""
    caches = cache_settings(running)
    results: Results = {}
    for alias in backends:
        log_path = Path(tempfile.mkdtemp(prefix="drf-rl-bench-")) / "gunicorn.log"
        server = start_gunicorn(
            alias,
            "benchmarks.project.wsgi:application",
            env={
                "DJANGO_SETTINGS_MODULE": "benchmarks.project.settings",
                "BENCH_CACHE": json.dumps(caches[alias]),
            },
            log_path=log_path,
            workers=WORKERS,
            threads=THREADS,
        )
        try:
            results[alias] = measure(server, seconds, rounds)
        finally:
            server.stop()
    return results


def render(results: Results, seconds: float, rounds: int) -> str:
    parts = [
        "## End to end under gunicorn",
        "",
        f"gunicorn: {WORKERS} gthread workers x {THREADS} threads; load: {LOADERS} processes, "
        f"one keep-alive connection each, {CLIENTS:,} client addresses; {rounds} rounds of "
        f"{seconds:g} s per endpoint, endpoints taking turns. Nothing is refused (1,000,000/h).",
    ]
    for alias, backend in results.items():
        parts += ["", f"### {LABELS[alias]}", "", backend_table(backend)]
    return "\n".join(parts) + "\n"


def section(
    running: Servers, seconds: float, rounds: int, backends: tuple[str, ...] = (REDIS, MEMCACHED)
) -> str:
    """Measure and render in one go (the targets section needs the results too: see
    :func:`measure_backends`)."""
    return render(measure_backends(running, seconds, rounds, backends), seconds, rounds)
