"""``python -m benchmarks``: every table of docs/performance.md, printed as Markdown.

Starts a private redis-server and memcached on free loopback ports, measures,
prints, stops them. ``--quick`` runs a few iterations of everything (a smoke
run, not numbers to quote).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from benchmarks import environment
from benchmarks.environment import REDIS

SECTIONS = ("per-check", "limits", "clients", "e2e")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny iteration counts (smoke run)")
    parser.add_argument("--iterations", type=int, default=3000, help="timed checks per row")
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}"
    )
    parser.add_argument(
        "--e2e-seconds", type=float, default=4.0, help="load per endpoint and round"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    wanted = set(args.sections.split(","))
    with environment.servers() as running:
        environment.configure_django(running)
        from benchmarks import per_check, report, sections
        from benchmarks.per_check import Settings

        settings = Settings(20, 5, 5, repeats=1) if args.quick else Settings(args.iterations)
        benches = per_check.benches(running)
        print("# drf_ratelimit benchmarks\n")
        print(report.machine(sections.server_versions(running)) + "\n", flush=True)
        if "per-check" in wanted:
            print(sections.per_check_section(benches, settings) + "\n", flush=True)
        if "limits" in wanted:
            print(sections.limits_section(benches[REDIS], settings) + "\n", flush=True)
        if "clients" in wanted:
            print(sections.clients_section(benches[REDIS], settings, args.quick) + "\n", flush=True)
        if "e2e" in wanted:
            from benchmarks import e2e

            seconds = 0.5 if args.quick else args.e2e_seconds
            print(e2e.section(running, seconds=seconds, rounds=1 if args.quick else 3), flush=True)


if __name__ == "__main__":
    main()
