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
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from drf_ratelimit.clock import FakeClock, use_clock
from drf_ratelimit.throttles import AnonRateThrottle
from tests.conftest import (
    NO_TOKEN_BUCKET_ON_PYLIBMC,
    SWAPPING_ALGORITHMS,
    cache_config,
    let_drop_ins_run_on,
    server_for,
)
from tests.servers import Gunicorn, new_server, start_gunicorn

pytestmark = [pytest.mark.concurrency, pytest.mark.load]

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
LOAD_TIMEOUT = 60.0
#: Sent with every request of a load (see fire()).
NO_KEEPALIVE = {"Connection": "close"}

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


def clock_file_of(server: Gunicorn) -> Path:
    """drf_ratelimit's clock in every worker of ``server`` (see tests/live/project/wsgi.py)."""
    return server.log_path.with_name("clock")


def set_clock(clock_file: Path, now: float) -> None:
    """Replace the file in one step, so a worker never reads it half written."""
    temporary = clock_file.with_suffix(".new")
    temporary.write_text(str(now))
    temporary.replace(clock_file)


@contextmanager
def clock_at(server: Gunicorn, now: float) -> Iterator[None]:
    set_clock(clock_file_of(server), now)
    try:
        yield
    finally:
        set_clock(clock_file_of(server), FROZEN_NOW)


def start_live_server(backend: str, cache: dict[str, Any], log_path: Path, **env: str) -> Gunicorn:
    """gunicorn serving tests/live/project with ``cache`` as its ``default`` cache."""
    clock_file = log_path.with_name("clock")
    set_clock(clock_file, FROZEN_NOW)
    return start_gunicorn(
        backend,
        "tests.live.project.wsgi:application",
        env={
            "DJANGO_SETTINGS_MODULE": "tests.live.project.settings",
            "DRF_RATELIMIT_LIVE_CACHE": json.dumps(cache),
            "DRF_RATELIMIT_LIVE_LIMIT": str(LIMIT),
            "DRF_RATELIMIT_LIVE_CLOCK_FILE": str(clock_file),
            **env,
        },
        log_path=log_path,
        workers=WORKERS,
        threads=WORKER_THREADS,
        # At most 8 open connections per worker, so the 32 client connections of a
        # burst are spread over the worker processes, not queued in one of them.
        extra_args=("--worker-connections", str(WORKER_CONNECTIONS)),
    )


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gunicorn]:
    """gunicorn serving the live project on one backend's server, for this module."""
    name: str = request.param
    server = server_for(request, name)
    log_path = tmp_path_factory.mktemp(f"gunicorn-{name}") / "gunicorn.log"
    # pylibmc refuses the drop-ins' sliding log (E008): the sliding window there.
    env = {"DRF_RATELIMIT_LIVE_ALGORITHM": "sliding-window"} if name == "pylibmc" else {}
    gunicorn = start_live_server(name, cache_config(name, server), log_path, **env)
    yield gunicorn
    gunicorn.stop()


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    client_ip: str = ""


@dataclass
class Load:
    path: str
    client_ips: list[str]
    replies: list[Reply]
    errors: list[str]
    seconds: float

    def statuses(self) -> Counter[int]:
        return Counter(reply.status for reply in self.replies)

    @property
    def allowed(self) -> int:
        return self.statuses()[200]

    def allowed_by_client(self) -> dict[str, int]:
        allowed = Counter(reply.client_ip for reply in self.replies if reply.status == 200)
        return {ip: allowed[ip] for ip in self.client_ips}

    def with_status(self, status: int) -> list[Reply]:
        return [reply for reply in self.replies if reply.status == status]

    def workers(self) -> Counter[str]:
        return Counter(reply.headers.get("x-served-by", "?") for reply in self.replies)

    def summary(self) -> str:
        clients = ", ".join(self.client_ips[:3]) + (" ..." if len(self.client_ips) > 3 else "")
        return (
            f"{self.path} as {clients}: {dict(self.statuses())} in {self.seconds:.2f}s, "
            f"{len(self.errors)} errors, served by {dict(self.workers())}"
        )


def fire(
    server: Gunicorn, path: str, clients: int = 1, client_ips: list[str] | None = None
) -> Load:
    """TOTAL requests from CLIENT_THREADS connections at once, for ``clients`` new
    clients (or these ``client_ips``) taking turns (each connection starts with a
    different one)."""
    client_ips = client_ips or [next_client_ip() for _ in range(clients)]
    clients = len(client_ips)
    barrier = threading.Barrier(CLIENT_THREADS)
    replies: list[Reply] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client_thread(index: int) -> None:
        mine: list[Reply] = []
        failed: list[str] = []
        try:
            # A connection per request: a reused keep-alive connection that the
            # server closes just as the next request is sent fails with a reset
            # on a busy machine, which would say nothing about the limiter.
            with httpx.Client(base_url=server.url, timeout=15, headers=NO_KEEPALIVE) as client:
                barrier.wait(timeout=30)
                for n in range(REQUESTS_PER_THREAD):
                    ip = client_ips[(index + n) % clients]
                    try:
                        response = client.get(path, headers={"X-Forwarded-For": ip})
                    except httpx.HTTPError as exc:
                        failed.append(repr(exc))
                        continue
                    mine.append(Reply(response.status_code, dict(response.headers), ip))
        except Exception as exc:  # reported below instead of dying in a thread
            failed.append(repr(exc))
        with lock:
            replies.extend(mine)
            errors.extend(failed)

    started = time.time()
    threads = [threading.Thread(target=client_thread, args=(i,)) for i in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(LOAD_TIMEOUT)
    finished = time.time()
    assert not any(thread.is_alive() for thread in threads), "a client thread hung"
    return Load(path, client_ips, replies, errors, finished - started)


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
    print(f"\n[{live.name}] {load.summary()}")


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
        live.name,
        {
            "limit": LIMIT,
            "requests": TOTAL,
            "client_threads": CLIENT_THREADS,
            "gunicorn": f"{WORKERS} gthread workers x {WORKER_THREADS} threads",
            "drf_ratelimit_allowed": ours.allowed,
            "drf_allowed": drf.allowed,
        },
    )
    where = f"of {TOTAL} at limit {LIMIT} on {live.name}"
    print(f"\ndrf_ratelimit AnonRateThrottle allowed {ours.allowed} {where}")
    print(f"DRF AnonRateThrottle allowed {drf.allowed} {where}")
    print(f"(results in {path})")


def stored_count(cache: dict[str, Any], settings: Any, client_ip: str) -> int:
    """The ``/ours/`` counter of ``client_ip`` as the cache server holds it.

    Read in this process by the same throttle class, keys and frozen clock as the
    server's, with a check that costs nothing (a peek).
    """
    settings.CACHES = {"default": cache_config("locmem", None), "live": cache}
    settings.RATELIMIT_USE_CACHE = "live"
    settings.RATELIMIT_PROXY_COUNT = 1
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"anon": f"{LIMIT}/h"}}
    http_request = APIRequestFactory().get(
        "/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=client_ip
    )
    throttle = AnonRateThrottle()
    throttle.cost = 0
    with use_clock(FakeClock(FROZEN_NOW)):
        throttle.allow_request(Request(http_request, authenticators=()), APIView())
    return throttle.usages[0].count


MANY_CLIENTS = 4


def test_many_clients_at_once_each_get_exactly_the_limit(
    live: Gunicorn, request: pytest.FixtureRequest, settings: Any
) -> None:
    """4 clients, 80 requests each, all interleaved: 37 each, and the counters say
    37 (denied requests are charged to nothing)."""
    load = fire(live, "/ours/", clients=MANY_CLIENTS)
    let_drop_ins_run_on(live.name, settings)  # read the counters as the server counts them

    assert_clean(live, load)
    context = failure_context(live, load)
    assert load.allowed_by_client() == dict.fromkeys(load.client_ips, LIMIT), context
    cache = cache_config(live.name, server_for(request, live.name))
    counts = [stored_count(cache, settings, ip) for ip in load.client_ips]
    assert counts == [LIMIT] * MANY_CLIENTS, context


@dataclass(frozen=True)
class TimedReply:
    sent: float
    answered: float
    status: int


class Traffic:
    """Back-to-back requests, each from a client never seen before, until stopped."""

    def __init__(self, server: Gunicorn, path: str, connections: int = 4) -> None:
        self.server, self.path = server, path
        self.replies: list[TimedReply] = []
        self.errors: list[str] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run) for _ in range(connections)]

    def run(self) -> None:
        with httpx.Client(base_url=self.server.url, timeout=15, headers=NO_KEEPALIVE) as client:
            while not self.stopping.is_set():
                sent = time.monotonic()
                try:
                    response = client.get(self.path, headers={"X-Forwarded-For": next_client_ip()})
                except httpx.HTTPError as exc:
                    self.errors.append(repr(exc))
                    continue
                self.replies.append(TimedReply(sent, time.monotonic(), response.status_code))

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(LOAD_TIMEOUT)

    def wait_for(self, replies: int, sent_after: float = 0.0) -> None:
        """Until ``replies`` requests sent after ``sent_after`` have been answered."""
        deadline = time.monotonic() + LOAD_TIMEOUT
        while sum(1 for r in list(self.replies) if r.sent > sent_after) < replies:
            assert time.monotonic() < deadline, f"traffic stalled: {self.errors[:3]}"
            time.sleep(0.01)


OUTAGES = [
    pytest.param("redis", False, marks=pytest.mark.redis, id="redis-fail-closed"),
    pytest.param("redis", True, marks=pytest.mark.redis, id="redis-fail-open"),
    pytest.param("memcached", False, marks=pytest.mark.memcached, id="memcached-fail-closed"),
    pytest.param("memcached", True, marks=pytest.mark.memcached, id="memcached-fail-open"),
]


@pytest.mark.faults
@pytest.mark.parametrize(("backend", "fail_open"), OUTAGES)
def test_an_outage_in_the_middle_of_traffic_follows_the_fail_policy(
    backend: str, fail_open: bool, tmp_path: Path, settings: Any
) -> None:
    """The cache server is stopped under load and started again (empty, same port).

    During the outage every request gets the policy's answer (200 open, 429
    closed), never a 500; from the first request sent after it is back, limits
    apply: every new client is allowed, and a burst from one client is cut at
    exactly the limit, with the counter right.
    """
    cache_server = new_server(backend)
    cache_server.start()
    cache = cache_config(backend, cache_server)
    fail_open_env = "1" if fail_open else "0"
    server = start_live_server(
        backend, cache, tmp_path / "gunicorn.log", DRF_RATELIMIT_LIVE_FAIL_OPEN=fail_open_env
    )
    traffic = Traffic(server, "/ours/")
    try:
        traffic.start()
        traffic.wait_for(20)
        cache_server.stop()
        down = time.monotonic()
        traffic.wait_for(20, sent_after=down)
        coming_back = time.monotonic()
        cache_server.start()
        back = time.monotonic()
        traffic.wait_for(20, sent_after=back)
        traffic.stop()
        burst = fire(server, "/ours/")
        stored = stored_count(cache, settings, burst.client_ips[0])
    finally:
        traffic.stop()
        server.stop()
        cache_server.stop()

    context = f"{burst.summary()}\nerrors: {traffic.errors[:3]}\ngunicorn log:\n{server.log()}"
    assert not traffic.errors, context
    assert {r.status for r in traffic.replies} <= {200, 429}, context
    during = {r.status for r in traffic.replies if down < r.sent and r.answered < coming_back}
    assert during == {200 if fail_open else 429}, context
    after = {r.status for r in traffic.replies if r.sent > back}
    assert after == {200}, context
    assert_clean(server, burst)
    assert burst.allowed == LIMIT, context
    assert stored == LIMIT, context


#: Two bursts one second either side of EDGE span this many seconds.
EDGE_SPAN = 2.0

#: (algorithm, the most it may admit over the two bursts: its stated bound for a
#: span of EDGE_SPAN seconds, rounded down), from docs/algorithms.md.
EDGE_BOUNDS = [
    pytest.param("fixed-window", 2 * LIMIT, id="fixed-window"),
    pytest.param("sliding-window", int(LIMIT + LIMIT * EDGE_SPAN / PERIOD), id="sliding-window"),
    pytest.param("token-bucket", int(LIMIT + LIMIT * EDGE_SPAN / PERIOD), id="token-bucket"),
    pytest.param("sliding-log", LIMIT, id="sliding-log"),  # N in any period, exactly
]


@pytest.mark.parametrize(("algorithm", "bound"), EDGE_BOUNDS)
def test_admission_over_a_window_edge_stays_within_the_stated_bound(
    live: Gunicorn, algorithm: str, bound: int
) -> None:
    """One client sends a burst of TOTAL a second before an hour boundary and
    another a second after. The fixed window admits the limit twice (2N in two
    seconds, which is why it is not the throttles' default); the sliding window
    and the token bucket stay within N + N*L/P, which here is N; the sliding log
    admits N in any period, so N."""
    if algorithm in SWAPPING_ALGORITHMS and live.name == "pylibmc":
        pytest.skip(NO_TOKEN_BUCKET_ON_PYLIBMC)
    client_ip = next_client_ip()
    path = f"/edge/{algorithm}/"
    with clock_at(live, EDGE - EDGE_SPAN / 2):
        before = fire(live, path, client_ips=[client_ip])
    with clock_at(live, EDGE + EDGE_SPAN / 2):
        after = fire(live, path, client_ips=[client_ip])

    for load in (before, after):
        assert_clean(live, load)
    context = failure_context(live, after)
    assert before.allowed == LIMIT, failure_context(live, before)
    assert before.allowed + after.allowed <= bound, context
    if algorithm == "fixed-window":
        assert after.allowed == LIMIT, context  # the 2N the fixed window allows
    print(f"\n[{live.name}] {algorithm}: {before.allowed} + {after.allowed} over the edge")
