"""``python -m benchmarks``: every table of docs/performance.md, printed as Markdown.

Starts a private redis-server and memcached on free loopback ports, measures,
prints, stops them. ``--quick`` runs a few iterations of everything (a smoke
run, not numbers to quote).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from benchmarks import environment
from benchmarks.environment import REDIS

if TYPE_CHECKING:  # importing the rows needs Django configured first
    from benchmarks.per_check import Settings

SECTIONS = ("per-check", "limits", "clients", "e2e", "calls", "memory", "targets")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny iteration counts (smoke run)")
    parser.add_argument("--iterations", type=int, default=3000, help="timed checks per row")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated subset of {SECTIONS}; targets are read from the per-check "
        "tables (and e2e, when it runs), so targets also measures and prints per-check",
    )
    parser.add_argument(
        "--e2e-seconds", type=float, default=4.0, help="load per endpoint and round"
    )
    args = parser.parse_args(argv)
    unknown = set(args.sections.split(",")) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    return args


def run_settings(args: argparse.Namespace) -> Settings:
    """``--quick``: a few timed checks, but warm-up enough for every client of the main
    tables to have sent one check before round trips are counted, so that the targets'
    round trips are the steady state's even in a smoke run."""
    from benchmarks.per_check import MAIN_SCENARIO, Settings

    if args.quick:
        return Settings(20, MAIN_SCENARIO.clients, 5, repeats=1)
    return Settings(args.iterations)


def emit(text: str) -> None:
    print(text + "\n", flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    wanted = set(args.sections.split(","))
    with environment.servers() as running:
        environment.configure_django(running)
        from benchmarks import memory, per_check, report, sections, targets

        settings = run_settings(args)
        benches = per_check.benches(running)
        print("# drf_ratelimit benchmarks\n")
        emit(report.machine(sections.server_versions(running)))
        tables = None
        if wanted & {"per-check", "targets"}:
            tables = sections.per_check_tables(benches, settings)
            emit(sections.per_check_section(tables, settings))
        if "limits" in wanted:
            emit(sections.limits_section(benches[REDIS], settings))
        if "clients" in wanted:
            emit(sections.clients_section(benches[REDIS], settings, args.quick))
        e2e_ratios = None
        if "e2e" in wanted:
            e2e_ratios = run_e2e(running, args)
        if "calls" in wanted:
            emit(sections.calls_section(benches))
        if "memory" in wanted:
            emit(
                memory.section(benches, memory.QUICK_LIMITS if args.quick else memory.MEMORY_LIMITS)
            )
        if tables is not None and "targets" in wanted:
            emit(targets.section(tables, e2e_ratios, settings))


def run_e2e(
    running: environment.Servers, args: argparse.Namespace
) -> dict[str, tuple[float, float]]:
    """Print the end-to-end section; return its ratios (ours, the floor's) for the targets."""
    from benchmarks import e2e

    seconds = 0.5 if args.quick else args.e2e_seconds
    rounds = 1 if args.quick else 3
    results = e2e.measure_backends(running, seconds=seconds, rounds=rounds)
    print(e2e.render(results, seconds, rounds), flush=True)
    return {
        alias: (e2e.ratio(backend), e2e.ratio(backend, e2e.FLOOR))
        for alias, backend in results.items()
    }


if __name__ == "__main__":
    main()
