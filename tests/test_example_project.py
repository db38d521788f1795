"""The example project over real HTTP: the README's first command must work."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import free_port, wait_for_port

MANAGE = Path(__file__).resolve().parent.parent / "example_project" / "manage.py"


@pytest.fixture(scope="module")
def example_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "REDIS_URL")}
    env["EXAMPLE_DATABASE"] = str(tmp_path_factory.mktemp("example") / "db.sqlite3")
    subprocess.run([sys.executable, str(MANAGE), "migrate", "-v0"], env=env, check=True)
    process = subprocess.Popen(
        [sys.executable, str(MANAGE), "runserver", "--noreload", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def fetch(url: str) -> tuple[int, dict[str, str]]:
    """Status and headers, for 4xx answers too."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status), dict(response.headers)
    except urllib.error.HTTPError as error:
        error.close()
        return int(error.code), dict(error.headers)


def status_of(url: str) -> int:
    return fetch(url)[0]


def test_plain_view_answers_429_after_five(example_server: str) -> None:
    statuses = [status_of(f"{example_server}/hello/") for _ in range(6)]
    assert statuses == [200] * 5 + [429]


def test_drf_endpoint_is_throttled_with_retry_after_and_ratelimit_headers(
    example_server: str,
) -> None:
    """3/m: the fourth request in a minute gets a 429 (up to six if the run
    straddles the top of a minute, so the test reads the headers, not a count)."""
    answers = [fetch(f"{example_server}/api/items/") for _ in range(7)]
    statuses = [status for status, _ in answers]
    first_429 = statuses.index(429)
    assert 3 <= first_429 <= 6
    assert set(statuses[:first_429]) == {200}
    last_allowed, throttled = answers[first_429 - 1][1], answers[first_429][1]
    policy = '"items-60s";q=3;w=60, "items-3600s";q=20;w=3600'
    assert last_allowed["RateLimit-Policy"] == throttled["RateLimit-Policy"] == policy
    assert last_allowed["RateLimit"].startswith('"items-60s";r=0;t=')
    t = int(throttled["RateLimit"].rpartition("t=")[2])
    assert throttled["RateLimit"] == f'"items-60s";r=0;t={t}'
    assert 1 <= t <= 60
    assert int(throttled["Retry-After"]) == t
