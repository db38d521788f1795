"""Python function calls per check, counted with ``sys.setprofile``.

Timings on a shared machine move by tens of percent from run to run; the number
of Python calls a check makes does not, so it shows a change in the hot path
(one more helper, one more module crossed) that the timings would hide. Counted:
every Python function entered while the checks run ("call" events; a generator
counts once per resumption, as in cProfile), except those of the benchmark's own
wrappers (the ``benchmarks`` package), and of those the ones defined in a
package under study. Builtins and C extensions ("c_call") are not counted.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

#: The benchmark's own wrappers (rotating clients, instantiating throttles) are not the check.
HARNESS = "benchmarks"


@dataclass(frozen=True)
class Calls:
    """Per check, averaged over the checks counted (equal in the steady state).

    ``commands``: the Redis commands that reached the server per check (counted
    at the server, by :mod:`benchmarks.observe`), where they were counted."""

    python: float
    package: float
    modules: int
    commands: float | None = None


def in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def count(check: Callable[[], object], checks: int, package: str) -> Calls:
    """Run ``check`` ``checks`` times under a profile hook that counts function entries."""
    python = 0
    ours = 0
    modules: set[str] = set()

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal python, ours
        if event != "call":
            return
        module = frame.f_globals.get("__name__") or ""
        if in_package(module, HARNESS):
            return
        python += 1
        if in_package(module, package):
            ours += 1
            modules.add(module)

    sys.setprofile(profile)
    try:
        for _ in range(checks):
            check()
    finally:
        sys.setprofile(None)
    return Calls(python / checks, ours / checks, len(modules))
