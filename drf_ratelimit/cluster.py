"""Redis Cluster as a Django cache: Django's backend and django-redis's client.

Both Redis backends the package runs its scripts on assume one server (or one
master and its replicas). On a Redis Cluster a command must go to the master
that owns its key's slot, and a client must follow the cluster when slots
move or a replica is promoted; redis-py's :class:`~redis.cluster.RedisCluster`
does that. This module gives each backend that client:

``RedisClusterCache``
    a ``BACKEND``, built on Django's own ``RedisCache``::

        CACHES = {"ratelimit": {
            "BACKEND": "drf_ratelimit.cluster.RedisClusterCache",
            "LOCATION": ["redis://10.0.0.1:6379", "redis://10.0.0.2:6379"],
            "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
        }}

``RedisClusterClient``
    a django-redis ``CLIENT_CLASS``::

        CACHES = {"ratelimit": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://10.0.0.1:6379,redis://10.0.0.2:6379",
            "OPTIONS": {
                "CLIENT_CLASS": "drf_ratelimit.cluster.RedisClusterClient",
                "SOCKET_TIMEOUT": 0.5,
                "SOCKET_CONNECT_TIMEOUT": 0.5,
            },
        }}

``LOCATION`` names one or several startup nodes (any node of the cluster
will do; the client discovers the others). The scheme, user name and
password of the first URL apply to every node; the database must be 0, the
only one a cluster has.

The rate limiter needs nothing else: every key of one check shares a hash
tag, so the check's one ``EVALSHA`` goes to the one master that owns them.

**Failures are bounded.** redis-py's defaults retry a failed command ten
times, and wait 0.25 s before each retry when the cluster answers
``CLUSTERDOWN``: 2.8 s per check on a cluster that is down, and eleven
socket timeouts on a master that hangs. A rate limiter in front of every
request must fail fast instead, so both classes retry :data:`DEFAULT_RETRIES`
times unless told otherwise. That is enough to survive a failover: a command
that reaches the dead master fails at once (connection refused), the client
reloads the slot table, and once a replica has been promoted the retry goes
to it. Until the cluster has promoted one (about ``cluster-node-timeout``
plus an election, a few seconds), checks of the dead master's slots fail at
once and the engine applies ``RATELIMIT_FAIL_OPEN``; checks of the other
masters' slots carry on, but for the moment between the nodes agreeing that
the master failed and the promotion, when every node answers ``CLUSTERDOWN``.
On a cluster that is down or hangs, a check takes at most about
``retries + 1`` times (the socket timeouts, or 0.25 s on ``CLUSTERDOWN``),
each attempt followed by a reload of the slot table, which asks the nodes
one after another until one answers.

Override with the cluster options of :class:`~redis.cluster.RedisCluster`:
``retry`` (a :class:`~redis.retry.Retry`), ``cluster_error_retry_attempts``
(a count, turned into a ``Retry`` here), ``reinitialize_steps``,
``require_full_coverage``, ``dynamic_startup_nodes``, ``address_remap``,
``load_balancing_strategy``; in ``OPTIONS`` for ``RedisClusterCache``, in
``OPTIONS["CONNECTION_POOL_KWARGS"]`` for django-redis. Other options go to
every node's connections as they would for one server.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.core.exceptions import ImproperlyConfigured
from redis.backoff import ExponentialWithJitterBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

__all__ = ["RedisClusterCache", "RedisClusterClient"]

#: How many times a command is retried after a connection error, a timeout or
#: ``CLUSTERDOWN`` (each retry after the client has reloaded the slot table).
#: One is what a failover needs; the second covers a reload that asked a node
#: which had not heard of the promotion yet.
DEFAULT_RETRIES = 2
#: The back-off between retries, for the redis-py paths that apply one
#: (redis-py 8.1 applies it to transactions; its commands and pipelines use
#: only the count, and wait 0.25 s themselves on ``CLUSTERDOWN``).
BACKOFF_BASE = 0.01
BACKOFF_CAP = 0.1


def _startup_urls(location: str | Sequence[str]) -> list[str]:
    """``LOCATION`` as a list of URLs, split as Django's RedisCache splits it."""
    urls = re.split("[;,]", location) if isinstance(location, str) else list(location)
    urls = [url.strip() for url in urls if url.strip()]
    if not urls:
        raise ImproperlyConfigured("A Redis Cluster cache needs at least one node in LOCATION.")
    return urls


def _startup_nodes(urls: Sequence[str]) -> list[ClusterNode]:
    """The nodes of every URL after the first (whose node redis-py adds itself).

    Checked here, when the cache is built, so a wrong ``LOCATION`` is an
    ``ImproperlyConfigured`` at once, not a connection error later (which the
    rate limiter would take for an outage and resolve with its fail policy).
    """
    nodes: list[ClusterNode] = []
    scheme = urls[0].partition("://")[0]
    for index, url in enumerate(urls):
        if url.partition("://")[0] != scheme:
            raise ImproperlyConfigured(
                f"Redis Cluster node {url!r}: every node must use the scheme {scheme!r} "
                "(the first URL's scheme and credentials apply to every node)."
            )
        try:
            parsed: dict[str, Any] = parse_url(url)  # type: ignore[no-untyped-call]
        except ValueError as exc:
            raise ImproperlyConfigured(f"Redis Cluster node {url!r}: {exc}") from exc
        if "path" in parsed:
            raise ImproperlyConfigured(
                f"Redis Cluster node {url!r}: a cluster is reached over TCP, not a Unix socket."
            )
        if parsed.get("db", 0) != 0:
            raise ImproperlyConfigured(
                f"Redis Cluster node {url!r}: a cluster has database 0 only."
            )
        if index:
            host, port = parsed.get("host", "localhost"), parsed.get("port", 6379)
            nodes.append(ClusterNode(host, port))  # type: ignore[no-untyped-call]
    return nodes


def _bounded_retry(retries: int = DEFAULT_RETRIES) -> Retry:
    """The cluster client's retry policy: ``retries`` retries, a short back-off."""
    return Retry(ExponentialWithJitterBackoff(base=BACKOFF_BASE, cap=BACKOFF_CAP), retries)


def _connect(urls: Sequence[str], options: Mapping[str, Any]) -> RedisCluster:
    """A ``RedisCluster`` for these startup nodes: ``options`` are its keyword
    arguments, with a bounded retry policy unless they set one."""
    kwargs = dict(options)
    attempts = kwargs.pop("cluster_error_retry_attempts", None)
    if "retry" not in kwargs:
        kwargs["retry"] = _bounded_retry(DEFAULT_RETRIES if attempts is None else int(attempts))
    return RedisCluster(url=urls[0], startup_nodes=_startup_nodes(urls), **kwargs)


class _SharedCluster:
    """One ``RedisCluster``, made on first use (so building the cache object
    connects to nothing) and then kept; a failed attempt is not kept."""

    def __init__(self, urls: Sequence[str], options: Mapping[str, Any]) -> None:
        _startup_nodes(urls)  # a wrong LOCATION fails now
        if "db" in options:
            raise ImproperlyConfigured("A Redis Cluster has database 0 only: remove the db option.")
        self.urls = list(urls)
        self.options = dict(options)
        self.client: RedisCluster | None = None
        self._lock = threading.Lock()

    def get(self) -> RedisCluster:
        client = self.client
        if client is None:
            with self._lock:
                client = self.client
                if client is None:
                    client = self.client = _connect(self.urls, self.options)
        return client

    def disconnect(self) -> None:
        """Close every node's connections, keeping the client: they reconnect
        on its next command. (``RedisCluster.close()`` would leave a client
        that fails with AttributeError, and the rate limiter's store keeps the
        client it was given.)"""
        client: Any = self.client
        if client is None:
            return
        for node in client.get_nodes():
            if node.redis_connection is not None:
                node.redis_connection.connection_pool.disconnect()


class _ClusterCacheClient(RedisCacheClient):
    """Django's cache client, on one shared ``RedisCluster`` instead of a pool per server.

    The single-key operations are Django's own: ``get_client()`` answers the
    cluster, which routes each command by its key. The operations on several
    keys are split by slot, since one command may only name keys of one slot.
    """

    def __init__(
        self,
        servers: list[str],
        serializer: Any = None,
        pool_class: Any = None,
        parser_class: Any = None,
        **options: Any,
    ) -> None:
        if parser_class is not None:
            raise ImproperlyConfigured(
                "RedisClusterCache: parser_class is not supported by redis-py's RedisCluster "
                "(set a connection_class instead)."
            )
        super().__init__(servers, serializer=serializer, pool_class=pool_class, **options)
        # Django's client keeps them under names its type stubs do not declare.
        state = vars(self)
        self._codec: Any = state["_serializer"]
        if pool_class is not None:
            options["connection_pool_class"] = state["_pool_class"]
        self._cluster = _SharedCluster(servers, options)

    def get_client(self, key: Any = None, *, write: bool = False) -> RedisCluster:  # type: ignore[override]
        """The cluster client, whatever the key: it routes every command itself."""
        return self._cluster.get()

    def get_many(self, keys: Iterable[Any]) -> dict[Any, Any]:
        """One ``MGET`` per slot (pipelined per master): not atomic across slots."""
        keys = list(keys)
        if not keys:
            return {}
        values = self.get_client(None).mget_nonatomic(keys)
        loads = self._codec.loads
        return {
            key: loads(value) for key, value in zip(keys, values, strict=True) if value is not None
        }

    def set_many(self, data: Mapping[Any, Any], timeout: Any) -> None:
        """One ``SET`` per key, pipelined per master (``MSET`` cannot span
        slots, and ``SET ... EX`` makes the expiry part of the write)."""
        client = self.get_client(None, write=True)
        if timeout == 0:  # what Django's set_many does with 0: the keys expire at once
            client.delete(*data)
            return
        pipeline = client.pipeline()  # type: ignore[no-untyped-call]
        dumps = self._codec.dumps
        for key, value in data.items():
            pipeline.set(key, dumps(value), ex=timeout)
        pipeline.execute()

    def delete_many(self, keys: Iterable[Any]) -> None:
        """One ``DEL`` per slot (redis-py's cluster ``delete`` splits the keys)."""
        keys = list(keys)
        if keys:
            self.get_client(None, write=True).delete(*keys)

    def clear(self) -> bool:
        """``FLUSHDB`` on every master (replicas follow): the whole cluster."""
        client: Any = self.get_client(None, write=True)
        replies = client.flushdb(target_nodes=RedisCluster.PRIMARIES)
        if isinstance(replies, dict):
            return all(map(bool, replies.values()))
        return bool(replies)

    def disconnect(self) -> None:
        self._cluster.disconnect()


class RedisClusterCache(RedisCache):
    """Django's ``RedisCache`` on a Redis Cluster, through redis-py's ``RedisCluster``.

    Everything a cache does works as on one server: the single-key operations
    go to the master that owns the key; ``get_many``, ``set_many`` and
    ``delete_many`` take keys of any slots and send one command per slot (so
    they are not atomic across slots, which they are not on Django's backend
    either). ``clear()`` flushes every master, so it empties the whole
    cluster, not only this cache's keys: a cluster has one database, and
    Django's ``RedisCache.clear()`` flushes its whole database too.

    One ``RedisCluster`` per cache object, made on first use, serves every
    command (Django gives each thread its own cache object). ``OPTIONS`` are
    its keyword arguments (see the module's documentation for the defaults
    that bound a failure); ``serializer`` is Django's option, and
    ``pool_class`` becomes each node's ``connection_pool_class``.
    """

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        urls = _startup_urls(server)
        _startup_nodes(urls)  # a wrong LOCATION fails when the cache is built
        super().__init__(urls, params)
        self._class = _ClusterCacheClient

    def disconnect(self) -> None:
        """Close every node's connections; the next command reopens them.

        (``close()``, which Django calls after every request, keeps them, as
        Django's RedisCache keeps its pools: reconnecting would reload the
        slot table on every request.)
        """
        if "_cache" in self.__dict__:
            client = self._cache
            if isinstance(client, _ClusterCacheClient):
                client.disconnect()


def _default_client() -> Any:
    """django-redis's ``DefaultClient``, or a stand-in that says django-redis
    is missing (it is optional: ``RedisClusterCache`` does not need it)."""
    try:
        from django_redis.client import DefaultClient
    except ImportError:

        class MissingDjangoRedis:
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                raise ImproperlyConfigured(
                    "RedisClusterClient is a django-redis CLIENT_CLASS: install django-redis."
                )

        return MissingDjangoRedis
    return DefaultClient


#: What django-redis turns into ``ConnectionInterrupted`` (its
#: ``IGNORE_EXCEPTIONS`` then applies to ``get_many`` as to everything else).
_DJANGO_REDIS_ERRORS = (RedisConnectionError, RedisTimeoutError, ResponseError, socket.timeout)


class RedisClusterClient(_default_client()):  # type: ignore[misc]
    """django-redis's ``DefaultClient`` whose Redis client is a ``RedisCluster``.

    Every server in ``LOCATION`` is a startup node of one cluster (not a
    master and its replicas, as for ``DefaultClient``): ``get_client()``
    answers the same ``RedisCluster`` for reads and writes, and the cluster
    routes each command by its key. ``SOCKET_TIMEOUT``, ``SOCKET_CONNECT_TIMEOUT``,
    ``USERNAME``, ``PASSWORD`` and ``CONNECTION_POOL_KWARGS`` apply as for
    one server; the cluster options go in ``CONNECTION_POOL_KWARGS``.
    ``get_many`` sends one ``MGET`` per slot; ``delete_many`` and ``clear``
    work across slots (``clear`` flushes every master).
    """

    def __init__(self, server: Any, params: dict[str, Any], backend: BaseCache) -> None:
        urls = _startup_urls(server)
        super().__init__(urls, params, backend)
        factory = self.connection_factory
        options = factory.make_connection_params(urls[0])
        options.pop("url", None)
        options.pop("parser_class", None)
        options.update(factory.pool_cls_kwargs)
        pool_class = self._options.get("CONNECTION_POOL_CLASS")
        if pool_class is not None:
            options.setdefault("connection_pool_class", factory.pool_cls)
        self._cluster = _SharedCluster(urls, options)

    def get_client(
        self, write: bool = True, tried: list[int] | None = None, show_index: bool = False
    ) -> RedisCluster | tuple[RedisCluster, int]:
        """The one cluster client, for reads and writes alike (with its index,
        0, when ``show_index`` asks for it, as django-redis before 6 does)."""
        client = self._cluster.get()
        return (client, 0) if show_index else client

    def get_client_with_index(
        self, write: bool = True, tried: list[int] | None = None
    ) -> tuple[RedisCluster, int]:
        return self._cluster.get(), 0

    def connect(self, index: int = 0) -> RedisCluster:
        return self._cluster.get()

    def disconnect(self, index: int = 0, client: Any = None) -> None:
        """Close the cluster's connections, which reopen on the next command
        (django-redis calls this after every request when ``CLOSE_CONNECTION``
        is set)."""
        self._cluster.disconnect()

    def get_many(
        self, keys: Iterable[Any], version: int | None = None, client: Any = None
    ) -> dict[Any, Any]:
        """One ``MGET`` per slot (pipelined per master): not atomic across slots."""
        keys = list(keys)
        if not keys:
            return {}
        if client is None:
            client = self._cluster.get()
        originals = {self.make_key(key, version=version): key for key in keys}
        try:
            values = client.mget_nonatomic(list(originals))
        except _DJANGO_REDIS_ERRORS as exc:
            from django_redis.exceptions import ConnectionInterrupted

            raise ConnectionInterrupted(connection=client) from exc
        return {
            originals[key]: self.decode(value)
            for key, value in zip(originals, values, strict=True)
            if value is not None
        }

    def keys(self, search: str, version: int | None = None, client: Any = None) -> list[Any]:
        """``KEYS`` on every master (redis-py sends it to one node only)."""
        if client is None:
            client = self._cluster.get()
        pattern = self.make_pattern(search, version=version)
        try:
            found = client.keys(pattern, target_nodes=RedisCluster.PRIMARIES)
        except _DJANGO_REDIS_ERRORS as exc:
            from django_redis.exceptions import ConnectionInterrupted

            raise ConnectionInterrupted(connection=client) from exc
        return [self.reverse_key(k.decode() if isinstance(k, bytes) else k) for k in found]
