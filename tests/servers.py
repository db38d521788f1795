"""Real redis-server, memcached and gunicorn processes on free loopback ports.

The suite starts its own servers (never the machine's) so fault tests can stop
and restart them. A missing binary skips the tests that need it, unless
``DRF_RATELIMIT_REQUIRE_SERVERS=1`` (set by ``.ci/run``) makes it a failure.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REQUIRE_SERVERS = os.environ.get("DRF_RATELIMIT_REQUIRE_SERVERS") == "1"
#: The repository root (gunicorn runs from here, with it on PYTHONPATH).
ROOT = Path(__file__).resolve().parent.parent


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


def wait_until_stopped(pid: int, timeout: float = 10.0) -> None:
    """Return once every thread of ``pid`` is stopped.

    ``kill`` only queues SIGSTOP; on a busy machine the server can still answer
    a request sent right after it, and a test of a hung server would then see
    a healthy one.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(thread_state(stat) in "Tt" for stat in Path(f"/proc/{pid}/task").glob("*/stat")):
            return
        time.sleep(0.005)
    raise RuntimeError(f"process {pid} did not stop within {timeout}s")


def thread_state(stat: Path) -> str:
    """The one-letter state in /proc/<pid>/task/<tid>/stat (after the command's parentheses)."""
    try:
        return stat.read_text().rpartition(")")[2].split()[0]
    except OSError:  # the thread ended meanwhile
        return "T"


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
            self.resume()  # a stopped process would not act on SIGTERM
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def pause(self) -> None:
        """SIGSTOP: the server keeps its port and accepts connections, but answers nothing."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        wait_until_stopped(self.process.pid)

    def resume(self) -> None:
        """SIGCONT: answer again (what queued up meanwhile is served first)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)


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


def new_server(backend: str) -> Server:
    """A server (not yet started) for one backend name of ``tests.conftest.BACKENDS``."""
    if backend in ("memcached", "pylibmc"):
        return MemcachedServer(find_binary("memcached"))
    return RedisServer(find_binary("redis-server"))


def locate_binary(name: str) -> str | None:
    """The server binary's path: on PATH, else in the usual system directories."""
    return shutil.which(name) or next(
        (
            p
            for p in (f"/usr/bin/{name}", f"/usr/sbin/{name}", f"/usr/local/bin/{name}")
            if os.path.exists(p)
        ),
        None,
    )


def find_binary(name: str) -> str:
    """The server binary's path, or skip (fail under CI) when it is missing."""
    path = locate_binary(name)
    if path is None:
        import pytest  # here, not at the top: benchmarks/ reuses this module without pytest

        message = f"{name} binary not found on PATH; install it (apt-get install {name})"
        if REQUIRE_SERVERS:
            pytest.fail(message + " -- DRF_RATELIMIT_REQUIRE_SERVERS=1 makes it required")
        pytest.skip(message)
    return path


@dataclass
class Gunicorn:
    """A gunicorn arbiter and its workers, in a session of their own."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self, chars: int = 6000) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-chars:] or "(empty)"

    def wait_until_ready(self, path: str, timeout: float = 30.0) -> None:
        """Until ``path`` answers 200; RuntimeError with the log if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log()}")
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
            try:
                connection.request("GET", path)
                if connection.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                connection.close()
            time.sleep(0.05)
        raise RuntimeError(f"gunicorn did not answer within {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                # The arbiter leads its own session: this kills it and its workers only.
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start_gunicorn(
    name: str,
    application: str,
    *,
    env: dict[str, str],
    log_path: Path,
    workers: int,
    threads: int,
    ready_path: str = "/health/",
    extra_args: tuple[str, ...] = (),
) -> Gunicorn:
    """gunicorn (gthread workers, application preloaded) on a free loopback port,
    run from the repository root with it on ``PYTHONPATH``; returns once it answers."""
    port = free_port()
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        **env,
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        application,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--preload",
        "--timeout",
        "30",
        "--graceful-timeout",
        "5",
        "--log-level",
        "warning",
        "--no-control-socket",
        *extra_args,
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Gunicorn(name, port, process, log_path)
    try:
        server.wait_until_ready(ready_path)
    except BaseException:
        server.stop()
        raise
    return server
