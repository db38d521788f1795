"""One round trip per check, proven by counting what the real server received.

Redis: ``INFO commandstats`` after ``CONFIG RESETSTAT``. Commands a Lua script
issues (``SET``/``INCRBY``) are also counted there, but they run inside the
server and cost no round trip; ``MONITOR`` tells them apart (``lua`` source).
memcached: the ``stats`` counters (``cmd_get``, ``cmd_set``, ``incr_hits``...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from django.http import HttpRequest
from django.test import RequestFactory
from pymemcache.client.base import Client as MemcacheClient
from rest_framework.decorators import api_view, throttle_classes
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from drf_ratelimit._engine import Limit, check
from drf_ratelimit._spec.rates import Rate, parse_rate
from drf_ratelimit.clock import FakeClock
from drf_ratelimit.core import is_ratelimited
from drf_ratelimit.throttles import RatelimitThrottle
from tests.conftest import Backend, install_backend
from tests.servers import MemcachedServer, RedisServer

pytestmark = pytest.mark.usefixtures("clock")

N = 20
REDIS_BACKENDS = ["redis", "django_redis"]
#: Commands the observer itself sends; everything else came from the code under test.
OBSERVER_COMMANDS = {"config|resetstat", "info"}


def client_request(ip: str = "10.1.2.3") -> HttpRequest:
    return RequestFactory().get("/", REMOTE_ADDR=ip)


def parsed_rate(text: str) -> Rate:
    parsed = parse_rate(text)
    assert parsed is not None
    return parsed


def hit(request: HttpRequest, group: str = "rt", rate: str = "1000/h") -> bool:
    return is_ratelimited(request, group=group, key="ip", rate=rate, increment=True)


@pytest.fixture(params=REDIS_BACKENDS)
def redis_backend(request: pytest.FixtureRequest, settings: Any) -> Backend:
    return install_backend(request, settings, request.param)


@pytest.fixture
def observer(redis_backend: Backend) -> Iterator[redis.Redis]:
    """A separate connection to the same server, for the statistics only."""
    assert isinstance(redis_backend.server, RedisServer)
    client = redis.Redis(port=redis_backend.server.port, socket_timeout=10)
    try:
        yield client
    finally:
        client.close()


def redis_calls(observer: redis.Redis) -> dict[str, int]:
    """Calls per command since the last CONFIG RESETSTAT, observer's own excluded."""
    stats = observer.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): int(stat["calls"]) for name, stat in stats.items()}
    return {name: n for name, n in calls.items() if name not in OBSERVER_COMMANDS and n}


@contextmanager
def redis_commands(observer: redis.Redis) -> Iterator[dict[str, int]]:
    """Collect the commands the server executed inside the block."""
    observer.config_resetstat()
    seen: dict[str, int] = {}
    yield seen
    seen.update(redis_calls(observer))


def test_redis_steady_state_is_one_evalsha_per_check(observer: redis.Redis) -> None:
    request = client_request()
    assert hit(request) is False  # warm-up: connection made, script loaded

    with redis_commands(observer) as commands:
        for _ in range(N):
            assert hit(request) is False

    # One EVALSHA per check and nothing else from the client; INCRBY is the
    # script body, executed on the server within each EVALSHA (the key exists,
    # so its expiry stands).
    assert commands == {"evalsha": N, "incrby": N}
    # ... over the pooled connection: not one new connection (the counter was reset too).
    assert observer.info("stats")["total_connections_received"] == 0


def test_redis_commands_come_only_from_the_script(observer: redis.Redis) -> None:
    """MONITOR names each command's source: the client's address, or ``lua``."""
    request = client_request()
    hit(request)
    seen: list[tuple[str, str, str]] = []
    with observer.monitor() as monitor:
        for _ in range(N):
            hit(request)
        observer.echo("end-of-test")  # MONITOR streams in server order: a sentinel
        while True:
            command = monitor.next_command()
            name = command["command"].split()[0].upper()
            peer = f"{command.get('client_address')}:{command.get('client_port')}"
            if name == "ECHO" and "end-of-test" in command["command"]:
                observer_peer = peer
                break
            seen.append((command["client_type"], peer, name))

    # The sentinel's connection is the observer's own (its HELLO handshake is seen too).
    sources: dict[tuple[str, str], int] = {}
    peers: set[str] = set()
    for client_type, peer, name in seen:
        if peer == observer_peer:
            continue
        origin = "lua" if client_type == "lua" else "network"
        sources[(origin, name)] = sources.get((origin, name), 0) + 1
        if origin == "network":
            peers.add(peer)
    assert sources == {("network", "EVALSHA"): N, ("lua", "INCRBY"): N}
    assert len(peers) == 1  # every check went over the same pooled connection


def burst_and_sustained() -> list[Limit]:
    """Two limits on one client, checked together as a throttle with two rates would."""
    return [
        Limit(group="burst", rate=parsed_rate("10/m"), value="10.1.2.3"),
        Limit(group="sustained", rate=parsed_rate("1000/d"), value="10.1.2.3"),
    ]


#: What each algorithm's script runs on the server for a check of two limits
#: whose keys exist. (Under the test clock the scripts take the time from the
#: engine; without one they add a TIME: see tests/algorithms/test_on_every_backend.py.)
SCRIPT_BODIES = {
    "fixed-window": {"incrby": 2},
    "sliding-window": {"hmget": 2, "hincrby": 2},
    "token-bucket": {"get": 2, "set": 2},
    # The newest and oldest entries, the length; then the charge and its expiry.
    "sliding-log": {"lindex": 4, "llen": 2, "rpush": 2, "pexpire": 2},
}


@pytest.mark.parametrize("algorithm", sorted(SCRIPT_BODIES))
def test_redis_several_limits_in_one_check_are_one_evalsha(
    observer: redis.Redis, algorithm: str
) -> None:
    limits = burst_and_sustained()
    check(limits, algorithm=algorithm)

    with redis_commands(observer) as commands:
        usages = check(limits, algorithm=algorithm)

    assert usages is not None
    assert [u.count for u in usages] == [2, 2]
    assert commands == {"evalsha": 1, **SCRIPT_BODIES[algorithm]}


@pytest.mark.parametrize("algorithm", sorted(SCRIPT_BODIES))
def test_redis_reloads_the_script_after_script_flush(observer: redis.Redis, algorithm: str) -> None:
    limits = burst_and_sustained()
    check(limits, algorithm=algorithm)
    observer.script_flush()

    with redis_commands(observer) as after_flush:
        usages = check(limits, algorithm=algorithm)
    # The check succeeded and kept counting on the same keys.
    assert usages is not None
    assert [u.count for u in usages] == [2, 2]
    assert not usages[0].failed
    # EVALSHA answered NOSCRIPT, then one EVAL ran (and reloaded) the script.
    assert after_flush == {"evalsha": 1, "eval": 1, **SCRIPT_BODIES[algorithm]}

    with redis_commands(observer) as next_check:
        check(limits, algorithm=algorithm)
    assert next_check == {"evalsha": 1, **SCRIPT_BODIES[algorithm]}


def test_redis_a_new_window_gets_its_expiry_in_the_script(observer: redis.Redis) -> None:
    """The first request of a window creates its key with INCRBY and gives it
    its expiry in the same script; later ones only INCRBY."""
    hit(client_request("10.9.9.9"))  # another client: the script is loaded
    with redis_commands(observer) as first:
        hit(client_request())
    with redis_commands(observer) as second:
        hit(client_request())

    assert first == {"evalsha": 1, "incrby": 1, "expire": 1}
    assert second == {"evalsha": 1, "incrby": 1}


def test_redis_a_denied_request_is_given_back_in_the_script(observer: redis.Redis) -> None:
    """Without charging denied requests, a denied check takes its increment
    back before the script ends: nobody ever sees it."""
    limits = burst_and_sustained()
    for _ in range(10):
        check(limits, algorithm="fixed-window")

    with redis_commands(observer) as denied:
        usages = check(limits, algorithm="fixed-window")

    assert usages is not None and usages[0].should_limit
    assert denied == {"evalsha": 1, "incrby": 2, "decrby": 2}
    assert [u.count for u in check(limits, 0, algorithm="fixed-window") or []] == [10, 10]


# memcached ------------------------------------------------------------------

#: Every stats counter that moves when a client command reaches the server.
MEMCACHED_COMMAND_STATS = (
    "cmd_get",
    "cmd_set",
    "cmd_touch",
    "cmd_flush",
    "cmd_meta",
    "incr_hits",
    "incr_misses",
    "decr_hits",
    "decr_misses",
    "delete_hits",
    "delete_misses",
    "cas_hits",
    "cas_misses",
    "cas_badval",
    # Not a command: a new connection would show here (the observer keeps its own open).
    "total_connections",
)


@pytest.fixture
def memcached(request: pytest.FixtureRequest, settings: Any) -> Backend:
    return install_backend(request, settings, "memcached")


@pytest.fixture
def memcached_stats(memcached: Backend) -> Iterator[Callable[[], dict[str, int]]]:
    assert isinstance(memcached.server, MemcachedServer)
    client = MemcacheClient(("127.0.0.1", memcached.server.port))

    def read() -> dict[str, int]:
        stats = client.stats()
        return {name: int(stats[name.encode()]) for name in MEMCACHED_COMMAND_STATS}

    try:
        yield read
    finally:
        client.close()


@contextmanager
def memcached_commands(read: Callable[[], dict[str, int]]) -> Iterator[dict[str, int]]:
    """The stats counters that moved inside the block, by how much."""
    before = read()
    moved: dict[str, int] = {}
    yield moved
    after = read()
    moved.update(
        {name: after[name] - before[name] for name in after if after[name] != before[name]}
    )


def test_memcached_steady_state_is_one_incr_per_check(
    memcached_stats: Callable[[], dict[str, int]],
) -> None:
    request = client_request()
    hit(request)  # creates the key

    with memcached_commands(memcached_stats) as commands:
        for _ in range(N):
            assert hit(request) is False

    assert commands == {"incr_hits": N}


def test_memcached_new_key_costs_an_incr_miss_and_an_add(
    memcached_stats: Callable[[], dict[str, int]],
) -> None:
    with memcached_commands(memcached_stats) as first:
        assert hit(client_request()) is False
    # add is counted under cmd_set by memcached.
    assert first == {"incr_misses": 1, "cmd_set": 1}

    with memcached_commands(memcached_stats) as second:
        assert hit(client_request()) is False
    assert second == {"incr_hits": 1}


def test_memcached_new_window_is_a_new_key(
    memcached_stats: Callable[[], dict[str, int]], clock: FakeClock
) -> None:
    request = client_request()
    hit(request, rate="1000/m")
    clock.advance(60)

    with memcached_commands(memcached_stats) as commands:
        limited = hit(request, rate="1000/m")

    assert limited is False
    assert commands == {"incr_misses": 1, "cmd_set": 1}


def test_memcached_several_limits_cost_one_incr_each(
    memcached_stats: Callable[[], dict[str, int]],
) -> None:
    """memcached has no scripts: a check of two limits is two incr round trips."""
    limits = burst_and_sustained()
    check(limits)

    with memcached_commands(memcached_stats) as commands:
        usages = check(limits)

    assert usages is not None
    assert [u.count for u in usages] == [2, 2]
    assert commands == {"incr_hits": 2}


# DRF throttles ------------------------------------------------------------------


class TwoRateThrottle(RatelimitThrottle):
    key = "ip"
    rate = ("10/m", "1000/d")
    scope = "round-trips"


@api_view(["GET"])
@throttle_classes([TwoRateThrottle])
def two_rate_view(request: Request) -> Response:
    return Response({"ok": True})


def throttled_get(ip: str = "10.1.2.3") -> int:
    request = APIRequestFactory().get("/", REMOTE_ADDR=ip)
    return int(two_rate_view(request).status_code)


def test_redis_a_throttle_with_two_rates_is_one_evalsha_per_request(
    observer: redis.Redis,
) -> None:
    assert throttled_get() == 200  # warm-up: connection made, script loaded

    with redis_commands(observer) as commands:
        statuses = [throttled_get() for _ in range(5)]

    assert statuses == [200] * 5
    # The throttles' default, the sliding window: one hash per rate, read, and
    # (within the window the hash holds) one field incremented.
    assert commands == {"evalsha": 5, "hmget": 10, "hincrby": 10}


def test_memcached_a_throttle_with_two_rates_is_one_incr_per_rate(
    memcached_stats: Callable[[], dict[str, int]],
) -> None:
    assert throttled_get() == 200

    with memcached_commands(memcached_stats) as commands:
        statuses = [throttled_get() for _ in range(5)]

    assert statuses == [200] * 5
    # The sliding window: per rate, add to the current window. The previous
    # windows ended long before (the clock is 20 s into its minute), so the
    # warm-up read them (``incr 0`` on keys that do not exist) and remembered.
    assert commands == {"incr_hits": 10}


def test_memcached_reads_the_previous_window_until_it_has_closed(
    memcached_stats: Callable[[], dict[str, int]], clock: FakeClock
) -> None:
    """In the first second of a window, requests from the one before may still
    be landing: the previous counter is read on every check until then."""
    clock.time = 1_700_000_040.5  # half a second into a minute (and a day's 1000th second)
    assert throttled_get() == 200

    with memcached_commands(memcached_stats) as commands:
        statuses = [throttled_get() for _ in range(3)]

    assert statuses == [200] * 3
    # The minute's previous window is read each time; the day's is remembered.
    assert commands == {"incr_misses": 3, "incr_hits": 6}
