"""The benchmarks still run (a few iterations of every section; no numbers are judged).

``python -m benchmarks`` is not part of the test run; this keeps it from rotting.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks import __main__ as cli
from benchmarks import algorithm_fidelity, e2e, environment, memory, per_check, sections, targets
from benchmarks.environment import BACKENDS, DJANGO_REDIS, LABELS, LOCMEM, MEMCACHED, REDIS, Servers
from benchmarks.per_check import MAIN_SCENARIO, Bench, Settings
from benchmarks.rows import (
    ANON_THROTTLE,
    DJANGO_RATELIMIT,
    ENGINE_LOG,
    FLOOR,
    LIMITS_MOVING,
    OURS,
    PEER,
    THROTTLE,
    THROTTLE_LOG,
    THROTTLE_LOG_TWO_RATES,
    THROTTLE_TWO_RATES,
)
from drf_ratelimit._algorithms import NAMES

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
        assert {THROTTLE_TWO_RATES, ENGINE_LOG, THROTTLE_LOG, THROTTLE_LOG_TWO_RATES} <= names
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
    # The sliding log is prefilled too: at 1,000/h the client starts with 995 entries.
    header = next(line for line in by_limit.splitlines() if line.startswith("| check |"))
    column = [cell.strip() for cell in header.strip("|").split("|")].index(
        "1,000/h: bytes / client"
    )
    rows = {cells[0]: cells for cells in table_rows(by_limit)}
    assert numbers(rows[ENGINE_LOG][column])[0] > 5000


def test_calls_section_counts_every_entry_point(benches: dict[str, Bench]) -> None:
    rows = {cells[0]: cells[1:] for cells in table_rows(sections.calls_section(benches))}

    assert set(sections.CALL_ROWS) <= set(rows)
    for name, cells in rows.items():
        # Python calls, ours, our modules on each backend; Redis commands on RedisCache.
        assert len(cells) == 3 * len(sections.CALL_BACKENDS) + 1, name
        assert all(cell == "-" or numbers(cell) for cell in cells), name
    redis_calls, ours, modules = (numbers(cell)[0] for cell in rows[THROTTLE][:3])
    assert redis_calls >= ours > 0 and modules >= 1
    assert rows[DJANGO_RATELIMIT][1:3] == ["0", "0"]  # none of django-ratelimit's are ours
    # One EVALSHA per check, whatever the algorithm and however many rates.
    for name in (THROTTLE, THROTTLE_TWO_RATES, ANON_THROTTLE, THROTTLE_LOG, THROTTLE_LOG_TWO_RATES):
        assert rows[name][3] == "1", name


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
    log_goal = next(row for row in rows if "sliding log" in row[0])
    assert "sliding-log two rates" not in log_goal[1]  # one rate: gets and cas on its one key
    assert all(
        THROTTLE_LOG_TWO_RATES.split(" ", 1)[1] in row[1]
        for row in rows
        if "1 Redis command" in row[0]
    )


def test_memory_section_measures_every_store(benches: dict[str, Bench]) -> None:
    text = memory.section(benches, limits=(10, 20))

    for alias in memory.STORES:
        assert f"### {LABELS[alias]}" in text
    tables = text.split("### ")[1:]
    for store in tables:
        rows = {cells[0]: [numbers(cell) for cell in cells[1:]] for cells in table_rows(store)}
        log, drf, window = (
            rows[memory.SLIDING_LOG],
            rows[memory.DRF_HISTORY],
            rows[memory.SLIDING_WINDOW],
        )
        assert 0 < log[0][0] < log[2][0] and 0 < drf[0][0] < drf[2][0]  # grow with the limit
        assert window[1] == window[3] == []  # no bytes / entry for counters
    # In local memory, exactly the pickled tuple of integer microseconds (and DRF's list of floats).
    start_us = int(memory.START * 1_000_000)
    log_tuple = tuple(start_us + i * 1000 for i in range(10))
    history = [memory.START + i * memory.STEP for i in range(10)]
    locmem = {cells[0]: cells[1] for cells in table_rows(tables[-1])}
    assert numbers(locmem[memory.SLIDING_LOG]) == [
        len(pickle.dumps(log_tuple, pickle.HIGHEST_PROTOCOL))
    ]
    assert numbers(locmem[memory.DRF_HISTORY]) == [
        len(pickle.dumps(history, pickle.HIGHEST_PROTOCOL))
    ]


def test_fidelity_sliding_log_admits_exactly_n_in_any_period() -> None:
    assert set(algorithm_fidelity.ALGORITHMS) == set(NAMES)

    measured = list(algorithm_fidelity.measure(("sliding-log", "fixed-window"), periods=6))

    assert len(measured) == 7
    for name, drf_max, results in measured:
        log = results["sliding-log"]
        assert drf_max == log.max_over_limit == 1.0, name  # N in some period, never more
        assert log.agree == log.admit == 1.0, name  # decides as DRF does, request by request
    edge = next(results for name, _, results in measured if name == "edge attack")
    assert edge["fixed-window"].max_over_limit == 2.0  # what the fixed window allows


def test_sections_are_named_and_checked() -> None:
    assert {"calls", "memory", "targets"} <= set(cli.SECTIONS)
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
