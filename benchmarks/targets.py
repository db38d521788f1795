"""The hot path's targets, judged from the tables of the same run.

Nothing is measured here: every ratio is read from the per-check tables (and
the end-to-end ratios, when that section ran), so a target and the rows it
compares always come from moments apart on the same backend, under the same
load. Absolute times on a shared machine move from run to run; these ratios
move far less.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.environment import DJANGO_REDIS, LABELS, LOCMEM, MEMCACHED, REDIS
from benchmarks.per_check import MAIN_SCENARIO, Measured, Settings
from benchmarks.report import markdown, trips
from benchmarks.rows import (
    ANON_THROTTLE,
    DJANGO_RATELIMIT,
    ENGINE_FIXED,
    ENGINE_LOG,
    ENGINE_SLIDING,
    FLOOR,
    IS_RATELIMITED,
    LIMITS_FIXED,
    OURS,
    THROTTLE,
    THROTTLE_LOG,
    THROTTLE_LOG_TWO_RATES,
    THROTTLE_TWO_RATES,
)

#: x floor on Redis: one rate, two rates.
ONE_RATE_BOUND = 1.3
TWO_RATES_BOUND = 1.4
#: is_ratelimited on LocMem over django-ratelimit's.
LOCMEM_BOUND = 0.3
#: End to end: requests/s with the throttle over without.
E2E_BOUND = 0.85
REDIS_BACKENDS = (DJANGO_REDIS, REDIS)
#: The sliding log's entry points: the drop-in (its default) and RatelimitThrottle's
#: one and two rates.
SLIDING_LOG_ROWS = (ANON_THROTTLE, THROTTLE_LOG, THROTTLE_LOG_TWO_RATES)


@dataclass(frozen=True)
class Goal:
    target: str
    measured: str
    met: bool


def short(name: str) -> str:
    """A row's name without the package, where the target already says whose it is."""
    return name.removeprefix(f"{OURS} ")


def find(results: Sequence[Measured], name: str) -> Measured:
    return next(r for r in results if r.row.name == name)


def floor_us(results: Sequence[Measured]) -> float:
    return next(r.median_us for r in results if r.row.kind == FLOOR)


def redis_goals(alias: str, results: Sequence[Measured]) -> list[Goal]:
    """Each entry point's x floor against its bound and against limits' fixed window
    (the cheapest peer on Redis), then one command per check for all of them."""
    label, floor = LABELS[alias], floor_us(results)
    limits = find(results, LIMITS_FIXED).median_us / floor
    goals = []
    for name in (THROTTLE, IS_RATELIMITED):
        ratio = find(results, name).median_us / floor
        goals += [
            bound_goal(f"{label}: {short(name)}", ratio, ONE_RATE_BOUND, ""),
            Goal(
                f"{label}: {short(name)} ≤ limits FixedWindow",
                f"{ratio:.2f}x vs {limits:.2f}x floor",
                ratio <= limits,
            ),
        ]
    two = find(results, THROTTLE_TWO_RATES).median_us / floor
    note = f" (limits FixedWindow {limits:.2f}x)"
    goals.append(bound_goal(f"{label}: {short(THROTTLE_TWO_RATES)}", two, TWO_RATES_BOUND, note))
    names = (THROTTLE, IS_RATELIMITED, THROTTLE_TWO_RATES, *SLIDING_LOG_ROWS)
    goals.append(round_trip_goal(f"{label}: 1 Redis command per check", results, names))
    return goals


def bound_goal(subject: str, ratio: float, bound: float, note: str) -> Goal:
    return Goal(f"{subject} ≤ {bound}x floor", f"{ratio:.2f}x{note}", ratio <= bound)


def round_trip_goal(
    target: str, results: Sequence[Measured], names: Sequence[str], most: int = 1
) -> Goal:
    """Met when every named row made at most ``most`` round trips per check."""
    rows = [find(results, name) for name in names]
    measured = ", ".join(f"{short(r.row.name)} {trips(r.round_trips)}" for r in rows)
    return Goal(target, measured, all(r.round_trips <= most for r in rows))


def locmem_goal(results: Sequence[Measured]) -> Goal:
    """No I/O to hide behind: the package's own Python against django-ratelimit's."""
    ours = find(results, IS_RATELIMITED).median_us
    theirs = find(results, DJANGO_RATELIMIT).median_us
    return Goal(
        f"{LABELS[LOCMEM]}: is_ratelimited ≤ {LOCMEM_BOUND}x django-ratelimit's",
        f"{ours:.1f} / {theirs:.1f} µs = {ours / theirs:.2f}x",
        ours / theirs <= LOCMEM_BOUND,
    )


def memcached_goals(results: Sequence[Measured]) -> list[Goal]:
    """The fixed window's rows, the sliding window's (RatelimitThrottle's default),
    then the sliding log's with one rate (the drop-ins' default): ``gets`` then ``cas``."""
    label = LABELS[MEMCACHED]
    fixed = (ENGINE_FIXED, IS_RATELIMITED)
    sliding = (ENGINE_SLIDING, THROTTLE)
    log = (ENGINE_LOG, ANON_THROTTLE, THROTTLE_LOG)
    return [
        round_trip_goal(f"{label}: fixed window, 1 round trip per check", results, fixed),
        round_trip_goal(f"{label}: sliding window, 1 round trip per check", results, sliding),
        round_trip_goal(
            f"{label}: sliding log, 2 round trips per check (gets, cas)", results, log, most=2
        ),
    ]


def e2e_goal(alias: str, ratio: float, floor: float) -> Goal:
    """The floor is the same view plus one bare increment: no check of a shared
    counter can keep more of the throughput than that."""
    return Goal(
        f"{LABELS[alias]}: end to end, AnonRateThrottle ≥ {E2E_BOUND} of unthrottled requests/s",
        f"{ratio:.2f} (one bare incr per request: {floor:.2f})",
        ratio >= E2E_BOUND,
    )


E2eRatios = dict[str, tuple[float, float]]


def goals(tables: dict[str, list[Measured]], e2e_ratios: E2eRatios | None) -> list[Goal]:
    listed = [goal for alias in REDIS_BACKENDS for goal in redis_goals(alias, tables[alias])]
    listed += [locmem_goal(tables[LOCMEM]), *memcached_goals(tables[MEMCACHED])]
    listed += [e2e_goal(alias, *ratios) for alias, ratios in (e2e_ratios or {}).items()]
    return listed


def checks_before_counting(settings: Settings) -> int:
    """How many checks each client of the main tables had sent when round trips were counted."""
    return (1 + settings.warmup + settings.iterations) // MAIN_SCENARIO.clients


def section(
    tables: dict[str, list[Measured]], e2e_ratios: E2eRatios | None, settings: Settings
) -> str:
    listed = goals(tables, e2e_ratios)
    rows = [[g.target, g.measured, "yes" if g.met else "no"] for g in listed]
    source = "the per-check tables" + (" and the end-to-end section" if e2e_ratios else "")
    sent = checks_before_counting(settings)
    steady = (
        f"after each client had sent at least {sent} check{'s' if sent > 1 else ''} "
        "(the steady state)"
        if sent
        else "on clients' first checks (not the steady state)"
    )
    return "\n".join(
        [
            "## Targets",
            "",
            f"Read from {source} of this run: ratios of medians within one table, round trips "
            f"per check counted at the server {steady}. "
            f"{sum(g.met for g in listed)} of {len(listed)} met.",
            "",
            markdown(["target", "measured", "met?"], rows),
        ]
    )
