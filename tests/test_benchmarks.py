"""The benchmarks still run (a few iterations of every section; no numbers are judged).

``python -m benchmarks`` is not part of the test run; this keeps it from rotting.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks import e2e, environment, per_check, sections
from benchmarks.environment import BACKENDS, LABELS, LOCMEM, REDIS, Servers
from benchmarks.per_check import MAIN_SCENARIO, Bench, Settings
from benchmarks.rows import FLOOR, OURS, PEER

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


def test_every_row_of_every_backend_is_measured(benches: dict[str, Bench]) -> None:
    for alias in BACKENDS:
        results = per_check.table(benches[alias], MAIN_SCENARIO, TINY)

        kinds = {result.row.kind for result in results}
        assert {OURS, PEER} <= kinds
        assert (FLOOR in kinds) is (alias != LOCMEM)
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


@pytest.mark.concurrency
def test_end_to_end_section_serves_every_endpoint(running: Servers) -> None:
    text = e2e.section(running, seconds=0.2, rounds=1, backends=(REDIS,))

    assert f"### {LABELS[REDIS]}" in text
    for name, _ in e2e.ENDPOINTS:
        line = next(line for line in text.splitlines() if line.startswith(f"| {name} |"))
        assert line.endswith("| none |"), line  # every request was answered with a 200
