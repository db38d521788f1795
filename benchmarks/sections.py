"""The sections of the report, each a Markdown string (imported once Django is configured)."""

from __future__ import annotations

import sys
from dataclasses import replace

from benchmarks import calls, per_check, report
from benchmarks.environment import BACKENDS, LABELS, LOCMEM, REDIS, Servers
from benchmarks.observe import RedisObserver
from benchmarks.per_check import (
    CLIENTS,
    CLIENTS_LIMIT,
    LIMITS,
    MAIN_SCENARIO,
    Bench,
    Measured,
    Settings,
)
from benchmarks.rows import (
    ANON_THROTTLE,
    DJANGO_RATELIMIT,
    IS_RATELIMITED,
    LIMITS_FIXED,
    REDIS_FLOOR,
    THROTTLE,
    THROTTLE_LOG,
    THROTTLE_LOG_TWO_RATES,
    THROTTLE_TOKEN,
    THROTTLE_TWO_RATES,
    VIEW_DECORATOR,
    Scenario,
    all_rows,
)

#: The per-check tables of one run, by backend alias.
Tables = dict[str, list[Measured]]

#: The entry points projects call, then for reference the floor (what one round
#: trip through redis-py costs in calls) and the peers' equivalents.
CALL_ROWS = (
    IS_RATELIMITED,
    VIEW_DECORATOR,
    ANON_THROTTLE,
    THROTTLE,
    THROTTLE_TWO_RATES,
    THROTTLE_TOKEN,
    THROTTLE_LOG,
    THROTTLE_LOG_TWO_RATES,
    REDIS_FLOOR,
    DJANGO_RATELIMIT,
    LIMITS_FIXED,
)
#: Where calls are counted, and the column labels (the section's text names them in full).
CALL_BACKENDS = {REDIS: "RedisCache", LOCMEM: "LocMem"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def per_check_tables(benches: dict[str, Bench], settings: Settings) -> Tables:
    """Measured once, then rendered and read by the targets section."""
    tables: Tables = {}
    for alias in BACKENDS:
        log(f"per-check: {benches[alias].label}")
        tables[alias] = per_check.table(benches[alias], MAIN_SCENARIO, settings)
    return tables


def per_check_section(tables: Tables, settings: Settings) -> str:
    parts = [
        "## Per-check cost",
        "",
        f"{MAIN_SCENARIO.clients} clients take turns at {MAIN_SCENARIO.rate}; every timed "
        f"check is allowed (the two-rate rows also count against {MAIN_SCENARIO.daily_rate}). "
        f"{settings.iterations} timed checks per row, the rows of a table taking turns check "
        "by check.",
    ]
    for alias, results in tables.items():
        parts += ["", f"### {LABELS[alias]}", "", report.per_check_table(results)]
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


def count_calls(bench: Bench, scenario: Scenario = MAIN_SCENARIO) -> dict[str, calls.Calls]:
    """Calls of one steady-state check per row: every client has sent two checks
    before (keys exist, scripts are loaded), then one turn of all clients is counted;
    on Redis, the commands of one more turn too (counted at the server)."""
    counted = {}
    with bench.active():
        rows = {row.name: row for row in all_rows(bench.target, scenario)}
        for name in CALL_ROWS:
            if name in rows:
                check = rows[name].check
                per_check.repeat(check, 2 * scenario.clients)()
                found = calls.count(check, scenario.clients, "drf_ratelimit")
                if isinstance(bench.observer, RedisObserver):
                    turn = per_check.repeat(check, scenario.clients)
                    sent = bench.observer.round_trips(turn) / scenario.clients
                    found = replace(found, commands=sent)
                counted[name] = found
    return counted


def calls_section(benches: dict[str, Bench]) -> str:
    counted = {}
    for alias in CALL_BACKENDS:
        log(f"calls: {benches[alias].label}")
        counted[alias] = count_calls(benches[alias])
    return "\n".join(
        [
            "## Calls per check",
            "",
            f"Python functions entered by one allowed steady-state check on {LABELS[REDIS]} "
            f"and on {LABELS[LOCMEM]} (counted with `sys.setprofile` over one turn of "
            f"{MAIN_SCENARIO.clients} clients at {MAIN_SCENARIO.rate}, averaged; the benchmark's "
            "own wrappers excluded, builtins not counted, a generator counted once per "
            "resumption): all of them, those defined in `drf_ratelimit`, and how many of its "
            "modules those are in; on Redis also the commands that reached the server per check "
            "(one more turn, counted with `MONITOR`; a script's own commands not counted). "
            "Deterministic, unlike the timings: a rise is a change in the hot path.",
            "",
            report.calls_table(list(CALL_BACKENDS.values()), list(counted.values())),
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
