"""Markdown tables and the description of the machine the numbers came from."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from importlib import metadata
from typing import TYPE_CHECKING

from benchmarks.rows import FLOOR, OURS

if TYPE_CHECKING:
    from benchmarks.calls import Calls
    from benchmarks.per_check import Measured

PACKAGES = (
    "Django",
    "djangorestframework",
    "redis",
    "hiredis",
    "django-redis",
    "pymemcache",
    "django-ratelimit",
    "limits",
    "gunicorn",
)


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table; the first column left-aligned, the rest right."""
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def us(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def size(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def trips(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def per_check_table(results: Sequence[Measured]) -> str:
    floor = next((r.median_us for r in results if r.row.kind == FLOOR), None)
    rows = [
        [
            r.row.name if r.row.kind != OURS else f"**{r.row.name}**",
            us(r.median_us),
            us(r.p99_us),
            "-" if floor is None else f"{r.median_us / floor:.2f}",
            trips(r.round_trips),
            size(r.bytes_per_client),
        ]
        for r in results
    ]
    header = ["check", "median µs", "p99 µs", "x floor", "round trips", "bytes / client"]
    return markdown(header, rows)


def scaling_table(
    columns: Sequence[str], results: Sequence[Sequence[Measured]], cells: Sequence[str]
) -> str:
    """One row per check, for each column (a limit, a client count) the ``cells`` asked for."""
    render = {
        "median µs": lambda m: us(m.median_us),
        "p99 µs": lambda m: us(m.p99_us),
        "round trips": lambda m: trips(m.round_trips),
        "bytes / client": lambda m: size(m.bytes_per_client),
    }
    header = ["check"] + [f"{column}: {cell}" for column in columns for cell in cells]
    rows = []
    for i, first in enumerate(results[0]):
        row = [first.row.name]
        for column_results in results:
            row += [render[cell](column_results[i]) for cell in cells]
        rows.append(row)
    return markdown(header, rows)


def count(value: float) -> str:
    """A per-check count: whole in the steady state, one decimal if checks differed."""
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def calls_table(columns: Sequence[str], counted: Sequence[dict[str, Calls]]) -> str:
    """One row per check, for each backend its calls, drf_ratelimit's calls and modules,
    and its Redis commands where they were counted."""
    names = list(dict.fromkeys(name for backend in counted for name in backend))
    cells = ("Python calls", "drf_ratelimit calls", "drf_ratelimit modules")
    commands = [any(c.commands is not None for c in backend.values()) for backend in counted]
    header = ["check"]
    for column, with_commands in zip(columns, commands, strict=True):
        header += [f"{column}: {cell}" for cell in cells]
        header += [f"{column}: Redis commands"] if with_commands else []
    rows = []
    for name in names:
        row = [name]
        for backend, with_commands in zip(counted, commands, strict=True):
            calls = backend.get(name)
            width = 3 + with_commands
            if calls is None:
                row += ["-"] * width
                continue
            row += [count(calls.python), count(calls.package), str(calls.modules)]
            if with_commands:
                row.append("-" if calls.commands is None else count(calls.commands))
        rows.append(row)
    return markdown(header, rows)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine(server_versions: dict[str, str]) -> str:
    packages = ", ".join(f"{name} {version(name)}" for name in PACKAGES)
    servers = ", ".join(f"{name} {v}" for name, v in server_versions.items())
    return "\n".join(
        [
            f"- CPU: {cpu_model()}, {os.cpu_count()} logical CPUs",
            f"- OS: {platform.platform()}",
            f"- Python {platform.python_version()} ({platform.python_implementation()})",
            f"- Servers (loopback): {servers}",
            f"- Packages: {packages}",
        ]
    )
