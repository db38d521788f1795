"""How closely each algorithm keeps DRF's promise: "at most N in any period".

DRF's SimpleRateThrottle keeps a log of timestamps, so it admits at most N
requests in any span of one period. The three algorithms here store far less
and approximate that. This script replays the same arrival sequences through
DRF's real ``AnonRateThrottle`` and through drf_ratelimit's engine (each
algorithm, on local memory under a simulated clock) and prints, per traffic
pattern and algorithm:

* ``max/N``: the most requests admitted in any span of one period, over N
  (DRF: 1.00 by construction);
* ``agree``: the share of requests on which the algorithm decided as DRF did;
* ``admit``: requests admitted, relative to DRF.

Run: ``.venv/bin/python benchmarks/algorithm_fidelity.py`` (about a minute).
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django
from django.conf import settings

settings.configure(
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"],
    REST_FRAMEWORK={"DEFAULT_THROTTLE_RATES": {"anon": "10/min"}},
    RATELIMIT_ENABLE=True,
)
django.setup()

from django.core.cache import cache  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.test import APIRequestFactory  # noqa: E402
from rest_framework.throttling import AnonRateThrottle  # noqa: E402

from drf_ratelimit._engine import Limit, check  # noqa: E402
from drf_ratelimit._spec.rates import Rate  # noqa: E402
from drf_ratelimit.clock import FakeClock, use_clock  # noqa: E402

LIMIT, PERIOD = 10, 60
PERIODS = 400
ALGORITHMS = ("fixed-window", "sliding-window", "token-bucket")


def poisson(load: float, rng: random.Random) -> list[float]:
    """Arrivals at ``load`` times the limit, on average."""
    times, now = [], 0.0
    while now < PERIODS * PERIOD:
        now += rng.expovariate(load * LIMIT / PERIOD)
        times.append(now)
    return times


def bursts(rng: random.Random) -> list[float]:
    """Bursts of 3N requests 10 ms apart, at random gaps of up to two periods."""
    times, now = [], 0.0
    while now < PERIODS * PERIOD:
        now += rng.uniform(0, 2 * PERIOD)
        times += [now + i * 0.01 for i in range(3 * LIMIT)]
    return times


def edge_attack() -> list[float]:
    """N just before every other window edge and N just after: the fixed window's worst case."""
    times: list[float] = []
    for window in range(1, PERIODS, 2):
        edge = window * PERIOD
        times += [edge - 0.5 + i * 0.001 for i in range(LIMIT)]
        times += [edge + 0.5 + i * 0.001 for i in range(LIMIT)]
    return times


def flood() -> list[float]:
    """A steady four times the limit."""
    step = PERIOD / (4 * LIMIT)
    return [i * step for i in range(int(PERIODS * PERIOD / step))]


def drf_decisions(times: list[float]) -> list[bool]:
    cache.clear()
    request = Request(APIRequestFactory().get("/", REMOTE_ADDR="10.0.0.1"))
    decisions = []
    for now in times:
        throttle = AnonRateThrottle()
        throttle.timer = lambda now=now: now  # type: ignore[method-assign]
        decisions.append(throttle.allow_request(request, None))
    return decisions


def our_decisions(times: list[float], algorithm: str) -> list[bool]:
    cache.clear()
    clock = FakeClock(0.0)
    limit = Limit("fidelity", Rate(LIMIT, PERIOD), "10.0.0.1", aligned=True)
    decisions = []
    with use_clock(clock):
        for now in times:
            clock.time = now
            usages = check([limit], algorithm=algorithm)
            assert usages is not None
            decisions.append(not usages[0].should_limit)
    return decisions


def max_in_any_period(times: list[float], decisions: list[bool]) -> int:
    admitted = [t for t, ok in zip(times, decisions, strict=True) if ok]
    best, start = 0, 0
    for end, now in enumerate(admitted):
        while admitted[start] <= now - PERIOD:
            start += 1
        best = max(best, end - start + 1)
    return best


def patterns() -> Iterator[tuple[str, list[float]]]:
    rng = random.Random(2026)
    for load in (0.8, 1.5, 3.0, 10.0):
        yield f"poisson x{load:g}", poisson(load, rng)
    yield "bursts of 3N", bursts(rng)
    yield "edge attack", edge_attack()
    yield "flood x4", flood()


def row(times: list[float], reference: list[bool], algorithm: str) -> str:
    decisions = our_decisions(times, algorithm)
    agree = sum(a == b for a, b in zip(decisions, reference, strict=True)) / len(times)
    admitted = sum(decisions) / max(1, sum(reference))
    return f"{max_in_any_period(times, decisions) / LIMIT:6.2f} {agree:6.3f} {admitted:6.3f}"


def main() -> None:
    print(f"N={LIMIT} per {PERIOD}s, {PERIODS} periods per pattern; columns: max/N agree admit")
    print(f"{'pattern':16} {'DRF':>6} " + " ".join(f"{a:>20}" for a in ALGORITHMS))
    for name, times in patterns():
        reference = drf_decisions(times)
        cells = [
            row(name, times, reference, lambda t, a=a: our_decisions(t, a)) for a in ALGORITHMS
        ]
        drf_max = max_in_any_period(times, reference) / LIMIT
        print(f"{name:16} {drf_max:6.2f} " + " ".join(f"{c:>20}" for c in cells))


if __name__ == "__main__":
    main()
