"""The load generator for the contention tests.

:func:`run_process` is the target of a *spawned* process: it configures Django
from a picklable config dict, starts ``threads`` threads and, for each round,
lets every thread of every process go at the same moment (one shared barrier),
then reports how many of its requests were allowed. :func:`run_threads` is the
same load inside the current process (for LocMem).

A round hammers one key: every request comes from the round's client IP. The
clock is frozen at ``config["now"]`` so a round never straddles a window edge.
"""

from __future__ import annotations

import multiprocessing
import threading
import traceback
from collections.abc import Callable
from typing import Any, Protocol

#: Seconds any wait may take before the harness gives up instead of hanging.
WAIT_TIMEOUT = 60.0

Config = dict[str, Any]
#: ``limited(request, config) -> bool``: True when the request was refused.
Limiter = Callable[[Any, Config], bool]


class Barrier(Protocol):
    def wait(self, timeout: float | None = None) -> int: ...


def configure_django(config: Config) -> None:
    """Settings for a fresh interpreter: the one cache under test, nothing else."""
    import django
    from django.conf import settings

    if settings.configured:
        return
    settings.configure(
        SECRET_KEY="hammer",
        USE_TZ=True,
        INSTALLED_APPS=["drf_ratelimit"],
        CACHES={
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            config["alias"]: config["cache"],
        },
        RATELIMIT_USE_CACHE=config["alias"],
    )
    django.setup()


def atomic_limited(request: Any, config: Config) -> bool:
    """The code under test."""
    from drf_ratelimit.core import is_ratelimited

    return is_ratelimited(
        request,
        group=config["group"],
        key="ip",
        rate=f"{config['limit']}/h",
        increment=True,
    )


def limiter_for(config: Config) -> Limiter:
    from django.utils.module_loading import import_string

    path = config.get("limiter")
    return atomic_limited if path is None else import_string(path)


def run_threads(config: Config, barrier: Barrier) -> list[int]:
    """Run every round on ``config["threads"]`` threads; requests allowed per round."""
    from django.test import RequestFactory

    from drf_ratelimit.clock import use_clock

    limited = limiter_for(config)
    rounds: list[str] = config["ips"]
    allowed = [[0] * config["threads"] for _ in rounds]
    errors: list[str] = []

    def worker(index: int) -> None:
        try:
            factory = RequestFactory()
            warm_up = factory.get("/", REMOTE_ADDR="192.0.2.1")
            limited(warm_up, {**config, "group": "warm-up", "limit": 10**6})
            for round_no, ip in enumerate(rounds):
                request = factory.get("/", REMOTE_ADDR=ip)
                barrier.wait(WAIT_TIMEOUT)
                for _ in range(config["requests_per_thread"]):
                    if not limited(request, config):
                        allowed[round_no][index] += 1
        except BaseException:
            errors.append(traceback.format_exc())
            abort(barrier)

    fixed_now = float(config["now"])
    with use_clock(lambda: fixed_now):
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(config["threads"])]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT_TIMEOUT * (len(rounds) + 1))
    if errors:
        raise RuntimeError("hammer thread failed:\n" + "\n".join(errors))
    if any(thread.is_alive() for thread in threads):
        raise RuntimeError("hammer thread did not finish")
    return [sum(per_thread) for per_thread in allowed]


def run_process(config: Config, barrier: Barrier, results: Any) -> None:
    """Spawned-process entry point: puts ``("ok", per_round)`` or ``("error", text)``."""
    try:
        configure_django(config)
        results.put(("ok", run_threads(config, barrier)))
    except BaseException:
        results.put(("error", traceback.format_exc()))
        abort(barrier)


def abort(barrier: Barrier) -> None:
    """Release everyone waiting on the barrier (BrokenBarrierError) instead of a deadlock."""
    release = getattr(barrier, "abort", None)
    if release is not None:
        release()


def run_in_processes(config: Config, processes: int) -> list[int]:
    """Run :func:`run_process` in ``processes`` spawned processes of
    ``config["threads"]`` threads each; requests allowed per round, summed."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes * config["threads"])
    results = context.Queue()
    workers = [
        context.Process(target=run_process, args=(config, barrier, results), daemon=True)
        for _ in range(processes)
    ]
    try:
        for process in workers:
            process.start()
        outcomes = [results.get(timeout=WAIT_TIMEOUT * 2) for _ in workers]
        for process in workers:
            process.join(WAIT_TIMEOUT)
    finally:
        for process in workers:
            if process.is_alive():
                process.terminate()
                process.join()
            process.close()
        results.close()
        results.join_thread()
    errors = [str(detail) for status, detail in outcomes if status != "ok"]
    assert not errors, "\n".join(errors)
    per_process: list[list[int]] = [detail for _, detail in outcomes]
    return [sum(rounds[r] for rounds in per_process) for r in range(len(config["ips"]))]
