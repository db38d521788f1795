"""Real redis-server and memcached processes on free loopback ports.

The suite starts its own servers (never the machine's) so fault tests can stop
and restart them. A missing binary skips the tests that need it, unless
``DRF_RATELIMIT_REQUIRE_SERVERS=1`` (set by ``.ci/run``) makes it a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import pytest

REQUIRE_SERVERS = os.environ.get("DRF_RATELIMIT_REQUIRE_SERVERS") == "1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"server on port {port} did not start within {timeout}s")


@dataclass
class Server:
    """One server process that can be stopped and started again on the same port."""

    binary: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@dataclass
class RedisServer(Server):
    workdir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="drf-rl-redis-"))

    def command(self) -> list[str]:
        return [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self.workdir,
        ]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@dataclass
class MemcachedServer(Server):
    def command(self) -> list[str]:
        return [
            self.binary,
            "-l",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "0",
            "-m",
            "64",
            "-u",
            "root",
        ]

    @property
    def location(self) -> str:
        return f"127.0.0.1:{self.port}"


def find_binary(name: str) -> str:
    """The server binary's path, or skip (fail under CI) when it is missing."""
    path = shutil.which(name) or next(
        (
            p
            for p in (f"/usr/bin/{name}", f"/usr/sbin/{name}", f"/usr/local/bin/{name}")
            if os.path.exists(p)
        ),
        None,
    )
    if path is None:
        message = f"{name} binary not found on PATH; install it (apt-get install {name})"
        if REQUIRE_SERVERS:
            pytest.fail(message + " -- DRF_RATELIMIT_REQUIRE_SERVERS=1 makes it required")
        pytest.skip(message)
    return path
