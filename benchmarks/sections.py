"""The sections of the report, each a Markdown string (imported once Django is configured)."""

from __future__ import annotations

import sys

from benchmarks import per_check, report
from benchmarks.environment import BACKENDS, Servers
from benchmarks.per_check import CLIENTS, CLIENTS_LIMIT, LIMITS, MAIN_SCENARIO, Bench, Settings
from benchmarks.rows import Scenario


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def per_check_section(benches: dict[str, Bench], settings: Settings) -> str:
    parts = [
        "## Per-check cost",
        "",
        f"{MAIN_SCENARIO.clients} clients take turns at {MAIN_SCENARIO.rate}; every timed "
        f"check is allowed. {settings.iterations} timed checks per row.",
    ]
    for alias in BACKENDS:
        bench = benches[alias]
        log(f"per-check: {bench.label}")
        parts += [
            "",
            f"### {bench.label}",
            "",
            report.per_check_table(per_check.table(bench, MAIN_SCENARIO, settings)),
        ]
    return "\n".join(parts)


def limits_section(bench: Bench, settings: Settings, limits: tuple[int, ...] = LIMITS) -> str:
    small = Settings(
        iterations=min(settings.iterations, 1000),
        warmup=min(settings.warmup, 50),
        counted=min(settings.counted, 50),
        repeats=settings.repeats,
    )
    results = []
    for limit in limits:
        log(f"limits: {limit}/h on {bench.label}")
        scenario = Scenario(limit=limit, clients=1)
        results.append(per_check.table(bench, scenario, small, per_check.prefilled(limit, small)))
    columns = [f"{limit:,}/h" for limit in limits]
    return "\n".join(
        [
            "## Cost as the limit grows",
            "",
            f"One client on {bench.label}, {small.iterations} timed checks that straddle the limit "
            "(the client starts them having sent the limit minus half of them; at 10/h it "
            "starts from zero, so all but 10 are refused).",
            "",
            report.scaling_table(columns, results, ["median µs", "bytes / client"]),
        ]
    )


def clients_section(
    bench: Bench, settings: Settings, quick: bool, counts: tuple[int, ...] = CLIENTS
) -> str:
    results = []
    for clients in counts:
        log(f"clients: {clients} on {bench.label}")
        iterations = settings.iterations if quick else max(settings.iterations, clients)
        sized = Settings(iterations, settings.warmup, settings.counted, settings.repeats)
        scenario = Scenario(limit=CLIENTS_LIMIT, clients=clients)
        results.append(per_check.table(bench, scenario, sized))
    columns = [f"{clients:,} clients" for clients in counts]
    return "\n".join(
        [
            "## Cost as the number of clients grows",
            "",
            f"Clients take turns at {CLIENTS_LIMIT}/h on {bench.label}: one client is refused "
            "after its first 100 checks; with 10,000 clients nearly every check is a client's "
            "first request of the window (a new key).",
            "",
            report.scaling_table(columns, results, ["median µs", "round trips"]),
        ]
    )


def server_versions(running: Servers) -> dict[str, str]:
    import redis
    from pymemcache.client.base import Client

    redis_version = str(redis.Redis(port=running.redis_port).info("server")["redis_version"])
    memcached = Client(("127.0.0.1", running.memcached_port))
    memcached_version = memcached.stats()[b"version"]
    memcached.close()
    return {"redis-server": redis_version, "memcached": memcached_version.decode()}
