"""The benchmarks still run (a few iterations of every section; no numbers are judged).

``python -m benchmarks`` is not part of the test run; this keeps it from rotting.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks import __main__ as cli
from benchmarks import e2e, environment, per_check, sections, targets
from benchmarks.environment import BACKENDS, DJANGO_REDIS, LABELS, LOCMEM, MEMCACHED, REDIS, Servers
from benchmarks.per_check import MAIN_SCENARIO, Bench, Settings
from benchmarks.rows import (
    DJANGO_RATELIMIT,
    FLOOR,
    LIMITS_MOVING,
    OURS,
    PEER,
    THROTTLE,
    THROTTLE_TWO_RATES,
)

pytestmark = [pytest.mark.redis, pytest.mark.memcached]

TINY = Settings(iterations=5, warmup=2, counted=3, repeats=1)


@pytest.fixture(scope="module")
def running() -> Iterator[Servers]:
    """Servers of its own: the benchmark flushes Redis between rows."""
    with environment.servers() as servers:
        yield servers


@pytest.fixture
def benches(running: Servers, settings: Any) -> dict[str, Bench]:
    settings.CACHES = environment.cache_settings(running)
    return per_check.benches(running)


def table_rows(markdown: str) -> list[list[str]]:
    """The body cells of the (last) Markdown table in ``markdown``."""
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def numbers(cell: str) -> list[float]:
    return [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", cell)]


def test_every_row_of_every_backend_is_measured(benches: dict[str, Bench]) -> None:
    for alias in BACKENDS:
        results = per_check.table(benches[alias], MAIN_SCENARIO, TINY)

        kinds = {result.row.kind for result in results}
        names = {result.row.name for result in results}
        assert {OURS, PEER} <= kinds
        assert (FLOOR in kinds) is (alias != LOCMEM)
        assert THROTTLE_TWO_RATES in names
        assert (LIMITS_MOVING in names) is (alias in (REDIS, DJANGO_REDIS))
        for result in results:
            assert len(result.samples_ns) == TINY.iterations and result.median_us > 0
            # Every check reached the server (LocMem has none) and stored something.
            assert (result.round_trips >= 1) is (alias != LOCMEM), result.row.name
            assert result.bytes_per_client is None or result.bytes_per_client > 0


def test_scaling_sections_render(benches: dict[str, Bench]) -> None:
    by_limit = sections.limits_section(benches[REDIS], TINY, limits=(10, 1000))
    by_clients = sections.clients_section(benches[REDIS], TINY, quick=True, counts=(1, 3))

    assert "1,000/h: bytes / client" in by_limit
    assert "| DRF AnonRateThrottle |" in by_limit
    assert "| limits SlidingWindowCounterRateLimiter |" in by_clients
    assert "3 clients: round trips" in by_clients
    # limits' moving window stores a list: prefilled by its own row, not as a counter.
    assert "| limits MovingWindowRateLimiter |" in by_limit


def test_calls_section_counts_every_entry_point(benches: dict[str, Bench]) -> None:
    rows = {cells[0]: cells[1:] for cells in table_rows(sections.calls_section(benches))}

    assert set(sections.CALL_ROWS) <= set(rows)
    for name, cells in rows.items():
        assert len(cells) == 3 * len(sections.CALL_BACKENDS), name
        assert all(cell == "-" or numbers(cell) for cell in cells), name
    redis_calls, ours, modules = (numbers(cell)[0] for cell in rows[THROTTLE][:3])
    assert redis_calls >= ours > 0 and modules >= 1
    assert rows[DJANGO_RATELIMIT][1:3] == ["0", "0"]  # none of django-ratelimit's are ours


def test_targets_section_judges_every_target(benches: dict[str, Bench]) -> None:
    tables = {alias: per_check.table(benches[alias], MAIN_SCENARIO, TINY) for alias in BACKENDS}
    ratios = {REDIS: (0.9, 0.8), MEMCACHED: (0.5, 0.6)}

    text = targets.section(tables, ratios, TINY)

    rows = table_rows(text)
    assert len(rows) == len(targets.goals(tables, ratios)) > len(ratios)
    for target, measured, met in rows:
        assert numbers(measured) and met in {"yes", "no"}, target
    assert [row[1:] for row in rows[-2:]] == [
        ["0.90 (one bare incr per request: 0.80)", "yes"],
        ["0.50 (one bare incr per request: 0.60)", "no"],
    ]
    for label in (LABELS[DJANGO_REDIS], LABELS[REDIS], LABELS[LOCMEM], LABELS[MEMCACHED]):
        assert any(target.startswith(label) for target, _, _ in rows), label


def test_sections_are_named_and_checked() -> None:
    assert {"calls", "targets"} <= set(cli.SECTIONS)
    assert cli.parse_args(["--sections", "calls,targets"]).sections == "calls,targets"
    with pytest.raises(SystemExit):
        cli.parse_args(["--sections", "per-check,nope"])


@pytest.mark.concurrency
def test_end_to_end_section_serves_every_endpoint(running: Servers) -> None:
    text = e2e.section(running, seconds=0.2, rounds=1, backends=(REDIS,))

    assert f"### {LABELS[REDIS]}" in text
    for name, _ in e2e.ENDPOINTS:
        line = next(line for line in text.splitlines() if line.startswith(f"| {name} |"))
        assert line.endswith("| none |"), line  # every request was answered with a 200
