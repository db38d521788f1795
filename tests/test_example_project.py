"""The example project over real HTTP: the README's first command must work.

Run once on the embedded default (local memory) and once with ``REDIS_URL``
pointing at the suite's own redis-server, where the management command, a
separate process, sees and resets the server's counters.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import RedisServer, free_port, wait_for_port

MANAGE = Path(__file__).resolve().parent.parent / "example_project" / "manage.py"


@dataclass
class Example:
    url: str
    env: dict[str, str]

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, str(MANAGE), *args]
        return subprocess.run(command, env=self.env, check=True, capture_output=True, text=True)


@pytest.fixture(scope="module", params=["locmem", "redis"])
def example(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Example]:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "REDIS_URL")}
    env["EXAMPLE_DATABASE"] = str(tmp_path_factory.mktemp("example") / "db.sqlite3")
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        env["REDIS_URL"] = server.url[:-1] + "2"  # a database no other test uses
    port = free_port()
    example = Example(f"http://127.0.0.1:{port}", env)
    example.manage("migrate", "-v0")
    process = subprocess.Popen(
        [sys.executable, str(MANAGE), "runserver", "--noreload", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=30)
        yield example
    finally:
        process.terminate()
        process.wait(timeout=10)


def fetch(url: str, json_body: object = None) -> tuple[int, dict[str, str]]:
    """Status and headers, for 4xx answers too; a JSON body makes it a POST."""
    data = None if json_body is None else json.dumps(json_body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), dict(response.headers)
    except urllib.error.HTTPError as error:
        error.close()
        return int(error.code), dict(error.headers)


def first_429(answers: list[tuple[int, dict[str, str]]], limit: int, allowed: int) -> int:
    """Where the first 429 is: after ``limit`` requests, up to twice that if the run
    straddles the end of a window (windows are fixed, so the test reads headers,
    not a count)."""
    statuses = [status for status, _ in answers]
    index = statuses.index(429)
    assert limit <= index <= 2 * limit
    assert set(statuses[:index]) == {allowed}
    return index


def test_plain_view_answers_429_after_five(example: Example) -> None:
    answers = [fetch(f"{example.url}/hello/") for _ in range(11)]
    first_429(answers, 5, 200)


def test_drf_list_endpoint_is_throttled_with_retry_after_and_ratelimit_headers(
    example: Example,
) -> None:
    answers = [fetch(f"{example.url}/api/items/") for _ in range(7)]
    index = first_429(answers, 3, 200)
    last_allowed, throttled = answers[index - 1][1], answers[index][1]
    policy = '"items-60s";q=3;w=60, "items-3600s";q=20;w=3600'
    assert last_allowed["RateLimit-Policy"] == throttled["RateLimit-Policy"] == policy
    assert last_allowed["RateLimit"].startswith('"items-60s";r=0;t=')
    t = int(throttled["RateLimit"].rpartition("t=")[2])
    assert throttled["RateLimit"] == f'"items-60s";r=0;t={t}'
    # The sliding window: three requests weigh on the next minute too, so the
    # fourth may wait past the end of this one (at most two periods).
    assert 1 <= t <= 120
    assert int(throttled["Retry-After"]) == t


def test_login_is_throttled_per_username(example: Example) -> None:
    def login(username: str) -> tuple[int, dict[str, str]]:
        return fetch(f"{example.url}/api/login/", {"username": username, "password": "wrong"})

    answers = [login("alice") for _ in range(11)]
    index = first_429(answers, 5, 400)  # wrong passwords, then the throttle
    assert answers[index][1]["RateLimit"].startswith('"login-60s";r=0;t=')
    assert int(answers[index][1]["Retry-After"]) >= 1
    assert login("bob")[0] == 400  # another username has its own count


def test_upload_has_a_burst_rate(example: Example) -> None:
    answers = [fetch(f"{example.url}/api/upload/", {"file": "x"}) for _ in range(7)]
    index = first_429(answers, 3, 201)
    policy = answers[index][1]["RateLimit-Policy"]
    assert policy == '"uploads-60s";q=3;w=60, "uploads-86400s";q=50;w=86400'


def test_the_management_command_unlocks_a_username(example: Example) -> None:
    """With Redis the command, a process of its own, sees and resets the server's
    counters; with local memory it says that it cannot."""
    login = {"username": "carol", "password": "wrong"}
    statuses = [fetch(f"{example.url}/api/login/", login)[0] for _ in range(11)]
    assert 429 in statuses
    args = ("--view", "/api/login/", "--method", "POST", "--data", "username=carol")
    usage = example.manage("ratelimit", "usage", *args)
    if "REDIS_URL" not in example.env:
        assert "does not share with the server" in usage.stderr
        assert "LIMITED" not in usage.stdout
        return
    assert "LIMITED" in usage.stdout
    example.manage("ratelimit", "reset", *args)
    assert fetch(f"{example.url}/api/login/", login)[0] == 400
