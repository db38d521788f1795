"""System checks: say at start-up what a backend cannot promise.

=====================  =======  ==============================================
id                     level    condition
=====================  =======  ==============================================
drf_ratelimit.E001     Error    CACHES is not defined
drf_ratelimit.E002     Error    RATELIMIT_USE_CACHE is not an alias in CACHES
drf_ratelimit.E003     Error    the ratelimit cache is a DummyCache (never limits)
drf_ratelimit.E004     Error    the cache cannot increment atomically (db, file)
drf_ratelimit.E005     Error    a configured rate or key does not parse
drf_ratelimit.E006     Error    a DEFAULT_THROTTLE_RATES entry does not parse
drf_ratelimit.E007     Error    RATELIMIT_ALGORITHM or RATELIMIT_COUNT_DENIED
                                is not a valid value
drf_ratelimit.E008     Error    an algorithm in use cannot run atomically on
                                the ratelimit cache (the token bucket and the
                                sliding log need Redis, PyMemcacheCache or
                                local memory)
drf_ratelimit.E009     Error    another RATELIMIT_* setting does not parse
                                (a mask, the prefix, the proxies...)
drf_ratelimit.E010     Error    on a Redis Cluster or a sharded client, the
                                cache's KEY_FUNCTION loses the hash tag that
                                keeps the keys of one check on one server
drf_ratelimit.W001     Warning  LocMemCache: each process counts on its own
drf_ratelimit.W002     Warning  an unknown backend: atomicity not verified
drf_ratelimit.W003     Warning  DEFAULT_THROTTLE_CLASSES holds DRF's own
                                (non-atomic) rate throttles
drf_ratelimit.W004     Warning  a throttle keeps a sliding log with a limit
                                above 1,000 (memory per client grows with it)
drf_ratelimit.W005     Warning  on a Redis Cluster, a brace in KEY_PREFIX or
                                KEY_FUNCTION puts every client in one slot
=====================  =======  ==============================================
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache import InvalidCacheBackendError, caches
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from drf_ratelimit import conf
from drf_ratelimit._algorithms import SLIDING_LOG, algorithm_named
from drf_ratelimit._algorithms.base import KeyScope
from drf_ratelimit._algorithms.sliding_log import LOG_BYTES_PER_ENTRY, LOG_WARN_LIMIT
from drf_ratelimit._engine import ANY_SCOPE, DECLARED
from drf_ratelimit._request.keys import key_function
from drf_ratelimit._spec.rates import Rate, is_dotted_path, parse_rates
from drf_ratelimit._storage import Store, store_for

_HINT_BACKEND = "Use Redis (django-redis or Django's RedisCache) or memcached."


@register(Tags.caches, "drf_ratelimit")
def check_cache(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    caches_setting = getattr(settings, "CACHES", None)
    if not caches_setting:
        return [
            Error(
                "CACHES is not defined; drf_ratelimit cannot count requests.",
                hint=_HINT_BACKEND,
                id="drf_ratelimit.E001",
            )
        ]
    alias = conf.get("RATELIMIT_USE_CACHE")
    if not isinstance(alias, str) or alias not in caches_setting:
        return [
            Error(
                f"RATELIMIT_USE_CACHE={alias!r} is not an alias in CACHES.",
                hint=f"Use one of: {', '.join(map(repr, caches_setting))}.",
                id="drf_ratelimit.E002",
            )
        ]
    return _check_backend(alias, caches_setting[alias].get("BACKEND", ""))


def _check_backend(alias: str, backend: str) -> list[CheckMessage]:
    backend_class = _backend_class(backend)
    if backend_class is None:
        return []
    name = f"Cache {alias!r} ({backend})"
    if issubclass(backend_class, DummyCache):
        return [
            Error(
                f"{name} is a dummy cache: nothing would ever be limited.",
                hint=_HINT_BACKEND,
                id="drf_ratelimit.E003",
            )
        ]
    if issubclass(backend_class, DatabaseCache | FileBasedCache):
        return [
            Error(
                f"{name} cannot increment atomically: concurrent requests would be undercounted.",
                hint=_HINT_BACKEND,
                id="drf_ratelimit.E004",
            )
        ]
    if issubclass(backend_class, LocMemCache):
        return [
            Warning(
                f"{name} is local memory: each process counts on its own, so "
                "N worker processes allow up to N times the limit.",
                hint=_HINT_BACKEND + " Fine for development and a single process.",
                id="drf_ratelimit.W001",
            )
        ]
    if not _known_atomic(backend_class):
        return [
            Warning(
                f"{name} is not a backend drf_ratelimit knows to be atomic; "
                "it will use cache.add and cache.incr.",
                hint=_HINT_BACKEND,
                id="drf_ratelimit.W002",
            )
        ]
    return []


def _backend_class(backend: str) -> type | None:
    try:
        return import_string(backend)  # type: ignore[no-any-return]
    except ImportError:
        return None  # Django's own cache checks report an unimportable BACKEND


def _known_atomic(backend_class: type) -> bool:
    from django.core.cache.backends.memcached import BaseMemcachedCache
    from django.core.cache.backends.redis import RedisCache

    known: tuple[type, ...] = (BaseMemcachedCache, RedisCache)
    try:
        from django_redis.cache import RedisCache as DjangoRedisCache

        known += (DjangoRedisCache,)
    except ImportError:
        pass
    return issubclass(backend_class, known)


@register("drf_ratelimit")
def check_declared_limits(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Parse every declared literal rate and key once (E005)."""
    errors: list[CheckMessage] = []
    for declaration in DECLARED:
        problem = _problem(declaration.key, declaration.rate)
        if problem:
            errors.append(Error(f"{declaration.where}: {problem}", id="drf_ratelimit.E005"))
    return errors


def _problem(key: Any, rate: Any) -> str | None:
    try:
        if isinstance(rate, str) and is_dotted_path(rate):
            conf.resolve(rate, "rate")
        elif not callable(rate):
            parse_rates(rate)
        if key:
            key_function(key)
            if isinstance(key, str) and is_dotted_path(key):
                conf.resolve(key, "key")
    except ImproperlyConfigured as exc:
        return str(exc)
    return None


@register("drf_ratelimit")
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every other ``RATELIMIT_*`` setting parses (E009): the same parsers the
    settings snapshot uses, so a request would raise the same message."""
    checked_elsewhere = {"cache_alias", "algorithm", "count_denied", "throttle_rates"}
    return [
        Error(problem, id="drf_ratelimit.E009")
        for field in conf.FIELDS
        if field not in checked_elsewhere and (problem := conf.problem(field))
    ]


@register(Tags.caches, "drf_ratelimit")
def check_algorithms(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Refuse at start-up an algorithm the cache cannot run atomically (E007, E008).

    Never silently race: a declared limit whose algorithm the cache's adapter
    cannot run is an error here, and an ImproperlyConfigured at request time.
    """
    invalid = [p for p in (conf.problem("algorithm"), conf.problem("count_denied")) if p]
    if invalid:
        return [Error(problem, id="drf_ratelimit.E007") for problem in invalid]
    store = _store()
    if store is None:
        return []  # no usable cache: check_cache reports why
    return [
        Error(
            f"{where}: the {name!r} algorithm cannot run atomically on "
            f"RATELIMIT_USE_CACHE={conf.get('RATELIMIT_USE_CACHE')!r}.",
            hint=(
                "The token bucket and the sliding log (the DRF drop-ins' default) need "
                "Redis, PyMemcacheCache or local memory; set RATELIMIT_ALGORITHM or the "
                "throttle's algorithm to 'sliding-window' on this cache."
            ),
            id="drf_ratelimit.E008",
        )
        for where, name in _algorithms_in_use()
        if not store.accepts(algorithm_named(name, aligned_windows=False))
    ]


class InUse(NamedTuple):
    """One limit the checks can see at start-up, with the algorithm it runs."""

    where: str
    algorithm: str
    rate: Any
    #: Its ``DEFAULT_THROTTLE_RATES`` entry when it has no rate (``ANY_SCOPE``: the view's).
    scope: str | None


def _limits_in_use() -> list[InUse]:
    """Every declared limit, and every throttle of the package named in
    ``DEFAULT_THROTTLE_CLASSES`` (a project's subclasses are declared; the
    package's own classes are not), each with its algorithm resolved."""
    project_default = conf.get("RATELIMIT_ALGORITHM")
    found = [
        InUse(d.where, d.algorithm or project_default or d.default_algorithm, d.rate, d.scope)
        for d in DECLARED
    ]
    for path in conf.drf_setting("DEFAULT_THROTTLE_CLASSES") or ():
        try:
            throttle = import_string(path) if isinstance(path, str) else path
        except ImportError:
            continue  # DRF itself reports an unimportable throttle class
        ours = getattr(throttle, "__module__", "") == "drf_ratelimit.throttles"
        if not (ours and hasattr(throttle, "default_algorithm")):
            continue
        algorithm = throttle.algorithm or project_default or throttle.default_algorithm
        where = f"DEFAULT_THROTTLE_CLASSES: {throttle.__name__}"
        found.append(InUse(where, algorithm, throttle.rate, throttle._declared_scope()))
    return found


def _algorithms_in_use() -> list[tuple[str, str]]:
    """(where, algorithm name) for every limit in use, and the project default."""
    in_use = [(limit.where, limit.algorithm) for limit in _limits_in_use()]
    project_default = conf.get("RATELIMIT_ALGORITHM")
    if project_default is not None:
        in_use.append(("RATELIMIT_ALGORITHM", project_default))
    return in_use


@register("drf_ratelimit")
def check_log_memory(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Point at sliding logs whose memory per client matters (W004).

    The log keeps one entry per admitted request of the period, as DRF's
    does: a few bytes each, so 1,000 per period is kilobytes per client.
    """
    if conf.problem("algorithm") or conf.problem("throttle_rates"):
        return []  # E007 / E006 say why
    return [
        Warning(
            f"{where}: the sliding log keeps one entry per admitted request, so "
            f"{rate} costs up to {rate.limit:,} entries (about "
            f"{rate.limit * LOG_BYTES_PER_ENTRY // 1000:,} kB) per client.",
            hint=(
                "Set algorithm = 'sliding-window' on the throttle (or RATELIMIT_ALGORITHM) "
                "for memory that does not grow with the limit."
            ),
            id="drf_ratelimit.W004",
        )
        for where, rate in _logged_rates()
        if rate.limit > LOG_WARN_LIMIT
    ]


def _logged_rates() -> list[tuple[str, Rate]]:
    """(where, rate) for every rate a sliding log keeps that can be known at start-up."""
    throttle_rates = conf.drf_setting("DEFAULT_THROTTLE_RATES", {})
    found: dict[tuple[str, Rate], None] = {}
    for where, algorithm, rate, scope in _limits_in_use():
        if algorithm != SLIDING_LOG.name:
            continue
        sources: list[tuple[str, Any]] = []
        if rate is not None:
            sources.append((where, rate))
        elif scope == ANY_SCOPE:
            sources += [(conf.throttle_rate_setting(s), r) for s, r in throttle_rates.items()]
        elif scope in throttle_rates:
            sources.append((conf.throttle_rate_setting(scope), throttle_rates[scope]))
        for where, rate in sources:
            found.update(dict.fromkeys((where, parsed) for parsed in _parsed_or_nothing(rate)))
    return list(found)


def _parsed_or_nothing(rate: Any) -> tuple[Rate, ...]:
    """A literal rate's parts; nothing for a callable or a rate E005/E006 reports."""
    if callable(rate) or (isinstance(rate, str) and is_dotted_path(rate)):
        return ()
    try:
        return parse_rates(rate)
    except ImproperlyConfigured:
        return ()


def _store() -> Store | None:
    try:
        return store_for(caches[conf.get("RATELIMIT_USE_CACHE")])
    except (InvalidCacheBackendError, ImproperlyConfigured, ImportError, TypeError):
        return None


@register("drf_ratelimit")
def check_throttle_rates(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Parse every ``DEFAULT_THROTTLE_RATES`` entry now, not on the first request (E006)."""
    problem = conf.problem("throttle_rates")
    if problem:
        return [Error(problem, id="drf_ratelimit.E006")]
    errors: list[CheckMessage] = []
    for scope, rate in conf.drf_setting("DEFAULT_THROTTLE_RATES", {}).items():
        try:
            parse_rates(rate, source=conf.throttle_rate_setting(scope))
        except ImproperlyConfigured as exc:
            errors.append(Error(str(exc), id="drf_ratelimit.E006"))
    return errors


@register("drf_ratelimit")
def check_default_throttles(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Point at DRF's own rate throttles in ``DEFAULT_THROTTLE_CLASSES`` (W003).

    They read, change and write back a history list, so concurrent requests
    are undercounted. Recognised by their class's MRO, without importing DRF.
    """
    warnings: list[CheckMessage] = []
    for path in conf.drf_setting("DEFAULT_THROTTLE_CLASSES") or ():
        try:
            throttle = import_string(path) if isinstance(path, str) else path
        except ImportError:
            continue  # DRF itself reports an unimportable throttle class
        if _is_drf_rate_throttle(throttle):
            name = getattr(throttle, "__name__", str(throttle))
            warnings.append(
                Warning(
                    f"DEFAULT_THROTTLE_CLASSES holds DRF's {name}, which counts "
                    "non-atomically: concurrent requests are undercounted.",
                    hint=f"Use drf_ratelimit.throttles.{name} (or RatelimitThrottle) instead.",
                    id="drf_ratelimit.W003",
                )
            )
    return warnings


def _is_drf_rate_throttle(throttle: Any) -> bool:
    return any(
        (cls.__module__, cls.__name__) == ("rest_framework.throttling", "SimpleRateThrottle")
        for cls in getattr(throttle, "__mro__", ())
    )


@register(Tags.caches, "drf_ratelimit")
def check_hash_tags(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The keys of one check must keep their ``{client}`` hash tag on a Redis
    Cluster or django-redis's ShardClient (E010, W005).

    The tag is what puts every key of a check on one server, where one script
    reaches them all; the cache's ``KEY_PREFIX`` and ``KEY_FUNCTION`` wrap
    every key, and can hide or replace it.
    """
    try:
        cache = caches[conf.get("RATELIMIT_USE_CACHE")]
    except (InvalidCacheBackendError, ImproperlyConfigured, ImportError, TypeError):
        return []  # check_cache reports why
    rule = _hash_tag_rule(cache)
    if rule is None:
        return []
    scope = KeyScope(conf.get("RATELIMIT_CACHE_PREFIX"), hashlib.sha256, "check")
    ours = scope.client_tag("client")
    sample = cache.make_key(ours + "sl60s")
    tag = rule(sample)
    digest = ours[ours.index("{") + 1 : -1]
    alias = conf.get("RATELIMIT_USE_CACHE")
    if tag == digest:
        return []
    if tag is None or digest not in sample:
        return [
            Error(
                f"Cache {alias!r}: its KEY_FUNCTION turns {ours + 'sl60s'!r} into "
                f"{sample!r}, which has lost the hash tag {{{digest}}}: the keys of one "
                "check would be spread over servers, and checks of several rates fail.",
                hint="Keep the key (and its braces) whole in KEY_FUNCTION, e.g. prefix it.",
                id="drf_ratelimit.E010",
            )
        ]
    return [
        Warning(
            f"Cache {alias!r}: {sample!r} hashes on {{{tag}}}, not on the client's tag, "
            "so every client's keys are in one slot of the cluster (one server does "
            "all the counting).",
            hint="Take the braces out of KEY_PREFIX (or KEY_FUNCTION).",
            id="drf_ratelimit.W005",
        )
    ]


def _hash_tag_rule(cache: Any) -> Any:
    """How the cache's client finds a key's hash tag, when it spreads keys over
    servers by it; None for a single server."""
    store = _store()
    if getattr(store, "shard_of", None) is not None:
        return _shard_client_tag
    try:
        from drf_ratelimit.cluster import RedisClusterCache, RedisClusterClient
    except ImportError:  # redis-py is not installed
        return None
    client = getattr(cache, "client", None)  # django-redis's (built, not connected)
    if isinstance(cache, RedisClusterCache) or isinstance(client, RedisClusterClient):
        return _cluster_tag
    return None


def _cluster_tag(key: str) -> str | None:
    """Redis Cluster's rule: between the first ``{`` and the next ``}``, if not empty."""
    start = key.find("{")
    end = key.find("}", start + 1) if start != -1 else -1
    return key[start + 1 : end] if end > start + 1 else None


def _shard_client_tag(key: str) -> str | None:
    """django-redis ShardClient's rule: the last braces' content."""
    match = re.match(r".*\{(.*)\}.*", key)
    return match.group(1) if match else None
