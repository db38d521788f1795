"""Exactly the limit passes under contention: sliding window, token bucket and sliding log.

Same harness as test_concurrency.py (tests/storage/hammer.py): spawned
processes x threads, one shared barrier per round, the clock frozen so no
round straddles a window edge or refills a bucket. Each round hammers one
client with 180 requests through :func:`drf_ratelimit._engine.check`:

* one rate (37/h): exactly 37 are admitted;
* two rates (41/d, then 23/h): exactly 23. The tighter rate comes second, so
  on memcached and local memory every refused request first charges the
  daily rate and must give that charge back.

Afterwards a read-only check finds every rate at exactly the admitted count:
no update was lost and every refund landed.

The sliding window on memcached is ``incr`` then ``decr`` on refusal; the
token bucket there is ``gets``/``cas`` with retries; on Redis both are one
script. A deliberately racy token bucket under the same load overshoots,
which shows the load does produce the races that would expose a lost update.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.core.cache import caches

from drf_ratelimit._algorithms import NAMES
from drf_ratelimit._algorithms import token_bucket as gcra
from drf_ratelimit._engine import Limit, check
from drf_ratelimit._spec.rates import Rate, parse_rate
from tests.conftest import Backend, cache_config, install_backend, skip_token_bucket_on_pylibmc
from tests.storage import hammer

SLIDING_WINDOW, TOKEN_BUCKET, SLIDING_LOG = NAMES[1:]

pytestmark = pytest.mark.concurrency

PROCESSES = 3
THREADS = 6
REQUESTS_PER_THREAD = 10
TOTAL = PROCESSES * THREADS * REQUESTS_PER_THREAD
#: Every worker's clock is frozen here (mid-hour, mid-day).
FIXED_NOW = 1_700_000_123.0
ONE_RATE = ["37/h"]
TWO_RATES = ["41/d", "23/h"]
#: Rounds: the rates each round's client is checked against, and how many must pass.
ROUNDS = [(ONE_RATE, 37), (TWO_RATES, 23), (ONE_RATE, 37), (TWO_RATES, 23)]


def parsed(text: str) -> Rate:
    rate = parse_rate(text)
    assert rate is not None
    return rate


def limits_for(group: str, ip: str, rates: list[str]) -> list[Limit]:
    return [Limit(group, parsed(rate), ip) for rate in rates]


def algorithm_limited(request: Any, config: hammer.Config) -> bool:
    """The code under test (run in the workers): one engine check of every rate.

    A cache failure is raised, not counted as a refusal: a request lost to
    contention (e.g. compare-and-swap retries exhausted) must show up as an
    error, not hide as "fewer admitted".
    """
    ip = request.META["REMOTE_ADDR"]
    rates = config["rates_by_ip"].get(ip, [f"{config['limit']}/h"])
    usages = check(limits_for(config["group"], ip, rates), algorithm=config["algorithm"])
    if usages is None or any(usage.failed for usage in usages):
        raise RuntimeError(f"the cache failed under contention: {usages!r}")
    return any(usage.should_limit for usage in usages)


LIMITER = f"{__name__}.algorithm_limited"


def hammer_config(backend: Backend, algorithm: str, threads: int = THREADS) -> hammer.Config:
    ips = [f"10.88.{index}.{len(algorithm)}" for index in range(len(ROUNDS))]
    return {
        "alias": backend.alias,
        "cache": cache_config(backend.name, backend.server),
        "group": f"algorithm-hammer-{algorithm}",
        "limit": 10**6,
        "algorithm": algorithm,
        "rates_by_ip": {ip: rates for ip, (rates, _) in zip(ips, ROUNDS, strict=True)},
        "ips": ips,
        "threads": threads,
        "requests_per_thread": REQUESTS_PER_THREAD,
        "now": FIXED_NOW,
        "limiter": LIMITER,
    }


def final_counts(config: hammer.Config) -> list[list[int]]:
    """Each round's rates as a read-only check finds them afterwards."""
    counts = []
    for ip in config["ips"]:
        rates = config["rates_by_ip"][ip]
        limits = limits_for(config["group"], ip, rates)
        usages = check(limits, 0, algorithm=config["algorithm"], now=FIXED_NOW)
        assert usages is not None
        counts.append([usage.count for usage in usages])
    return counts


def expected_counts() -> list[list[int]]:
    return [[admitted] * len(rates) for rates, admitted in ROUNDS]


@pytest.fixture(autouse=True)
def _no_token_bucket_on_pylibmc(request: pytest.FixtureRequest) -> None:
    """pylibmc refuses the token bucket (E008): its compare-and-swap stalled here."""
    skip_token_bucket_on_pylibmc(request)


@pytest.mark.parametrize("algorithm", [SLIDING_WINDOW, TOKEN_BUCKET, SLIDING_LOG])
def test_processes_and_threads_admit_exactly_the_limit(
    shared_backend: Backend, algorithm: str
) -> None:
    config = hammer_config(shared_backend, algorithm)

    admitted = hammer.run_in_processes(config, PROCESSES)

    assert admitted == [expected for _, expected in ROUNDS]
    assert final_counts(config) == expected_counts()


@pytest.mark.parametrize("algorithm", [SLIDING_WINDOW, TOKEN_BUCKET, SLIDING_LOG])
def test_locmem_threads_admit_exactly_the_limit(
    request: pytest.FixtureRequest, settings: Any, algorithm: str
) -> None:
    """Local memory is per process, so only threads share it (the token
    bucket's compare-and-swap is a lock there, the windows add+incr)."""
    backend = install_backend(request, settings, "locmem")
    threads = PROCESSES * THREADS
    config = hammer_config(backend, algorithm, threads=threads)

    admitted = hammer.run_threads(config, threading.Barrier(threads))

    assert admitted == [expected for _, expected in ROUNDS]
    assert final_counts(config) == expected_counts()


#: The gap the racy token bucket leaves between its read and its write.
RACE_WINDOW = 0.002


def racy_token_bucket(request: Any, config: hammer.Config) -> bool:
    """A broken token bucket: read the TAT, think, write it back (no CAS)."""
    cache = caches[config["alias"]]
    key = f"racy-tat:{config['group']}:{request.META['REMOTE_ADDR']}"
    rate = parsed(f"{config['limit']}/h")
    interval = gcra.interval_us(rate.limit, rate.period)
    now = round(FIXED_NOW * 1_000_000)
    tat = int(cache.get(key, 0))
    if not gcra.allows(tat, now, 1, interval, rate.limit):
        return True
    time.sleep(RACE_WINDOW)  # widens the race: this gap is the fault being simulated
    cache.set(key, gcra.arrival(tat, now, 1, interval), 3600)
    return False


def test_the_load_breaks_a_racy_token_bucket(request: pytest.FixtureRequest, settings: Any) -> None:
    """Sanity check of the load, not of the package: the same threads against
    a token bucket without compare-and-swap on memcached admit too many."""
    backend = install_backend(request, settings, "memcached")
    threads = PROCESSES * THREADS
    config = {
        **hammer_config(backend, TOKEN_BUCKET, threads=threads),
        "ips": ["10.89.0.1"],
        "limit": 37,
        "limiter": f"{__name__}.racy_token_bucket",
    }

    (admitted,) = hammer.run_threads(config, threading.Barrier(threads))

    assert admitted > 37, f"a racy token bucket let only {admitted} through"
