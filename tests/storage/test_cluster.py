"""Redis Cluster: drf_ratelimit.cluster's two surfaces on a real cluster.

One Redis 7 cluster of 3 masters and 3 replicas (a process per node, on
loopback, ``cluster-node-timeout`` 2 s) serves the whole module; every test
gets it whole (the ``whole_cluster`` fixture restarts what an earlier test
stopped), on both surfaces, under their own aliases:

* ``RedisClusterCache`` (Django's RedisCache on redis-py's RedisCluster),
  LOCATION a list of URLs;
* django-redis with ``RedisClusterClient``, LOCATION a comma-separated string.

Shown here: the cache operations work on keys of every master; every
algorithm admits exactly the limit under processes x threads, with one
``EVALSHA`` per check (counted by the masters themselves); a two-rate check
keeps its keys in one slot while clients spread over every master; a master
killed in the middle of traffic costs failed-closed checks, never an
exception, and once its replica is promoted fresh clients are exact again;
and a cluster that is down fails a check within a bound set by the socket
timeouts, not after redis-py's default retries.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from redis.backoff import NoBackoff
from redis.retry import Retry

from drf_ratelimit._algorithms import NAMES, algorithm_named
from drf_ratelimit._engine import Limit, check
from drf_ratelimit._spec.rates import Rate, parse_rate
from drf_ratelimit._storage.base import key_maker
from drf_ratelimit.cluster import DEFAULT_RETRIES, RedisClusterCache
from drf_ratelimit.usage import Usage
from tests.servers import RedisClusterServers, find_binary, server_unavailable
from tests.storage import hammer

pytestmark = [pytest.mark.redis, pytest.mark.faults]

#: The two surfaces, by their aliases in CACHES.
CACHE = "cluster_cache"
DJANGO_REDIS = "cluster_django_redis"
SURFACES = [CACHE, DJANGO_REDIS]

#: Socket timeouts of the normal tests (generous: a busy machine is slow).
TIMEOUT = 5.0
#: Socket timeouts of the fault tests, and the bound a failing check must
#: keep: ten times the timeout (3 attempts of at most a command timeout and
#: a topology reload each, or 0.25 s each on CLUSTERDOWN, fit well inside;
#: redis-py's default 10 retries would not, on a hung master).
FAULT_TIMEOUT = 0.5
FAIL_BOUND = 10 * FAULT_TIMEOUT
#: How long a failover or a cluster state change may take on a slow machine.
SETTLE = 30.0

ONE_RATE = ["37/h"]
TWO_RATES = ["41/d", "23/h"]
#: Each hammer round: the rates of its client, and how many requests must pass.
ROUNDS = [(ONE_RATE, 37), (TWO_RATES, 23)]
PROCESSES = 3
THREADS = 4
REQUESTS_PER_THREAD = 10
#: Every hammer worker's clock is frozen here (mid-hour, mid-day).
FIXED_NOW = 1_700_000_123.0
HASH_TAG = re.compile(rb"\{([^}]+)\}")


def surface_config(surface: str, cluster: RedisClusterServers, timeout: float) -> dict[str, Any]:
    """The CACHES entry of one surface, every node a startup node."""
    if surface == CACHE:
        return {
            "BACKEND": "drf_ratelimit.cluster.RedisClusterCache",
            "LOCATION": cluster.location,
            "OPTIONS": {"socket_timeout": timeout, "socket_connect_timeout": timeout},
        }
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": ",".join(cluster.location),
        "OPTIONS": {
            "CLIENT_CLASS": "drf_ratelimit.cluster.RedisClusterClient",
            "SOCKET_TIMEOUT": timeout,
            "SOCKET_CONNECT_TIMEOUT": timeout,
        },
    }


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisClusterServers]:
    servers = RedisClusterServers(find_binary("redis-server"), find_binary("redis-cli"))
    try:
        try:
            servers.start()
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            server_unavailable(f"a 3-master Redis Cluster could not start: {exc}")
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def whole_cluster(cluster: RedisClusterServers) -> RedisClusterServers:
    """The cluster with every node up, as 3 masters with a replica each."""
    cluster.restore()
    return cluster


def install(settings: Any, cluster: RedisClusterServers, timeout: float = TIMEOUT) -> None:
    """Both surfaces as caches (the first the ratelimit cache), the cluster empty."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        **{surface: surface_config(surface, cluster, timeout) for surface in SURFACES},
    }
    settings.RATELIMIT_USE_CACHE = CACHE
    caches[CACHE].clear()


@pytest.fixture
def surfaces(settings: Any, whole_cluster: RedisClusterServers) -> Iterator[RedisClusterServers]:
    install(settings, whole_cluster)
    yield whole_cluster
    disconnect_all()


def disconnect_all() -> None:
    """Close this thread's cluster clients (their sockets) of both surfaces."""
    for surface in SURFACES:
        disconnect(caches[surface])


def disconnect(cache: BaseCache) -> None:
    if isinstance(cache, RedisClusterCache):
        cache.disconnect()
    else:
        cache.client.disconnect()  # type: ignore[attr-defined]


def cluster_client(cache: BaseCache) -> Any:
    """The RedisCluster behind either surface (the one the engine uses)."""
    if isinstance(cache, RedisClusterCache):
        return cache._cache.get_client(write=True)
    return cache.client.get_client(write=True)  # type: ignore[attr-defined]


def parsed(text: str) -> Rate:
    rate = parse_rate(text)
    assert rate is not None
    return rate


def limits_for(group: str, ip: str, rates: list[str]) -> list[Limit]:
    """The throttles' layout (every algorithm's keys behind one hash tag)."""
    return [Limit(group, parsed(rate), ip, aligned=True) for rate in rates]


def slot_of_client(cache: BaseCache, group: str, ip: str) -> int:
    """The slot every key of this client's checks in ``group`` lands in."""
    tag = limits_for(group, ip, ONE_RATE)[0].scope.tag(ip)
    return int(cluster_client(cache).keyslot(key_maker(cache)(tag + "any")))


def masters(cluster: RedisClusterServers) -> list[int]:
    return sorted(cluster.topology())


def node(port: int, timeout: float = 5.0) -> redis.Redis:
    return redis.Redis(port=port, socket_timeout=timeout, socket_connect_timeout=timeout)


def on_every_master(cluster: RedisClusterServers, *command: Any) -> None:
    for port in masters(cluster):
        client = node(port)
        try:
            client.execute_command(*command)  # type: ignore[no-untyped-call]
        finally:
            client.close()


def load_scripts(cluster: RedisClusterServers) -> None:
    """Every algorithm's script on every master, so a check never meets NOSCRIPT."""
    for name in NAMES:
        on_every_master(
            cluster, "SCRIPT", "LOAD", algorithm_named(name, aligned_windows=True).script.source
        )


def calls(cluster: RedisClusterServers, command: str) -> int:
    """How many times the masters ran ``command`` since their last CONFIG RESETSTAT."""
    total = 0
    for port in masters(cluster):
        client = node(port)
        try:
            stats = client.info("commandstats")
        finally:
            client.close()
        total += int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))
    return total


def keys_by_master(cluster: RedisClusterServers) -> dict[int, list[bytes]]:
    found = {}
    for port in masters(cluster):
        client = node(port)
        try:
            found[port] = list(client.scan_iter(count=1000))
        finally:
            client.close()
    return found


# --- the cache operations ----------------------------------------------------------------------


@pytest.mark.parametrize("surface", SURFACES)
def test_cache_operations_work_across_slots(surfaces: RedisClusterServers, surface: str) -> None:
    cache = caches[surface]
    client = cluster_client(cache)
    full = key_maker(cache)
    keys = [f"op-{index}" for index in range(30)]
    owners = {client.get_node_from_key(full(key)).port for key in keys}
    assert owners == set(masters(surfaces))  # the keys span every master

    data = {key: {"n": index} for index, key in enumerate(keys)}
    cache.set_many(data, 60)
    assert cache.get_many([*keys, "op-missing"]) == data
    assert 0 < client.ttl(full(keys[0])) <= 60
    cache.set_many({"op-forever": 1}, None)
    assert client.ttl(full("op-forever")) == -1
    cache.set_many({"op-gone": 1}, 0)
    assert cache.get("op-gone") is None

    cache.delete_many(keys[:20])
    assert cache.get_many(keys) == {key: data[key] for key in keys[20:]}
    assert cache.has_key(keys[25]) and not cache.has_key(keys[5])

    assert cache.add("op-add", 1) and not cache.add("op-add", 2)
    assert cache.get("op-add") == 1
    assert cache.incr("op-add", 4) == 5
    with pytest.raises(ValueError):
        cache.incr("op-absent")
    cache.set("op-touch", "value", 5)
    assert cache.touch("op-touch", 100)
    assert 5 < client.ttl(full("op-touch")) <= 100
    assert cache.delete("op-touch")
    assert cache.get("op-touch", "default") == "default"

    limits = limits_for("disconnect", "10.90.0.1", ONE_RATE)
    for expected_count in (1, 2):  # the engine keeps its client across a disconnect
        usages = check(limits, cache=cache)
        assert usages is not None and usages[0].count == expected_count
        disconnect(cache)  # as django-redis does after each request with CLOSE_CONNECTION
    assert cache.get("op-add") == 5

    cache.clear()
    assert cache.get_many([*keys, "op-add", "op-forever"]) == {}
    for port in masters(surfaces):  # every master flushed (replicas follow)
        master = node(port)
        try:
            assert master.dbsize() == 0
        finally:
            master.close()


def test_django_redis_key_patterns_reach_every_master(surfaces: RedisClusterServers) -> None:
    """django-redis's own operations on patterns (beyond Django's cache API)."""
    cache: Any = caches[DJANGO_REDIS]
    keys = [f"pattern-{index}" for index in range(30)]
    cache.set_many(dict.fromkeys(keys, 1), 60)

    assert sorted(cache.keys("pattern-*")) == sorted(keys)
    assert sorted(cache.iter_keys("pattern-*")) == sorted(keys)
    assert cache.delete_pattern("pattern-1*") == 11
    assert sorted(cache.keys("pattern-*")) == sorted(
        k for k in keys if not k.startswith("pattern-1")
    )


@pytest.mark.parametrize("surface", SURFACES)
def test_the_first_urls_credentials_apply_to_every_node(
    settings: Any, whole_cluster: RedisClusterServers, surface: str
) -> None:
    """A user of its own on every node, allowed only keys of its own: what the
    cache may touch shows it runs as that user, on every master."""
    cluster = whole_cluster
    user, password = "limiter", "limiter-password"
    for each in cluster.nodes:
        each.command_output(
            "ACL", "SETUSER", user, "reset", "on", f">{password}", "~:1:mine-*", "+@all"
        )
    try:
        first, *others = cluster.location
        urls = [first.replace("redis://", f"redis://{user}:{password}@", 1), *others]
        config = surface_config(surface, cluster, TIMEOUT)
        config["LOCATION"] = urls if surface == CACHE else ",".join(urls)
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            surface: config,
        }
        cache = caches[surface]
        keys = [f"mine-{index}" for index in range(30)]
        owners = {cluster_client(cache).get_node_from_key(f":1:{key}").port for key in keys}
        assert owners == set(masters(cluster))

        cache.set_many({key: index for index, key in enumerate(keys)}, 60)
        assert cache.get_many(keys) == {key: index for index, key in enumerate(keys)}
        theirs = [f"theirs-{index}" for index in range(30)]
        owners = {cluster_client(cache).get_node_from_key(f":1:{key}").port for key in theirs}
        assert owners == set(masters(cluster))
        for key in theirs:  # refused on every master: every node is asked as the user
            with pytest.raises(redis.exceptions.NoPermissionError):
                cache.set(key, 1)
        disconnect(cache)
    finally:
        for each in cluster.nodes:
            each.command_output("ACL", "DELUSER", user)


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize(
    ("options", "retries"),
    [
        pytest.param({}, DEFAULT_RETRIES, id="default"),
        pytest.param({"cluster_error_retry_attempts": 5}, 5, id="a count"),
        pytest.param({"retry": Retry(NoBackoff(), 0)}, 0, id="a Retry"),
    ],
)
def test_the_retries_are_bounded_unless_the_options_say_otherwise(
    settings: Any,
    whole_cluster: RedisClusterServers,
    surface: str,
    options: dict[str, Any],
    retries: int,
) -> None:
    """And the socket timeouts reach every node's connections."""
    config = surface_config(surface, whole_cluster, 1.5)
    if surface == CACHE:
        config["OPTIONS"].update(options)
    else:
        config["OPTIONS"]["CONNECTION_POOL_KWARGS"] = options
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        surface: config,
    }
    cache = caches[surface]
    client = cluster_client(cache)

    assert client.retry.get_retries() == retries
    if "retry" in options:
        assert client.retry is options["retry"]
    connection_kwargs = client.nodes_manager.connection_kwargs
    assert connection_kwargs["socket_timeout"] == 1.5
    assert connection_kwargs["socket_connect_timeout"] == 1.5
    cache.set("retries", 1)
    assert cache.get("retries") == 1
    disconnect(cache)


BAD_LOCATIONS = [
    pytest.param("redis://127.0.0.1:7000/1", id="a database other than 0"),
    pytest.param("unix:///tmp/redis.sock", id="a unix socket"),
    pytest.param("redis://127.0.0.1:7000,rediss://127.0.0.1:7001", id="mixed schemes"),
    pytest.param("http://127.0.0.1:7000", id="not redis"),
    pytest.param(" , ", id="no node"),
]


@pytest.mark.parametrize("location", BAD_LOCATIONS)
def test_a_wrong_location_is_a_configuration_error_not_an_outage(location: str) -> None:
    """Raised before any connection is tried (a connection error would be
    taken for an outage and resolved with the fail policy)."""
    from django_redis.cache import RedisCache as DjangoRedisCache

    with pytest.raises(ImproperlyConfigured):
        RedisClusterCache(location, {})
    client_class = {"CLIENT_CLASS": "drf_ratelimit.cluster.RedisClusterClient"}
    with pytest.raises(ImproperlyConfigured):
        DjangoRedisCache(location, {"OPTIONS": client_class}).client  # noqa: B018


# --- exact under load, one EVALSHA per check -------------------------------------------------


#: Each hammer worker thread's cache: the threads of a process take the two
#: surfaces in turn, so both count the same clients at once.
_WORKER = threading.local()
_WORKERS = itertools.count()


def worker_cache(config: hammer.Config) -> BaseCache:
    cache: BaseCache | None = getattr(_WORKER, "cache", None)
    if cache is None:
        surface = SURFACES[next(_WORKERS) % len(SURFACES)]
        params = dict(config["surfaces"][surface])
        backend = import_string(params.pop("BACKEND"))
        cache = _WORKER.cache = backend(params.pop("LOCATION"), params)
    return cache


def cluster_limited(request: Any, config: hammer.Config) -> bool:
    """The code under test, in the hammer's workers: one engine check of
    every rate of the round's client, through this thread's surface. A cache
    failure is raised (it must not hide as "fewer admitted")."""
    ip = request.META["REMOTE_ADDR"]
    rates = config["rates_by_ip"].get(ip, [f"{config['limit']}/h"])
    limits = limits_for(config["group"], ip, rates)
    usages = check(limits, algorithm=config["algorithm"], cache=worker_cache(config))
    if usages is None or any(usage.failed for usage in usages):
        raise RuntimeError(f"the cluster failed under contention: {usages!r}")
    return any(usage.should_limit for usage in usages)


def hammer_config(cluster: RedisClusterServers, algorithm: str) -> hammer.Config:
    ips = [f"10.91.{index}.{len(algorithm)}" for index in range(len(ROUNDS))]
    surfaces = {surface: surface_config(surface, cluster, TIMEOUT) for surface in SURFACES}
    return {
        "alias": CACHE,
        "cache": surfaces[CACHE],
        "surfaces": surfaces,
        "group": f"cluster-hammer-{algorithm}",
        "limit": 10**6,
        "algorithm": algorithm,
        "rates_by_ip": {ip: rates for ip, (rates, _) in zip(ips, ROUNDS, strict=True)},
        "ips": ips,
        "threads": THREADS,
        "requests_per_thread": REQUESTS_PER_THREAD,
        "now": FIXED_NOW,
        "limiter": f"{__name__}.cluster_limited",
    }


@pytest.mark.concurrency
@pytest.mark.parametrize("algorithm", NAMES)
def test_every_algorithm_is_exact_under_load_with_one_evalsha_per_check(
    surfaces: RedisClusterServers, algorithm: str
) -> None:
    """Processes x threads, half the threads on each surface, the same clients."""
    config = hammer_config(surfaces, algorithm)
    load_scripts(surfaces)
    on_every_master(surfaces, "CONFIG", "RESETSTAT")

    admitted = hammer.run_in_processes(config, PROCESSES)

    checks = PROCESSES * THREADS * (1 + len(ROUNDS) * REQUESTS_PER_THREAD)  # with warm-ups
    assert calls(surfaces, "evalsha") == checks
    assert calls(surfaces, "eval") == 0
    assert admitted == [expected for _, expected in ROUNDS]
    for surface in SURFACES:  # both read the same counts
        for ip, (rates, expected) in zip(config["ips"], ROUNDS, strict=True):
            limits = limits_for(config["group"], ip, rates)
            usages = check(limits, 0, algorithm=algorithm, now=FIXED_NOW, cache=caches[surface])
            assert usages is not None
            assert [usage.count for usage in usages] == [expected] * len(rates)


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("algorithm", NAMES)
def test_a_two_rate_check_keeps_one_slot_while_clients_spread_over_every_master(
    surfaces: RedisClusterServers, surface: str, algorithm: str
) -> None:
    cache = caches[surface]
    load_scripts(surfaces)
    on_every_master(surfaces, "CONFIG", "RESETSTAT")
    clients = [f"10.92.{index // 100}.{index % 100}" for index in range(60)]

    for ip in clients:
        for expected_count in (1, 2):
            usages = check(limits_for("spread", ip, TWO_RATES), algorithm=algorithm, cache=cache)
            assert usages is not None and not any(usage.should_limit for usage in usages)
            if algorithm != "token-bucket":  # the bucket's count is its level, not a tally
                assert [usage.count for usage in usages] == [expected_count] * 2

    assert calls(surfaces, "evalsha") == 2 * len(clients)
    placed: dict[bytes, set[tuple[int, int]]] = {}
    for port, keys in keys_by_master(surfaces).items():
        for key in keys:
            tag = HASH_TAG.search(key)
            assert tag is not None, key
            slot = int(cluster_client(cache).keyslot(key))
            placed.setdefault(tag.group(1), set()).add((port, slot))
    assert len(placed) == len(clients)  # one hash tag per client
    assert all(len(where) == 1 for where in placed.values())  # each client's keys: one slot
    assert {port for where in placed.values() for port, _ in where} == set(masters(surfaces))


@pytest.mark.parametrize("surface", SURFACES)
def test_a_master_without_the_script_gets_it_once_with_eval(
    surfaces: RedisClusterServers, surface: str
) -> None:
    """After SCRIPT FLUSH (or on a promoted replica, which never ran the
    script itself): NOSCRIPT, then one EVAL on the master that owns the
    check's slot, then EVALSHA again."""
    cache = caches[surface]
    on_every_master(surfaces, "SCRIPT", "FLUSH")
    on_every_master(surfaces, "CONFIG", "RESETSTAT")

    for expected_count in (1, 2, 3):
        usages = check(limits_for("noscript", "10.97.0.1", TWO_RATES), cache=cache)
        assert usages is not None
        assert [usage.count for usage in usages] == [expected_count] * 2

    assert calls(surfaces, "eval") == 1
    assert calls(surfaces, "evalsha") == 3  # the one NOSCRIPT answered, and two more


# --- faults -----------------------------------------------------------------------------------


def is_fail_closed(usages: list[Usage] | None) -> bool:
    return usages is not None and all(usage.failed and usage.should_limit for usage in usages)


def clients_by_slot_owner(
    cache: BaseCache, group: str, owner_slots: set[int], count: int, prefix: str
) -> tuple[list[str], list[str]]:
    """``count`` client addresses whose keys land on ``owner_slots``, and
    ``count`` whose keys land elsewhere."""
    inside: list[str] = []
    outside: list[str] = []
    index = 0
    while len(inside) < count or len(outside) < count:
        ip = f"{prefix}.{index // 250}.{index % 250}"
        index += 1
        chosen = inside if slot_of_client(cache, group, ip) in owner_slots else outside
        if len(chosen) < count:
            chosen.append(ip)
    return inside, outside


def slots_of(cache: BaseCache, port: int) -> set[int]:
    """The slots the master on ``port`` owns, as the cache's cluster client sees them."""
    client = cluster_client(cache)
    return {
        slot for slot, nodes in client.nodes_manager.slots_cache.items() if nodes[0].port == port
    }


@dataclass
class Traffic:
    """Threads checking their clients in a loop through the engine, each
    outcome recorded as (time, client, usages); any exception is kept."""

    clients: dict[str, list[str]]
    group: str
    limit: str = "1000000/h"
    records: list[tuple[float, str, str, list[Usage] | None]] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, per_surface: int = 2) -> None:
        for surface, ips in self.clients.items():
            for index in range(per_surface):
                share = ips[index::per_surface]
                thread = threading.Thread(target=self.run, args=(surface, share), daemon=True)
                self.threads.append(thread)
                thread.start()

    def run(self, surface: str, ips: list[str]) -> None:
        try:
            cache = caches[surface]  # this thread's own cache object, as in a server
            while not self.stopping.is_set():
                for ip in ips:
                    limits = [Limit(self.group, parsed(self.limit), ip, aligned=True)]
                    usages = check(limits, algorithm="sliding-window", cache=cache)
                    with self.lock:
                        self.records.append((time.monotonic(), surface, ip, usages))
                time.sleep(0.01)
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            disconnect(caches[surface])

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(SETTLE)

    def outcomes(self, since: float = 0.0) -> list[tuple[float, str, str, list[Usage] | None]]:
        with self.lock:
            return [record for record in self.records if record[0] >= since]


def wait_for(condition: Any, timeout: float, what: str) -> float:
    """Poll ``condition()`` until true; the time it became true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        time.sleep(0.1)
    return time.monotonic()


def promoted(cluster: RedisClusterServers, replica: int, dead: int) -> bool:
    """Every live node sees ``replica`` as a master, and says the cluster is ok."""
    try:
        for other in cluster.nodes:
            if other.port == dead:
                continue
            shape = cluster_nodes_seen_by(other.port)
            if replica not in shape or cluster.cluster_state(other) != "ok":
                return False
    except redis.RedisError:
        return False
    return True


def cluster_nodes_seen_by(port: int) -> dict[int, list[int]]:
    from tests.servers import parse_cluster_nodes

    client = node(port)
    try:
        text = client.execute_command("CLUSTER", "NODES")  # type: ignore[no-untyped-call]
    finally:
        client.close()
    return parse_cluster_nodes(text.decode() if isinstance(text, bytes) else str(text))


def exact_for_fresh_clients(victim_slots: set[int], group: str) -> None:
    """Fresh clients, two on the victim's slots and two elsewhere, are each
    admitted exactly 5 times in 7, on both surfaces (each its own group:
    they share the cluster's keys)."""
    for surface in SURFACES:
        cache = caches[surface]
        inside, outside = clients_by_slot_owner(
            cache, f"{group}-{surface}", victim_slots, 2, "10.95"
        )
        for ip in inside + outside:
            allowed = []
            for _ in range(7):
                usages = check(limits_for(f"{group}-{surface}", ip, ["5/h"]), cache=cache)
                assert usages is not None and not usages[0].failed, (surface, ip)
                allowed.append(not usages[0].should_limit)
            assert allowed == [True] * 5 + [False] * 2, (surface, ip)


def test_a_master_killed_in_the_middle_of_traffic_fails_closed_until_its_replica_takes_over(
    settings: Any, whole_cluster: RedisClusterServers
) -> None:
    """Threads of both surfaces check clients of every master; one master is
    killed (SIGKILL). Until the cluster has promoted its replica, checks of its
    slots (and, while the cluster says it is failing, of every slot) fail
    closed; nothing raises. Then every thread counts again, and fresh clients
    are admitted exactly their limit."""
    cluster = whole_cluster
    install(settings, cluster, timeout=1.0)
    victim = masters(cluster)[0]
    replica = cluster.topology()[victim][0]
    group = "failover"
    victim_slots = slots_of(caches[CACHE], victim)
    clients: dict[str, list[str]] = {}
    for surface in SURFACES:
        inside, outside = clients_by_slot_owner(
            caches[surface], group, victim_slots, 4, f"10.{93 + SURFACES.index(surface)}"
        )
        clients[surface] = inside + outside
    on_victim = {ip for ips in clients.values() for ip in ips[:4]}
    traffic = Traffic(clients, group)
    traffic.start()
    try:
        wait_for(lambda: len(traffic.outcomes()) >= 200, SETTLE, "the traffic starting")
        killed_at = time.monotonic()
        cluster.node_on(victim).kill()
        promoted_at = wait_for(
            lambda: promoted(cluster, replica, victim), SETTLE, "the replica's promotion"
        )
        time.sleep(1.0)  # traffic carries on through the new master
        wait_for(
            lambda: len(traffic.outcomes(time.monotonic() - 0.5)) >= 20,
            SETTLE,
            "traffic after the promotion",
        )
    finally:
        traffic.stop()
    assert traffic.errors == []  # no exception escaped the engine

    after_kill = traffic.outcomes(killed_at)
    for _, surface, ip, usages in after_kill:
        assert usages is not None
        assert is_fail_closed(usages) or (
            len(usages) == 1 and not usages[0].failed and usages[0].count >= 1
        ), (surface, ip, usages)
    failed = [record for record in after_kill if is_fail_closed(record[3])]
    assert any(ip in on_victim for _, _, ip, _ in failed)  # the kill was felt
    for surface in SURFACES:  # and every thread is counting again since the promotion
        recovered = [r for r in traffic.outcomes(promoted_at) if r[1] == surface]
        assert recovered and not is_fail_closed(recovered[-1][3])
    last_failure = max(at for at, _, _, _ in failed)
    elsewhere = [at for at, _, ip, _ in failed if ip not in on_victim] or [killed_at]
    print(
        f"\nfailover: checks failed closed for {last_failure - killed_at:.2f}s after the kill"
        f" ({len(failed)} of {len(after_kill)} checks; other masters' clients for"
        f" {max(elsewhere) - min(elsewhere):.2f}s),"
        f" replica promoted after {promoted_at - killed_at:.2f}s"
    )

    exact_for_fresh_clients(victim_slots, "after-failover")
    disconnect_all()


@pytest.mark.parametrize("fault", ["terminated", "paused"])
def test_a_down_cluster_fails_a_check_within_a_bound_set_by_the_timeouts(
    settings: Any, whole_cluster: RedisClusterServers, fault: str
) -> None:
    """A master and its replica both gone: their slots cannot be served, and
    once the other nodes notice, the cluster refuses every key
    (CLUSTERDOWN). Terminated nodes refuse connections; paused ones accept
    them and answer nothing, so every attempt waits for a socket timeout."""
    cluster = whole_cluster
    install(settings, cluster, timeout=FAULT_TIMEOUT)
    victim = masters(cluster)[0]
    replica = cluster.topology()[victim][0]
    group = f"down-{fault}"
    inside, outside = clients_by_slot_owner(
        caches[CACHE], group, slots_of(caches[CACHE], victim), 1, "10.96"
    )
    for surface in SURFACES:  # warm: connected, scripts loaded
        for ip in inside + outside:
            assert not is_fail_closed(check(limits_for(group, ip, ONE_RATE), cache=caches[surface]))

    for port in (victim, replica):
        if fault == "paused":
            cluster.node_on(port).pause()
        else:
            cluster.node_on(port).stop()

    def timed_check(cache: BaseCache, ip: str) -> float:
        started = time.monotonic()
        usages = check(limits_for(group, ip, ONE_RATE), cache=cache)
        took = time.monotonic() - started
        assert is_fail_closed(usages), (cache, ip, usages)
        assert took < FAIL_BOUND, f"a check on a down cluster took {took:.2f}s"
        return took

    took = [timed_check(caches[surface], inside[0]) for surface in SURFACES]
    live = [other for other in cluster.nodes if other.port not in (victim, replica)]
    wait_for(
        lambda: all(cluster.cluster_state(other) == "fail" for other in live),
        SETTLE,
        "the cluster noticing",
    )
    for surface in SURFACES:  # now every slot is refused (CLUSTERDOWN), the healthy masters' too
        took.append(timed_check(caches[surface], outside[0]))
        fresh = caches.create_connection(surface)  # a new client, meeting the outage first
        took.append(timed_check(fresh, outside[0]))
    print(f"\n{fault}: a check on the down cluster took {min(took):.2f}-{max(took):.2f}s")
    disconnect_all()


def test_a_single_server_client_on_a_cluster_node_is_told_which_backend_to_use(
    settings: Any, whole_cluster: RedisClusterServers, caplog: pytest.LogCaptureFixture
) -> None:
    """Django's RedisCache pointed at one node: the clients whose slots other
    masters own get MOVED; they fail closed, and the log says what to use."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "single": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{masters(whole_cluster)[0]}",  # a master now
        },
    }
    settings.RATELIMIT_USE_CACHE = "single"
    results = [check(limits_for("moved", f"10.77.0.{n}", ["5/m"])) for n in range(1, 31)]
    failed = [usages for usages in results if is_fail_closed(usages)]
    assert 0 < len(failed) < len(results)  # some clients' slots are on other masters
    assert "drf_ratelimit.cluster.RedisClusterCache" in caplog.text
    assert "MovedError" in caplog.text
