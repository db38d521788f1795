"""What a check costs on a Redis Cluster, beside one Redis server, in one run.

    python -m benchmarks.cluster [--checks 1500] [--rounds 3]

Starts a 3-master + 3-replica cluster and one redis-server on loopback (the
test suite's helpers), then times checks through ``RedisClusterCache`` and
Django's ``RedisCache``, and a bare ``INCR`` through each client (the floor),
round after round, interleaved, so a busy machine slows them alike. Each row
is the median of its rounds' medians, in microseconds, and its ratio to its
own topology's floor.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.core.cache import caches  # noqa: E402

from benchmarks.environment import require  # noqa: E402
from drf_ratelimit._engine import Limit, check  # noqa: E402
from drf_ratelimit._spec.rates import Rate  # noqa: E402
from tests.servers import RedisClusterServers, RedisServer  # noqa: E402

ALGORITHMS = ("fixed-window", "sliding-window", "token-bucket", "sliding-log")


def median_us(run: Callable[[int], object], checks: int) -> float:
    times = []
    for i in range(checks):
        started = time.perf_counter()
        run(i)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checks", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    cluster = RedisClusterServers(require("redis-server"), require("redis-cli"))
    single = RedisServer(require("redis-server"))
    cluster.start()
    single.start()
    try:
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "cluster": {
                "BACKEND": "drf_ratelimit.cluster.RedisClusterCache",
                "LOCATION": cluster.location,
            },
            "single": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{single.port}",
            },
        }
        print(table(measure(arguments.checks, arguments.rounds)))
    finally:
        cluster.stop()
        single.stop()


def measure(checks: int, rounds: int) -> dict[tuple[str, str], list[float]]:
    results: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):
        for alias in ("single", "cluster"):
            cache = caches[alias]
            client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
            floor = median_us(lambda i, c=client: c.incr(f"floor:{i % 200}"), checks)
            results.setdefault((alias, "bare INCR"), []).append(floor)
            for algorithm in ALGORITHMS:

                def one(i: int, algorithm: str = algorithm, cache: object = cache) -> object:
                    limit = Limit("bench", Rate(10**9, 3600), f"10.0.{i % 200}.1", aligned=True)
                    return check([limit], algorithm=algorithm, cache=cache)  # type: ignore[arg-type]

                results.setdefault((alias, algorithm), []).append(median_us(one, checks))
    return results


def table(results: dict[tuple[str, str], list[float]]) -> str:
    lines = ["| topology | check | median µs | x its floor |", "|---|---|---:|---:|"]
    for (alias, name), values in results.items():
        value = statistics.median(values)
        floor = statistics.median(results[(alias, "bare INCR")])
        lines.append(f"| {alias} | {name} | {value:.1f} | {value / floor:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
