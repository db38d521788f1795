"""How closely each algorithm keeps DRF's promise: "at most N in any period".

DRF's SimpleRateThrottle keeps a log of timestamps, so it admits at most N
requests in any span of one period. The sliding log keeps the same log (as
integer microseconds) and should decide exactly as DRF does; the other three
algorithms store far less and approximate it. This script replays the same
arrival sequences through DRF's real ``AnonRateThrottle`` and through
drf_ratelimit's engine (each algorithm, on local memory under a simulated
clock) and prints, per traffic pattern and algorithm:

* ``max/N``: the most requests admitted in any span of one period, over N
  (DRF: 1.00 by construction);
* ``agree``: the share of requests on which the algorithm decided as DRF did;
* ``admit``: requests admitted, relative to DRF.

Run: ``.venv/bin/python benchmarks/algorithm_fidelity.py`` (about a minute;
``--periods`` shortens every pattern). Importable where Django is already
configured (the test suite): it then uses that project's default cache.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"],
        RATELIMIT_ENABLE=True,
    )
    django.setup()

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from drf_ratelimit._algorithms import NAMES
from drf_ratelimit._engine import Limit, check
from drf_ratelimit._spec.rates import Rate
from drf_ratelimit.clock import FakeClock, use_clock

LIMIT, PERIOD = 10, 60
PERIODS = 400
#: Every algorithm the package has (fixed-window, sliding-window, token-bucket, sliding-log).
ALGORITHMS = NAMES


class DrfAnon(AnonRateThrottle):
    """DRF's AnonRateThrottle at N per period, whatever the project's settings say,
    on the simulated clock."""

    rate = f"{LIMIT}/min"

    def __init__(self, now: float) -> None:
        self.at = now
        super().__init__()

    def timer(self) -> float:
        return self.at


def poisson(load: float, rng: random.Random, periods: int) -> list[float]:
    """Arrivals at ``load`` times the limit, on average."""
    times, now = [], 0.0
    while now < periods * PERIOD:
        now += rng.expovariate(load * LIMIT / PERIOD)
        times.append(now)
    return times


def bursts(rng: random.Random, periods: int) -> list[float]:
    """Bursts of 3N requests 10 ms apart, at random gaps of up to two periods."""
    times, now = [], 0.0
    while now < periods * PERIOD:
        now += rng.uniform(0, 2 * PERIOD)
        times += [now + i * 0.01 for i in range(3 * LIMIT)]
    return times


def edge_attack(periods: int) -> list[float]:
    """N just before every other window edge and N just after: the fixed window's worst case."""
    times: list[float] = []
    for window in range(1, periods, 2):
        edge = window * PERIOD
        times += [edge - 0.5 + i * 0.001 for i in range(LIMIT)]
        times += [edge + 0.5 + i * 0.001 for i in range(LIMIT)]
    return times


def flood(periods: int) -> list[float]:
    """A steady four times the limit."""
    step = PERIOD / (4 * LIMIT)
    return [i * step for i in range(int(periods * PERIOD / step))]


def drf_decisions(times: list[float]) -> list[bool]:
    """DRF's throttle keeps its history in the default cache."""
    caches[DEFAULT_CACHE_ALIAS].clear()
    request = Request(APIRequestFactory().get("/", REMOTE_ADDR="10.0.0.1"))
    decisions = []
    view = APIView()
    for now in times:
        decisions.append(DrfAnon(now).allow_request(request, view))
    return decisions


def our_decisions(times: list[float], algorithm: str) -> list[bool]:
    cache = caches[DEFAULT_CACHE_ALIAS]
    cache.clear()
    clock = FakeClock(0.0)
    limit = Limit("fidelity", Rate(LIMIT, PERIOD), "10.0.0.1", aligned=True)
    decisions = []
    with use_clock(clock):
        for now in times:
            clock.time = now
            usages = check([limit], algorithm=algorithm, now=now, cache=cache)
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


def patterns(periods: int = PERIODS) -> Iterator[tuple[str, list[float]]]:
    rng = random.Random(2026)
    for load in (0.8, 1.5, 3.0, 10.0):
        yield f"poisson x{load:g}", poisson(load, rng, periods)
    yield "bursts of 3N", bursts(rng, periods)
    yield "edge attack", edge_attack(periods)
    yield "flood x4", flood(periods)


@dataclass(frozen=True)
class Fidelity:
    """One algorithm on one pattern, against DRF."""

    max_over_limit: float
    agree: float
    admit: float

    def __str__(self) -> str:
        return f"{self.max_over_limit:6.2f} {self.agree:6.3f} {self.admit:6.3f}"


def fidelity(times: list[float], reference: list[bool], algorithm: str) -> Fidelity:
    decisions = our_decisions(times, algorithm)
    agree = sum(a == b for a, b in zip(decisions, reference, strict=True)) / len(times)
    admitted = sum(decisions) / max(1, sum(reference))
    return Fidelity(max_in_any_period(times, decisions) / LIMIT, agree, admitted)


def measure(
    algorithms: Sequence[str] = ALGORITHMS, periods: int = PERIODS
) -> Iterator[tuple[str, float, dict[str, Fidelity]]]:
    """Per pattern: its name, DRF's max/N and each algorithm's fidelity."""
    for name, times in patterns(periods):
        reference = drf_decisions(times)
        drf_max = max_in_any_period(times, reference) / LIMIT
        yield name, drf_max, {a: fidelity(times, reference, a) for a in algorithms}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--periods", type=int, default=PERIODS, help="periods per pattern")
    periods = parser.parse_args(argv).periods
    print(f"N={LIMIT} per {PERIOD}s, {periods} periods per pattern; columns: max/N agree admit")
    print(f"{'pattern':16} {'DRF':>6} " + " ".join(f"{a:>20}" for a in ALGORITHMS))
    for name, drf_max, results in measure(ALGORITHMS, periods):
        cells = [str(results[a]) for a in ALGORITHMS]
        print(f"{name:16} {drf_max:6.2f} " + " ".join(f"{c:>20}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
