"""The throttles behind a real multi-process server: N allowed means exactly N.

For each shared backend a gunicorn with 4 worker processes x 4 threads serves
``tests/live/project``, whose ``default`` cache is the session's redis-server
or memcached. 32 client threads, each on its own keep-alive connection, send
320 requests for one client at a limit of 37/h, all at once. Each response
names the worker process that served it, and every load must have been spread
over more than one:

* this package's ``AnonRateThrottle``, ``RatelimitThrottle`` and (through
  ``DEFAULT_THROTTLE_CLASSES``) ``UserRateThrottle`` let exactly 37 through,
  refuse the other 283 with 429, and their RateLimit headers agree: the 37
  allowed requests saw ``r`` = 36, 35, ... 0, each once, and every 429's
  ``Retry-After`` is at least its ``t``;
* DRF's own ``AnonRateThrottle`` gets the same load and shared cache. Its count
  is only sanity-checked (it must not let fewer than the limit through); it is
  printed and written to ``drf_comparison.json`` in pytest's base temp dir
  (or ``$DRF_RATELIMIT_LIVE_RESULTS``) for the docs.

The test client plays the reverse proxy: every load sends its own
``X-Forwarded-For`` client address (the project trusts one proxy hop), so no
two loads share a counter and nothing needs flushing.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import http_sf
import httpx
import pytest

from tests.conftest import cache_config, server_for
from tests.servers import free_port

pytestmark = pytest.mark.concurrency

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 4
WORKER_THREADS = 4
WORKER_CONNECTIONS = 2 * WORKER_THREADS
CLIENT_THREADS = 32
REQUESTS_PER_THREAD = 10
TOTAL = CLIENT_THREADS * REQUESTS_PER_THREAD
LIMIT = 37
#: drf_ratelimit's clock in the server, frozen mid-window (see tests/live/project/wsgi.py).
FROZEN_NOW = 1_700_001_000.0
#: An hour boundary, where every aligned window of the project's rates ends.
EDGE = 1_700_002_800.0
PERIOD = 3600  # the project's rates are LIMIT/h
STARTUP_TIMEOUT = 30.0
LOAD_TIMEOUT = 60.0

BACKENDS = [
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("django_redis", marks=pytest.mark.redis),
    pytest.param("memcached", marks=pytest.mark.memcached),
    pytest.param("pylibmc", marks=pytest.mark.memcached),
]

#: (path, the policy name its throttle reports in the RateLimit headers)
OUR_ENDPOINTS = [
    pytest.param("/ours/", "anon", id="AnonRateThrottle"),
    pytest.param("/ours-ratelimit/", "per-ip", id="RatelimitThrottle"),
    pytest.param("/default/", "user", id="DEFAULT_THROTTLE_CLASSES"),
]

_client_numbers = itertools.count(1)


def next_client_ip() -> str:
    """A client address no other load of this session has used."""
    number = next(_client_numbers)
    return f"10.44.{number // 250}.{number % 250 + 1}"


@dataclass
class Gunicorn:
    backend: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    #: drf_ratelimit's clock in every worker (see tests/live/project/wsgi.py).
    clock_file: Path

    @contextmanager
    def clock_at(self, now: float) -> Iterator[None]:
        set_clock(self.clock_file, now)
        try:
            yield
        finally:
            set_clock(self.clock_file, FROZEN_NOW)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self, chars: int = 6000) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-chars:] or "(empty)"

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health/", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        pytest.fail(f"gunicorn did not answer within {STARTUP_TIMEOUT}s:\n{self.log()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                # The arbiter leads its own session: this kills it and its workers only.
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def set_clock(clock_file: Path, now: float) -> None:
    """Replace the file in one step, so a worker never reads it half written."""
    temporary = clock_file.with_suffix(".new")
    temporary.write_text(str(now))
    temporary.replace(clock_file)


def start_gunicorn(backend: str, cache: dict[str, Any], log_path: Path) -> Gunicorn:
    port = free_port()
    clock_file = log_path.with_name("clock")
    set_clock(clock_file, FROZEN_NOW)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "DJANGO_SETTINGS_MODULE": "tests.live.project.settings",
        "DRF_RATELIMIT_LIVE_CACHE": json.dumps(cache),
        "DRF_RATELIMIT_LIVE_LIMIT": str(LIMIT),
        "DRF_RATELIMIT_LIVE_CLOCK_FILE": str(clock_file),
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "tests.live.project.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(WORKERS),
        "--worker-class",
        "gthread",
        "--threads",
        str(WORKER_THREADS),
        # At most 8 open connections per worker, so the 32 client connections of a
        # burst are spread over the worker processes, not queued in one of them.
        "--worker-connections",
        str(WORKER_CONNECTIONS),
        "--preload",
        "--timeout",
        "30",
        "--graceful-timeout",
        "5",
        "--log-level",
        "warning",
        "--no-control-socket",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Gunicorn(backend, port, process, log_path, clock_file)
    try:
        server.wait_until_ready()
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gunicorn]:
    """gunicorn serving the live project on one backend's server, for this module."""
    name: str = request.param
    server = server_for(request, name)
    log_path = tmp_path_factory.mktemp(f"gunicorn-{name}") / "gunicorn.log"
    gunicorn = start_gunicorn(name, cache_config(name, server), log_path)
    yield gunicorn
    gunicorn.stop()


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]


@dataclass
class Load:
    path: str
    client_ip: str
    replies: list[Reply]
    errors: list[str]
    seconds: float

    def statuses(self) -> Counter[int]:
        return Counter(reply.status for reply in self.replies)

    @property
    def allowed(self) -> int:
        return self.statuses()[200]

    def with_status(self, status: int) -> list[Reply]:
        return [reply for reply in self.replies if reply.status == status]

    def workers(self) -> Counter[str]:
        return Counter(reply.headers.get("x-served-by", "?") for reply in self.replies)

    def summary(self) -> str:
        return (
            f"{self.path} as {self.client_ip}: {dict(self.statuses())} in {self.seconds:.2f}s, "
            f"{len(self.errors)} errors, served by {dict(self.workers())}"
        )


def fire(server: Gunicorn, path: str, client_ip: str | None = None) -> Load:
    """TOTAL requests for one client (a new one by default) from CLIENT_THREADS
    connections at once."""
    client_ip = client_ip or next_client_ip()
    barrier = threading.Barrier(CLIENT_THREADS)
    replies: list[Reply] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client_thread() -> None:
        mine: list[Reply] = []
        failed: list[str] = []
        try:
            with httpx.Client(
                base_url=server.url, timeout=15, headers={"X-Forwarded-For": client_ip}
            ) as client:
                barrier.wait(timeout=30)
                for _ in range(REQUESTS_PER_THREAD):
                    try:
                        response = client.get(path)
                    except httpx.HTTPError as exc:
                        failed.append(repr(exc))
                        continue
                    mine.append(Reply(response.status_code, dict(response.headers)))
        except Exception as exc:  # reported below instead of dying in a thread
            failed.append(repr(exc))
        with lock:
            replies.extend(mine)
            errors.extend(failed)

    started = time.time()
    threads = [threading.Thread(target=client_thread) for _ in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(LOAD_TIMEOUT)
    finished = time.time()
    assert not any(thread.is_alive() for thread in threads), "a client thread hung"
    return Load(path, client_ip, replies, errors, finished - started)


def failure_context(server: Gunicorn, load: Load) -> str:
    return f"{load.summary()}\nerrors: {load.errors[:5]}\ngunicorn log:\n{server.log()}"


def assert_clean(server: Gunicorn, load: Load) -> None:
    """Every request got an answer, and every answer was a 200 or a 429."""
    context = failure_context(server, load)
    assert not load.errors, context
    assert len(load.replies) == TOTAL, context
    assert set(load.statuses()) <= {200, 429}, context


def parse_list(value: str) -> list[tuple[str, dict[str, Any]]]:
    return [(name, dict(params)) for name, params in http_sf.parse(value.encode(), tltype="list")]


def check_headers(load: Load, policy: str) -> None:
    """The RateLimit fields tell the same story as the status codes."""
    remaining = []
    for reply in load.replies:
        assert parse_list(reply.headers["ratelimit-policy"]) == [
            (policy, {"q": LIMIT, "w": PERIOD})
        ]
        [(name, params)] = parse_list(reply.headers["ratelimit"])
        assert name == policy
        # The sliding window's quota is back only when this window's requests
        # have stopped weighing, at most two periods ahead.
        assert 0 < params["t"] <= 2 * PERIOD
        if reply.status == 200:
            remaining.append(params["r"])
        else:
            assert params["r"] == 0
            assert int(reply.headers["retry-after"]) >= params["t"]
    # Each allowed request saw its own count: 1, 2, ... LIMIT, nothing twice.
    assert sorted(remaining) == list(range(LIMIT))


@pytest.mark.parametrize(("path", "policy"), OUR_ENDPOINTS)
def test_exactly_the_limit_gets_through(live: Gunicorn, path: str, policy: str) -> None:
    load = fire(live, path)

    assert_clean(live, load)
    context = failure_context(live, load)
    assert load.allowed == LIMIT, context
    assert len(load.with_status(429)) == TOTAL - LIMIT, context
    assert len(load.workers()) > 1, f"one worker process served everything: {context}"
    check_headers(load, policy)
    print(f"\n[{live.backend}] {load.summary()}")


def results_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("DRF_RATELIMIT_LIVE_RESULTS")
    if configured:
        return Path(configured)
    return tmp_path_factory.getbasetemp() / "drf_comparison.json"


def record_result(path: Path, backend: str, result: dict[str, Any]) -> None:
    results = json.loads(path.read_text()) if path.exists() else {}
    results[backend] = result
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def test_drf_throttle_under_the_same_load(
    live: Gunicorn, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """DRF's AnonRateThrottle next to ours: reported, not judged (it reads then writes)."""
    ours = fire(live, "/ours/")
    drf = fire(live, "/drf/")

    assert_clean(live, ours)
    assert_clean(live, drf)
    assert ours.allowed == LIMIT, failure_context(live, ours)
    assert drf.allowed >= LIMIT, failure_context(live, drf)

    path = results_path(tmp_path_factory)
    record_result(
        path,
        live.backend,
        {
            "limit": LIMIT,
            "requests": TOTAL,
            "client_threads": CLIENT_THREADS,
            "gunicorn": f"{WORKERS} gthread workers x {WORKER_THREADS} threads",
            "drf_ratelimit_allowed": ours.allowed,
            "drf_allowed": drf.allowed,
        },
    )
    where = f"of {TOTAL} at limit {LIMIT} on {live.backend}"
    print(f"\ndrf_ratelimit AnonRateThrottle allowed {ours.allowed} {where}")
    print(f"DRF AnonRateThrottle allowed {drf.allowed} {where}")
    print(f"(results in {path})")


#: Two bursts one second either side of EDGE span this many seconds.
EDGE_SPAN = 2.0

#: (algorithm, the most it may admit over the two bursts: its stated bound for a
#: span of EDGE_SPAN seconds, rounded down), from docs/algorithms.md.
EDGE_BOUNDS = [
    pytest.param("fixed-window", 2 * LIMIT, id="fixed-window"),
    pytest.param("sliding-window", int(LIMIT + LIMIT * EDGE_SPAN / PERIOD), id="sliding-window"),
    pytest.param("token-bucket", int(LIMIT + LIMIT * EDGE_SPAN / PERIOD), id="token-bucket"),
]


@pytest.mark.parametrize(("algorithm", "bound"), EDGE_BOUNDS)
def test_admission_over_a_window_edge_stays_within_the_stated_bound(
    live: Gunicorn, algorithm: str, bound: int
) -> None:
    """One client sends a burst of TOTAL a second before an hour boundary and
    another a second after. The fixed window admits the limit twice (2N in two
    seconds, which is why it is not the throttles' default); the sliding window
    and the token bucket stay within N + N*L/P, which here is N."""
    client_ip = next_client_ip()
    path = f"/edge/{algorithm}/"
    with live.clock_at(EDGE - EDGE_SPAN / 2):
        before = fire(live, path, client_ip)
    with live.clock_at(EDGE + EDGE_SPAN / 2):
        after = fire(live, path, client_ip)

    for load in (before, after):
        assert_clean(live, load)
    context = failure_context(live, after)
    assert before.allowed == LIMIT, failure_context(live, before)
    assert before.allowed + after.allowed <= bound, context
    if algorithm == "fixed-window":
        assert after.allowed == LIMIT, context  # the 2N the fixed window allows
    print(f"\n[{live.backend}] {algorithm}: {before.allowed} + {after.allowed} over the edge")
