"""Exactly ``limit`` requests get through, however hard one key is hammered.

4 spawned processes x 8 threads send 320 requests for one client against a
limit of 37, three times over (a fresh client each round): every round lets
exactly 37 through and the counter ends at exactly 320. A deliberately
non-atomic get-then-set counter under the same load overshoots, which shows
the harness does produce the contention that would expose lost updates.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.core.cache import caches
from django.test import RequestFactory

from drf_ratelimit.clock import use_clock
from drf_ratelimit.core import get_usage
from tests.conftest import Backend, cache_config, install_backend
from tests.storage import hammer

pytestmark = pytest.mark.concurrency

PROCESSES = 4
THREADS = 8
REQUESTS_PER_THREAD = 10
TOTAL = PROCESSES * THREADS * REQUESTS_PER_THREAD
LIMIT = 37
ROUNDS = 3
#: Every worker's clock is frozen here, so no round can straddle a window edge.
FIXED_NOW = 1_700_000_123.0
#: The gap the broken counter leaves between its read and its write.
RACE_WINDOW = 0.002


def hammer_config(backend: Backend, rounds: int = ROUNDS, **extra: Any) -> hammer.Config:
    return {
        "alias": backend.alias,
        "cache": cache_config(backend.name, backend.server),
        "group": "hammer",
        "limit": LIMIT,
        "ips": [f"10.77.{round_no}.1" for round_no in range(rounds)],
        "threads": THREADS,
        "requests_per_thread": REQUESTS_PER_THREAD,
        "now": FIXED_NOW,
        **extra,
    }


def final_count(ip: str) -> int:
    request = RequestFactory().get("/", REMOTE_ADDR=ip)
    with use_clock(lambda: FIXED_NOW):
        usage = get_usage(request, group="hammer", key="ip", rate=f"{LIMIT}/h")
    assert usage is not None
    return usage.count


def naive_key(group: str, ip: str) -> str:
    return f"naive:{group}:{ip}"


def naive_limited(request: Any, config: hammer.Config) -> bool:
    """A broken limiter: read, think, write. Increments are lost under contention."""
    cache = caches[config["alias"]]
    key = naive_key(config["group"], request.META["REMOTE_ADDR"])
    count = int(cache.get(key, 0)) + 1
    time.sleep(RACE_WINDOW)  # widens the race: this gap is the fault being simulated
    cache.set(key, count, 3600)
    return count > int(config["limit"])


NAIVE = f"{__name__}.naive_limited"


def naive_count(backend: Backend, config: hammer.Config) -> int:
    return int(backend.cache.get(naive_key(config["group"], config["ips"][0])))


def test_processes_and_threads_allow_exactly_the_limit(shared_backend: Backend) -> None:
    config = hammer_config(shared_backend)

    allowed = hammer.run_in_processes(config, PROCESSES)

    assert allowed == [LIMIT] * ROUNDS
    # Not one increment was lost: refused requests are counted too.
    assert [final_count(ip) for ip in config["ips"]] == [TOTAL] * ROUNDS


def test_locmem_threads_allow_exactly_the_limit(
    request: pytest.FixtureRequest, settings: Any
) -> None:
    backend = install_backend(request, settings, "locmem")
    # The same load, all in this process: 32 threads x 10 requests.
    config = hammer_config(backend, threads=PROCESSES * THREADS)

    allowed = hammer.run_threads(config, threading.Barrier(PROCESSES * THREADS))

    assert allowed == [LIMIT] * ROUNDS
    assert [final_count(ip) for ip in config["ips"]] == [TOTAL] * ROUNDS


def test_harness_detects_a_non_atomic_counter(shared_backend: Backend) -> None:
    """Sanity check of the harness, not of the package: get-then-set overshoots."""
    config = hammer_config(shared_backend, rounds=1, limiter=NAIVE)

    allowed = hammer.run_in_processes(config, PROCESSES)

    assert allowed[0] > LIMIT, f"a racy counter let only {allowed[0]} through"
    assert naive_count(shared_backend, config) < TOTAL  # increments were lost


def test_thread_harness_detects_a_non_atomic_counter(
    request: pytest.FixtureRequest, settings: Any
) -> None:
    backend = install_backend(request, settings, "locmem")
    config = hammer_config(backend, rounds=1, limiter=NAIVE, threads=PROCESSES * THREADS)

    allowed = hammer.run_threads(config, threading.Barrier(PROCESSES * THREADS))

    assert allowed[0] > LIMIT, f"a racy counter let only {allowed[0]} through"
    assert naive_count(backend, config) < TOTAL
