"""A pool of memcached servers (``PyMemcacheCache`` with several LOCATIONs):
a server that dies or comes back never lets a client past its limit silently.

pymemcache's ``HashClient`` takes a server it saw fail out of its hash ring and
sends that server's keys to the others, where they start again from zero (the
control tests show the over-admission). The store keeps every key on the
server the full LOCATION list gives it, whatever the servers' health: while a
server is down, the checks of its clients go to the fail policy (a log line
and ``fail_policy_used`` each), and no other client notices. A server that
comes back after a restart is empty: its clients' counters start again from
zero, so within the period they get at most twice their limit (fail closed),
and one warning says so.

The module starts three servers (real processes on free loopback ports);
each test gets them running and empty, and terminates, pauses or restarts
one of them. The clock is frozen, so every request of a test falls in one
period. Clients are picked so that all
of a client's keys live on one server ("its home"), found with pymemcache's
own hash over the full LOCATION list, and the tests check with each server's
own client that the counters are where that hash says.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from pymemcache.client.base import Client
from pymemcache.client.rendezvous import RendezvousHash

from drf_ratelimit._algorithms import NAMES, algorithm_named
from drf_ratelimit._engine import Limit, check
from drf_ratelimit._spec.rates import parse_rate
from drf_ratelimit._storage import Quotas, memcached, store_for
from drf_ratelimit.clock import FakeClock
from drf_ratelimit.exceptions import CounterUnavailable
from drf_ratelimit.signals import fail_policy_used
from tests.conftest import cache_config
from tests.servers import MemcachedPool, MemcachedServer, find_binary
from tests.storage import hammer

pytestmark = pytest.mark.faults

FIXED_WINDOW, SLIDING_WINDOW, TOKEN_BUCKET, SLIDING_LOG = NAMES
SWAPPING = [TOKEN_BUCKET, SLIDING_LOG]

ALIAS = "pool"
#: Failure at once, as in the rest of the suite (a live server on a busy
#: machine still answers well within the timeouts). ``dead_timeout`` is
#: pymemcache's default: HashClient keeps a failed server out of its ring for
#: a minute and its keys on the others meanwhile, which the store must not follow.
OPTIONS: dict[str, Any] = {
    "connect_timeout": 2,
    "timeout": 2,
    "retry_attempts": 1,
    "retry_timeout": 0,
    "dead_timeout": 60,
}
LIMIT = 4
RATE = f"{LIMIT}/h"
#: Clients whose every key lives on one server, per server.
CLIENTS_PER_SERVER = 12
#: Threads of the outage tests (each its own cache object and HashClient, as in Django).
THREADS = 3
#: How long a phase of requests may take before the test gives up (never hit).
PHASE_TIMEOUT = 120.0

ADMITTED = "admitted"
LIMITED = "limited"
FAILED_CLOSED = "failed closed"  # refused by the fail policy
FAILED_OPEN = "failed open"  # allowed by the fail policy


@pytest.fixture(scope="module")
def running_pool() -> Iterator[MemcachedPool]:
    servers = MemcachedPool(find_binary("memcached"))
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def pool(running_pool: MemcachedPool) -> Iterator[MemcachedPool]:
    """The module's three servers, every one running, answering and empty."""
    running_pool.start()  # the ones a test stopped
    for server in running_pool.servers:
        server.resume()  # the ones a failed test left paused
        client = Client(("127.0.0.1", server.port), connect_timeout=5, timeout=5)
        try:
            client.flush_all(noreply=False)
        finally:
            client.close()
    forget_servers()
    yield running_pool
    forget_servers()


def forget_servers() -> None:
    """Each test starts from the servers as it finds them: one an earlier test
    restarted is not a restart to report."""
    with memcached._IDENTITIES_LOCK:
        memcached._IDENTITIES.clear()


@pytest.fixture
def failures() -> Iterator[list[CounterUnavailable]]:
    """The exception of every ``fail_policy_used`` sent during the test."""
    sent: list[CounterUnavailable] = []

    def receiver(sender: Any, exception: CounterUnavailable, **kwargs: Any) -> None:
        sent.append(exception)

    fail_policy_used.connect(receiver)
    yield sent
    fail_policy_used.disconnect(receiver)


def pool_config(pool: MemcachedPool, **options: Any) -> dict[str, Any]:
    return {
        "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
        "LOCATION": pool.locations,
        "OPTIONS": {**OPTIONS, **options},
    }


def use_pool(settings: Any, pool: MemcachedPool, **options: Any) -> BaseCache:
    settings.CACHES = {
        "default": cache_config("locmem", None),
        ALIAS: pool_config(pool, **options),
    }
    settings.RATELIMIT_USE_CACHE = ALIAS
    return caches[ALIAS]


def limits_of(group: str, ip: str, rates: tuple[str, ...] = (RATE,)) -> list[Limit]:
    limits = []
    for text in rates:
        rate = parse_rate(text)
        assert rate is not None
        limits.append(Limit(group, rate, ip))
    return limits


def state_keys(limit: Limit, algorithm: str, now: float) -> list[str]:
    """Every key (before the cache's key function) the state of ``limit`` may be under now."""
    chosen = algorithm_named(algorithm, aligned_windows=limit.aligned)
    quotas = Quotas.compile(chosen, [limit.rate], limit.burst)
    return chosen.reset_keys(quotas.items, limit.scope, limit.value, now)


def ring(pool: MemcachedPool) -> RendezvousHash:
    """pymemcache's hash over every server of the pool, as HashClient builds it
    while all of them are up."""
    hasher = RendezvousHash()
    for location in pool.locations:
        hasher.add_node(location)
    return hasher


def homed_clients(
    pool: MemcachedPool,
    cache: BaseCache,
    algorithm: str,
    group: str,
    per_server: int,
    now: float,
    rates: tuple[str, ...] = (RATE,),
    subnet: int = 0,
) -> dict[str, dict[str, list[Limit]]]:
    """Per server, ``per_server`` clients (ip -> limits, in 10.``subnet``.0.0/16)
    whose first rate's keys all hash to that server."""
    hasher = ring(pool)
    homes: dict[str, dict[str, list[Limit]]] = {location: {} for location in pool.locations}
    for n in range(1, 65_536):
        ip = f"10.{subnet}.{n >> 8}.{n & 255}"
        limits = limits_of(group, ip, rates)
        keys = state_keys(limits[0], algorithm, now)
        servers = {hasher.get_node(cache.make_key(key)) for key in keys}
        if len(servers) == 1:
            clients = homes[servers.pop()]
            if len(clients) < per_server:
                clients[ip] = limits
        if all(len(clients) == per_server for clients in homes.values()):
            return homes
    raise AssertionError("not enough clients homed on every server")


def holders(pool: MemcachedPool, cache: BaseCache, keys: list[str]) -> set[str]:
    """The servers that hold any of ``keys``, asked with each one's own client."""
    found = set()
    for server in pool.servers:
        client = Client(("127.0.0.1", server.port), connect_timeout=5, timeout=5)
        try:
            if client.get_many([cache.make_key(key) for key in keys]):
                found.add(server.location)
        finally:
            client.close()
    return found


def outcome(limits: list[Limit], algorithm: str) -> str:
    usages = check(limits, algorithm=algorithm)
    if usages is None:
        return FAILED_OPEN
    if any(usage.failed for usage in usages):
        return FAILED_CLOSED
    return LIMITED if any(usage.should_limit for usage in usages) else ADMITTED


def load(
    threads: ThreadPoolExecutor,
    clients: dict[str, list[Limit]],
    algorithm: str,
    per_thread: int,
) -> dict[str, Counter[str]]:
    """Every thread sends ``per_thread`` requests for every client, the clients
    in the same order, so each client is hit by all threads at once."""

    def one_thread() -> list[tuple[str, str]]:
        try:
            return [
                (ip, outcome(limits, algorithm))
                for _ in range(per_thread)
                for ip, limits in clients.items()
            ]
        finally:
            caches[ALIAS].close()  # as Django does at the end of a request

    futures = [threads.submit(one_thread) for _ in range(THREADS)]
    outcomes: dict[str, Counter[str]] = {ip: Counter() for ip in clients}
    for future in futures:
        for ip, result in future.result(timeout=PHASE_TIMEOUT):
            outcomes[ip][result] += 1
    return outcomes


def records(caplog: pytest.LogCaptureFixture, level: int, text: str = "") -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "drf_ratelimit" and r.levelno == level and text in r.getMessage()
    ]


def test_a_pool_gets_the_pool_store_and_one_server_keeps_the_direct_path(
    pool: MemcachedPool, settings: Any
) -> None:
    store = store_for(use_pool(settings, pool))
    assert isinstance(getattr(store, "counters", None), memcached.PoolCounters)
    assert isinstance(getattr(store, "swapper", None), memcached.PoolSwapper)

    one = {**pool_config(pool), "LOCATION": pool.locations[0]}
    settings.CACHES = {"default": cache_config("locmem", None), "one": one}
    store = store_for(caches["one"])
    assert type(getattr(store, "counters", None)) is memcached.PyMemcacheCounters
    assert type(getattr(store, "swapper", None)) is memcached.MemcachedSwapper


# --- exact while every server is up ---------------------------------------------------------

PROCESSES = 3
HAMMER_THREADS = 4
REQUESTS_PER_THREAD = 8
#: Every worker's clock is frozen here (mid-hour, mid-day).
FIXED_NOW = 1_700_000_123.0
ONE_RATE = ("37/h",)
TWO_RATES = ("41/d", "23/h")  # the tighter second: refused requests give the first back


def pool_limited(request: Any, config: hammer.Config) -> bool:
    """The code under test, in the workers: one engine check of the client's
    rates with the client's algorithm. A failed check raises, so a request
    lost to an error cannot pass for a refusal."""
    ip = request.META["REMOTE_ADDR"]
    rates = config["rates_by_ip"].get(ip, [f"{config['limit']}/h"])
    algorithm = config["algorithm_by_ip"].get(ip, FIXED_WINDOW)
    usages = check(limits_of(config["group"], ip, tuple(rates)), algorithm=algorithm)
    if usages is None or any(usage.failed for usage in usages):
        raise RuntimeError(f"a check failed with every server up: {usages!r}")
    return any(usage.should_limit for usage in usages)


@pytest.mark.concurrency
def test_exact_under_processes_and_threads_while_every_server_is_up(
    pool: MemcachedPool, settings: Any
) -> None:
    """For every algorithm, two clients homed on each server, one with one rate
    and one with two, each hammered in turn by 3 processes x 4 threads at
    once: exactly the limit passes, and each client's counters are on its
    home server (where ``cache.get`` looks) and read the admitted count."""
    cache = use_pool(settings, pool)
    group = "pool-hammer"
    rounds: list[tuple[str, str, tuple[str, ...], int, str]] = []
    for index, algorithm in enumerate(NAMES):
        for which, (rates, admitted) in enumerate(((ONE_RATE, 37), (TWO_RATES, 23))):
            subnet = 2 * index + which
            homes = homed_clients(pool, cache, algorithm, group, 1, FIXED_NOW, rates, subnet)
            rounds += [
                (ip, algorithm, rates, admitted, home) for home, ips in homes.items() for ip in ips
            ]
    config: hammer.Config = {
        "alias": ALIAS,
        "cache": pool_config(pool),
        "group": group,
        "limit": 10**6,
        "rates_by_ip": {ip: list(rates) for ip, _, rates, _, _ in rounds},
        "algorithm_by_ip": {ip: algorithm for ip, algorithm, _, _, _ in rounds},
        "ips": [ip for ip, _, _, _, _ in rounds],
        "threads": HAMMER_THREADS,
        "requests_per_thread": REQUESTS_PER_THREAD,
        "now": FIXED_NOW,
        "limiter": f"{__name__}.pool_limited",
    }

    admitted = hammer.run_in_processes(config, PROCESSES)

    assert admitted == [expected for _, _, _, expected, _ in rounds]
    for ip, algorithm, rates, expected, home in rounds:
        limits = limits_of(group, ip, rates)
        usages = check(limits, 0, algorithm=algorithm, now=FIXED_NOW)
        assert usages is not None
        assert [usage.count for usage in usages] == [expected] * len(rates), (algorithm, rates)
        assert holders(pool, cache, state_keys(limits[0], algorithm, FIXED_NOW)) == {home}


# --- a server dies, then comes back empty ---------------------------------------------------


@pytest.mark.parametrize("fail_open", [False, True], ids=["fail-closed", "fail-open"])
@pytest.mark.parametrize("algorithm", NAMES)
def test_a_dead_server_fails_its_own_clients_and_comes_back_empty(
    pool: MemcachedPool,
    settings: Any,
    clock: FakeClock,
    failures: list[CounterUnavailable],
    caplog: pytest.LogCaptureFixture,
    algorithm: str,
    fail_open: bool,
) -> None:
    """36 clients (12 homed on each server), 3 threads each hitting every client.

    * All up: 3 requests per client, all admitted, each counter on its home.
    * One server terminated: 6 more per client. Its clients' checks all go to
      the fail policy, each with a log line and ``fail_policy_used``; no
      client is admitted past its limit by counting; the other clients get
      exactly the rest of their limit and never fail.
    * The server started again, empty: its clients count from zero again
      (exactly the limit more, so at most twice the limit in the period with
      the policy closed); one warning names the restart; nobody else changes.
    """
    settings.RATELIMIT_FAIL_OPEN = fail_open
    cache = use_pool(settings, pool)
    now = clock()
    homes = homed_clients(
        pool, cache, algorithm, f"pool-outage-{algorithm}", CLIENTS_PER_SERVER, now
    )
    victim = pool.locations[1]
    on = homes[victim]
    clients = {ip: limits for located in homes.values() for ip, limits in located.items()}
    failed = FAILED_OPEN if fail_open else FAILED_CLOSED
    level = logging.WARNING if fail_open else logging.ERROR

    with ThreadPoolExecutor(THREADS) as threads:
        before = load(threads, clients, algorithm, per_thread=1)
        assert all(found == Counter({ADMITTED: THREADS}) for found in before.values())
        assert not failures
        for location, located in homes.items():
            for limits in located.values():
                assert holders(pool, cache, state_keys(limits[0], algorithm, now)) == {location}

        pool.server_at(victim).stop()
        caplog.clear()
        during = load(threads, clients, algorithm, per_thread=2)

        sent = 2 * THREADS
        for ip in clients:  # counting never admits past the limit
            assert before[ip][ADMITTED] + during[ip][ADMITTED] <= LIMIT, (ip, during[ip])
        for ip, found in during.items():
            if ip in on:
                assert found == Counter({failed: sent}), ip
            else:  # exactly the rest of the limit, and never a failure
                assert found == Counter({ADMITTED: LIMIT - THREADS, LIMITED: sent - 1}), ip
        failed_checks = len(on) * sent
        assert len(failures) == failed_checks
        assert all(victim in str(exc) for exc in failures)
        assert len(records(caplog, level, "failing")) == failed_checks

        pool.server_at(victim).start()  # same port, empty
        caplog.clear()
        failures.clear()
        after = load(threads, clients, algorithm, per_thread=2)

    assert not failures
    for ip, found in after.items():
        if ip in on:  # counting from zero again: the limit once more
            assert found == Counter({ADMITTED: LIMIT, LIMITED: sent - LIMIT}), ip
            counted = before[ip][ADMITTED] + during[ip][ADMITTED] + found[ADMITTED]
            assert counted <= 2 * LIMIT
        else:
            assert found == Counter({LIMITED: sent}), ip
    restarts = records(caplog, logging.WARNING, "restarted")
    assert len(restarts) == 1 and victim in restarts[0]
    assert not records(caplog, logging.ERROR)


@pytest.mark.parametrize("algorithm", [FIXED_WINDOW, SLIDING_LOG])
def test_a_server_back_without_a_restart_keeps_its_counts(
    pool: MemcachedPool,
    settings: Any,
    clock: FakeClock,
    failures: list[CounterUnavailable],
    caplog: pytest.LogCaptureFixture,
    algorithm: str,
) -> None:
    """A server that stops answering (SIGSTOP: a partition, a stall) and
    answers again was not emptied: its clients' counts go on, and nothing
    reports a restart."""
    cache = use_pool(settings, pool)
    now = clock()
    homes = homed_clients(pool, cache, algorithm, f"pool-pause-{algorithm}", 3, now)
    victim = pool.locations[0]
    clients = {ip: limits for located in homes.values() for ip, limits in located.items()}
    admitted: Counter[str] = Counter()
    for ip, limits in clients.items():
        for _ in range(LIMIT - 1):
            admitted[ip] += outcome(limits, algorithm) == ADMITTED
    assert set(admitted.values()) == {LIMIT - 1}

    server = pool.server_at(victim)
    server.pause()
    try:  # one request: each costs the timeout
        during = outcome(next(iter(homes[victim].values())), algorithm)
    finally:
        server.resume()
    assert during == FAILED_CLOSED
    assert len(failures) == 1
    caplog.clear()
    failures.clear()

    for ip, limits in clients.items():
        for _ in range(3):
            admitted[ip] += outcome(limits, algorithm) == ADMITTED
    assert not failures
    # A request that timed out may still have been counted when the server
    # caught up: counts err towards limiting, never past the limit.
    assert all(admitted[ip] <= LIMIT for ip in homes[victim])
    assert all(admitted[ip] == LIMIT for ip in clients if ip not in homes[victim])
    assert not records(caplog, logging.WARNING, "restarted")


def test_a_failed_server_is_not_asked_again_within_retry_timeout(
    pool: MemcachedPool, settings: Any, clock: FakeClock, failures: list[CounterUnavailable]
) -> None:
    """As ``HashClient`` does: a server that failed is skipped for
    ``retry_timeout`` seconds (the fail policy answers at once), not hashed away."""
    cache = use_pool(settings, pool, retry_timeout=60)
    now = clock()
    homes = homed_clients(pool, cache, FIXED_WINDOW, "pool-retry", 2, now)
    victim = pool.locations[2]
    for limits in (limits for located in homes.values() for limits in located.values()):
        assert outcome(limits, FIXED_WINDOW) == ADMITTED

    pool.server_at(victim).stop()
    on = list(homes[victim].values())
    assert [outcome(limits, FIXED_WINDOW) for limits in on * 2] == [FAILED_CLOSED] * 4
    assert "retry_timeout" not in str(failures[0])  # it was asked: connection refused
    assert all("retry_timeout=60s" in str(exc) for exc in failures[1:])
    others = [
        limits
        for location, located in homes.items()
        if location != victim
        for limits in located.values()
    ]
    assert {outcome(limits, FIXED_WINDOW) for limits in others} == {ADMITTED}


# --- gets answering None ---------------------------------------------------------------------


@pytest.fixture
def one_server(pool: MemcachedPool) -> MemcachedServer:
    """One of the pool's servers, for a cache with that LOCATION alone."""
    return pool.servers[0]


@pytest.mark.parametrize("algorithm", SWAPPING)
@pytest.mark.parametrize(
    "options",
    [{"retry_attempts": 2, "retry_timeout": 60}, {"ignore_exc": True}],
    ids=["within-retry_timeout", "ignore_exc"],
)
def test_gets_answering_none_is_a_failure_not_a_missing_key(
    one_server: MemcachedServer,
    settings: Any,
    clock: FakeClock,
    failures: list[CounterUnavailable],
    algorithm: str,
    options: dict[str, Any],
) -> None:
    """HashClient answers ``gets`` with None, without asking, for a server it
    saw fail less than ``retry_timeout`` ago, and for any failure with
    ``ignore_exc``. Read as "no such key", the client would start a fresh
    state with ``add``; it is a failure, and the policy decides."""
    config = cache_config("memcached", one_server)
    config["OPTIONS"] = {**OPTIONS, **options}
    settings.CACHES = {"default": cache_config("locmem", None), ALIAS: config}
    settings.RATELIMIT_USE_CACHE = ALIAS
    limits = limits_of(f"gets-none-{algorithm}", "10.9.9.9")
    assert outcome(limits, algorithm) == ADMITTED

    one_server.stop()

    assert [outcome(limits, algorithm) for _ in range(3)] == [FAILED_CLOSED] * 3
    assert len(failures) == 3
    assert any("gets answered None" in str(exc) for exc in failures)


@pytest.mark.parametrize("algorithm", SWAPPING)
def test_gets_answering_none_on_a_pool_is_a_failure(
    pool: MemcachedPool,
    settings: Any,
    clock: FakeClock,
    failures: list[CounterUnavailable],
    monkeypatch: pytest.MonkeyPatch,
    algorithm: str,
) -> None:
    """A server's own client answers ``gets`` with a pair, never None, so this
    one is a mock: should one ever answer None, it still is a failure."""
    cache = use_pool(settings, pool)
    homes = homed_clients(pool, cache, algorithm, f"pool-gets-none-{algorithm}", 1, clock())
    victim = pool.locations[0]
    (limits,) = homes[victim].values()
    assert outcome(limits, algorithm) == ADMITTED
    monkeypatch.setattr(cache._cache.clients[victim], "gets", lambda *args, **kwargs: None)  # type: ignore[attr-defined]

    assert outcome(limits, algorithm) == FAILED_CLOSED
    assert len(failures) == 1 and "gets answered None" in str(failures[0])


# --- the control: the hash ring over-admits ----------------------------------------------------


def ring_incr_admits(limits: list[Limit], algorithm: str) -> str:
    """Plain Django cache calls through HashClient's ring: ``add`` then ``incr``.
    A failure is a refusal (the policy closed)."""
    cache = caches[ALIAS]
    key = f"ring:{limits[0].value}"
    try:
        cache.add(key, 0, 3600)
        count = cache.incr(key)
    except Exception:
        return FAILED_CLOSED
    return ADMITTED if count <= LIMIT else LIMITED


@pytest.mark.parametrize("how", ["cache.incr", "store-without-the-pool"])
def test_control_the_hash_ring_over_admits_when_a_server_dies(
    pool: MemcachedPool,
    settings: Any,
    clock: FakeClock,
    failures: list[CounterUnavailable],
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    """What the tests above would catch: through pymemcache's ring, the clients
    of a dead server move to fresh counters on the others and get their limit
    again, far more often than anything is reported."""
    cache = use_pool(settings, pool)
    algorithm = FIXED_WINDOW
    if how == "cache.incr":
        hit = ring_incr_admits
        hasher = ring(pool)
        homes: dict[str, dict[str, list[Limit]]] = {location: {} for location in pool.locations}
        for n in range(3 * CLIENTS_PER_SERVER * 8):
            limits = limits_of("ring", f"10.20.{n >> 8}.{n & 255}")
            home = hasher.get_node(cache.make_key(f"ring:{limits[0].value}"))
            homes[home][limits[0].value] = limits
    else:  # the store as it was: every call through HashClient
        monkeypatch.setattr(memcached, "_pool_of", lambda cache: None)
        hit = outcome
        homes = homed_clients(pool, cache, algorithm, "ring-store", CLIENTS_PER_SERVER, clock())
    victim = pool.locations[1]
    on = homes[victim]
    assert len(on) >= CLIENTS_PER_SERVER
    for limits in on.values():
        assert [hit(limits, algorithm) for _ in range(LIMIT)] == [ADMITTED] * LIMIT

    pool.server_at(victim).stop()
    during = Counter(hit(limits, algorithm) for limits in on.values() for _ in range(2 * LIMIT))

    # Past the limit: every one of these requests should have been refused.
    assert during[ADMITTED] >= len(on) * LIMIT // 2
    reported = during[FAILED_CLOSED] if how == "cache.incr" else len(failures)
    assert reported < during[ADMITTED]
