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
from typing import NoReturn

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
        server_unavailable(f"{name} binary not found on PATH; install it (apt-get install {name})")
    return path


def server_unavailable(message: str) -> NoReturn:
    """Skip the test that needs a server it cannot have, or fail it when
    ``DRF_RATELIMIT_REQUIRE_SERVERS=1`` says every server is required."""
    import pytest  # here, not at the top: benchmarks/ reuses this module without pytest

    if REQUIRE_SERVERS:
        pytest.fail(message + " -- DRF_RATELIMIT_REQUIRE_SERVERS=1 makes it required")
    pytest.skip(message)


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


# --- Redis Cluster ---------------------------------------------------------------------------

#: A cluster node also listens on its port + 10000 (the cluster bus), so its
#: own port can be at most 55535 (redis-server refuses to start otherwise).
CLUSTER_BUS_OFFSET = 10_000


def free_cluster_port(taken: frozenset[int] = frozenset()) -> int:
    """A free port whose cluster-bus twin is below 65536 and free too (and
    neither is in ``taken``: the ports of nodes not started yet)."""
    for _ in range(500):
        port = free_port()
        bus = port + CLUSTER_BUS_OFFSET
        if bus > 65_535 or {port, bus} & taken:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", bus))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


@dataclass
class RedisClusterNode(RedisServer):
    """One cluster-enabled redis-server; its ``nodes.conf`` lives in its
    ``workdir``, so a node stopped and started again rejoins as itself."""

    node_timeout_ms: int = 2000

    def command(self) -> list[str]:
        return [
            *super().command(),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            str(self.node_timeout_ms),
        ]

    def kill(self) -> None:
        """SIGKILL: a crash (no goodbye to its peers), the port closed."""
        if self.process is not None:
            self.resume()
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None

    def replication(self, timeout: float = 5.0) -> dict[str, object]:
        """``INFO replication``, parsed (role, master_link_status, ...)."""
        import redis

        client = redis.Redis(port=self.port, socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            return dict(client.info("replication"))
        finally:
            client.close()

    def command_output(self, *args: str, timeout: float = 5.0) -> str:
        """One command to this node; its reply (a bulk or simple string) as text."""
        return redis_command(self.port, *args, timeout=timeout)


def redis_command(port: int, *args: str, timeout: float = 5.0) -> str:
    """One command to a local Redis server; its reply (a bulk or simple string) as text."""
    import redis

    client = redis.Redis(port=port, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        reply = client.execute_command(*args)  # type: ignore[no-untyped-call]
    finally:
        client.close()
    if isinstance(reply, bytes):
        return reply.decode()
    return str(reply)


@dataclass
class RedisClusterServers:
    """A Redis Cluster of ``masters`` masters with ``replicas`` replicas each,
    every node a process of its own on loopback, built by
    ``redis-cli --cluster create``."""

    server_binary: str
    cli_binary: str
    masters: int = 3
    replicas: int = 1
    node_timeout_ms: int = 2000
    nodes: list[RedisClusterNode] = field(default_factory=list)

    def start(self, timeout: float = 60.0) -> None:
        taken: set[int] = set()
        for _ in range(self.masters * (1 + self.replicas)):
            port = free_cluster_port(frozenset(taken))
            taken |= {port, port + CLUSTER_BUS_OFFSET}
            node = RedisClusterNode(
                self.server_binary, port=port, node_timeout_ms=self.node_timeout_ms
            )
            self.nodes.append(node)
        for node in self.nodes:
            node.start()
        create = [
            self.cli_binary,
            "--cluster",
            "create",
            *(f"127.0.0.1:{node.port}" for node in self.nodes),
            "--cluster-replicas",
            str(self.replicas),
            "--cluster-yes",
        ]
        done = subprocess.run(create, capture_output=True, timeout=timeout, check=False)
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace")[-3000:]
            raise RuntimeError(f"redis-cli --cluster create failed:\n{output}")
        self.wait_until_healthy(timeout)

    def stop(self) -> None:
        """Kill every node (a master asked to shut down waits up to 10 s for a
        lagging replica, and a paused one always lags) and remove its files."""
        try:
            for node in self.nodes:
                node.kill()
        finally:
            for node in self.nodes:
                if node.process is not None and node.process.poll() is None:
                    node.process.kill()  # one that failed to stop must not outlive the tests
                shutil.rmtree(node.workdir, ignore_errors=True)

    @property
    def location(self) -> list[str]:
        """Every node's URL (the startup nodes of a client)."""
        return [node.url for node in self.nodes]

    def node_on(self, port: int) -> RedisClusterNode:
        return next(node for node in self.nodes if node.port == port)

    def topology(self) -> dict[int, list[int]]:
        """Master port -> its replicas' ports, as a running node sees it now
        (nodes marked failed are left out)."""
        for node in self.nodes:
            if not node.running:
                continue
            try:
                text = node.command_output("CLUSTER", "NODES")
            except Exception:  # a node that is starting or hung: ask another
                continue
            return parse_cluster_nodes(text)
        raise RuntimeError("no cluster node answers")

    def cluster_state(self, node: RedisClusterNode) -> str:
        text = node.command_output("CLUSTER", "INFO")
        fields = dict(line.split(":", 1) for line in text.split() if ":" in line)
        return fields.get("cluster_state", "")

    def is_healthy(self) -> bool:
        """Every node runs, says the cluster is ok, and sees every master with
        its replicas, each replica's link to its master up."""
        try:
            if not all(node.running for node in self.nodes):
                return False
            if any(self.cluster_state(node) != "ok" for node in self.nodes):
                return False
            for node in self.nodes:
                shape = parse_cluster_nodes(node.command_output("CLUSTER", "NODES"))
                if len(shape) != self.masters or any(
                    len(replicas) != self.replicas for replicas in shape.values()
                ):
                    return False
            for node in self.nodes:
                info = node.replication()
                if info.get("role") == "slave" and info.get("master_link_status") != "up":
                    return False
        except Exception:
            return False
        return True

    def wait_until_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.is_healthy():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Redis Cluster did not become healthy within {timeout}s")
            time.sleep(0.1)

    def restore(self, timeout: float = 60.0) -> None:
        """Continue the paused nodes, restart the stopped or killed ones (each
        rejoins with its own nodes.conf), and wait until the cluster is whole."""
        for node in self.nodes:
            if node.running:
                node.resume()
            else:
                node.start()
        self.wait_until_healthy(timeout)


def parse_cluster_nodes(text: str) -> dict[int, list[int]]:
    """``CLUSTER NODES`` as master port -> replica ports, failed nodes left out."""
    ports: dict[str, int] = {}
    masters: dict[str, list[str]] = {}
    replicas_of: list[tuple[str, str]] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 8:
            continue
        node_id, address, flags, master_id = fields[0], fields[1], fields[2].split(","), fields[3]
        if "fail" in flags or "noaddr" in flags or "handshake" in flags:
            continue
        ports[node_id] = int(address.split("@")[0].rsplit(":", 1)[1])
        if "master" in flags:
            masters.setdefault(node_id, [])
        elif "slave" in flags:
            replicas_of.append((node_id, master_id))
    for replica, master in replicas_of:
        if master in masters:
            masters[master].append(replica)
    return {ports[m]: sorted(ports[r] for r in rs) for m, rs in masters.items()}


# --- memcached pools -------------------------------------------------------------------------


@dataclass
class MemcachedPool:
    """``size`` memcached servers, each a process of its own on a free loopback
    port: one cache with several LOCATIONs, as Django's ``PyMemcacheCache``
    spreads keys over them (pymemcache's ``HashClient``). Each server can be
    stopped, paused and started again (empty) on its own port."""

    binary: str
    size: int = 3
    servers: list[MemcachedServer] = field(default_factory=list)

    def start(self) -> None:
        if not self.servers:
            ports: set[int] = set()
            while len(ports) < self.size:  # free_port may hand out a port twice
                ports.add(free_port())
            self.servers = [MemcachedServer(self.binary, port=port) for port in sorted(ports)]
        for server in self.servers:
            if server.process is None:
                server.start()

    def stop(self) -> None:
        """Stop every server; they wind down together (memcached takes about a
        second to exit on SIGTERM)."""
        for server in self.servers:
            if server.process is not None:
                server.resume()
                server.process.terminate()
        for server in self.servers:
            server.stop()

    @property
    def locations(self) -> list[str]:
        """Every server's ``host:port``: the LOCATION list, and HashClient's name for each."""
        return [server.location for server in self.servers]

    def server_at(self, location: str) -> MemcachedServer:
        return next(server for server in self.servers if server.location == location)
