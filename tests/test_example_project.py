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


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.close()
        return int(error.code)


def test_plain_view_answers_429_after_five(example_server: str) -> None:
    statuses = [status_of(f"{example_server}/hello/") for _ in range(6)]
    assert statuses == [200] * 5 + [429]


def test_drf_endpoint_answers_403_after_three(example_server: str) -> None:
    statuses = [status_of(f"{example_server}/api/items/") for _ in range(4)]
    assert statuses == [200] * 3 + [403]
