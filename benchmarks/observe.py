"""What the server saw: round trips per check and bytes stored, counted at the server.

* Redis: ``MONITOR``. ``INFO commandstats`` also counts the commands a Lua
  script runs inside the server, which cost no round trip; MONITOR marks those
  ``lua``, so only commands that came over the network are counted.
* memcached: the ``stats`` command counters (``cmd_get``, ``cmd_set``,
  ``incr_hits``...), one per command received.
* LocMem: no server, no round trip; bytes are the pickled values and keys.

Bytes are what the server reports for the keys a row created: Redis
``MEMORY USAGE`` (key, value and the server's per-key overhead), memcached's
``bytes`` statistic (items with their headers), LocMem's pickles.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

import redis
from pymemcache.client.base import Client as MemcacheClient

#: memcached counters that move once per command a client sends.
MEMCACHED_COMMANDS = (
    "cmd_get",
    "cmd_set",  # set, add, replace, append, prepend (and cas)
    "cmd_touch",
    "cmd_flush",
    "incr_hits",
    "incr_misses",
    "decr_hits",
    "decr_misses",
    "delete_hits",
    "delete_misses",
)
SENTINEL = "drf-ratelimit-benchmark-end"
#: A sliding log's key ends with its period: ``...}sl3600s``.
SLIDING_LOG_KEY = re.compile(rb"\}sl\d+s$")


class Observer(Protocol):
    def reset(self) -> None:
        """Forget what earlier rows stored, where the server allows it."""

    def stored_bytes(self) -> int:
        """Bytes held for all keys now."""

    def round_trips(self, run: Callable[[], None]) -> int:
        """Requests that reached the server while ``run`` ran."""

    def set_counters(self, value: int) -> None:
        """Set every integer counter to ``value`` (a client that already sent that many)."""


class RedisObserver:
    """A connection of its own to the benchmark's redis-server (databases 0 and 1)."""

    def __init__(self, port: int, databases: tuple[int, ...] = (0, 1)) -> None:
        self.clients = [redis.Redis(port=port, db=db, socket_timeout=30) for db in databases]

    def reset(self) -> None:
        self.clients[0].flushall()

    def stored_bytes(self) -> int:
        total = 0
        for client in self.clients:
            keys = list(client.scan_iter(count=1000))
            for start in range(0, len(keys), 1000):
                pipe = client.pipeline(transaction=False)
                for key in keys[start : start + 1000]:
                    pipe.memory_usage(key, samples=0)
                total += sum(int(size or 0) for size in pipe.execute())
        return total

    def round_trips(self, run: Callable[[], None]) -> int:
        observer = self.clients[0]
        seen: list[tuple[str, str]] = []
        with observer.monitor() as monitor:  # type: ignore[no-untyped-call]
            run()
            observer.echo(SENTINEL)  # MONITOR streams in server order: this marks the end
            while True:
                command = monitor.next_command()
                peer = f"{command.get('client_address')}:{command.get('client_port')}"
                if SENTINEL in command["command"]:
                    sentinel_peer = peer
                    break
                seen.append((command["client_type"], peer))
        return sum(1 for kind, peer in seen if kind != "lua" and peer != sentinel_peer)

    def set_counters(self, value: int) -> None:
        """Fixed-window counters (integers), the sliding window's current count
        (field ``c`` of its hash) and the sliding log (a list of ``value`` times,
        see :func:`fill_log`). A token bucket's timestamp is left alone: its
        cost does not depend on how full the bucket is. Other lists (limits'
        moving window) are left to the row's own prefill."""
        for client in self.clients:
            for key in client.scan_iter(count=1000):
                kind = client.type(key)
                if kind == b"hash":
                    client.hset(key, "c", value)
                    continue
                if kind == b"list" and SLIDING_LOG_KEY.search(key):
                    fill_log(client, key, value)
                    continue
                if kind != b"string":
                    continue
                stored = client.get(key)
                if stored is not None and stored.isdigit() and int(stored) < 10**12:
                    client.set(key, value, keepttl=True)


def fill_log(client: redis.Redis, key: bytes, entries: int) -> None:
    """A sliding log of ``entries`` admitted requests: its newest time, repeated
    (still inside the period, so none expires), with the key's time to live kept."""
    newest = client.lindex(key, -1)
    ttl = client.pttl(key)
    if newest is None or ttl <= 0:
        return
    pipe = client.pipeline(transaction=True)
    pipe.delete(key)
    for start in range(0, entries, 10_000):
        pipe.rpush(key, *[newest] * min(10_000, entries - start))
    pipe.pexpire(key, ttl)
    pipe.execute()


class MemcachedObserver:
    def __init__(self, port: int) -> None:
        self.client = MemcacheClient(("127.0.0.1", port), timeout=30)

    def stats(self) -> dict[bytes, Any]:
        return dict(self.client.stats())

    def reset(self) -> None:
        """Nothing: memcached frees flushed items lazily, so rows use fresh keys instead."""

    def stored_bytes(self) -> int:
        return int(self.stats()[b"bytes"])

    def round_trips(self, run: Callable[[], None]) -> int:
        before = self.stats()
        run()
        after = self.stats()
        return sum(int(after[n.encode()]) - int(before[n.encode()]) for n in MEMCACHED_COMMANDS)

    def set_counters(self, value: int) -> None:
        raise NotImplementedError("prefilled scenarios run on Redis only")


class LocMemObserver:
    def __init__(self, cache: Any) -> None:
        self.cache = cache

    def reset(self) -> None:
        self.cache.clear()

    def stored_bytes(self) -> int:
        return sum(len(key) + len(value) for key, value in self.cache._cache.items())

    def round_trips(self, run: Callable[[], None]) -> int:
        run()
        return 0

    def set_counters(self, value: int) -> None:
        raise NotImplementedError("prefilled scenarios run on Redis only")
