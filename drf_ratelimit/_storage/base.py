"""The storage seam: what the engine asks of a store, and how failures come back.

A :class:`Store` runs one check (the quotas of one declaration for one
client) atomically on one cache and answers an
:class:`~drf_ratelimit._algorithms.base.Outcome`. It is given the algorithm
object inside :class:`Quotas` and runs it the way its cache allows (a
script, a lock, counters, compare-and-swap; see :mod:`drf_ratelimit._algorithms`).

A failure of the cache client is raised as
:class:`~drf_ratelimit.exceptions.CounterUnavailable`, which the engine
resolves with ``RATELIMIT_FAIL_OPEN``. Only the client libraries' own
exception types are translated (and ``OSError``, which is what a socket
raises): anything else is a bug and surfaces as one, instead of being
mistaken for "the cache is down" and failing open.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from django.core.cache.backends.base import BaseCache, default_key_func

from drf_ratelimit._algorithms.base import Algorithm, Charge, Outcome, Quota
from drf_ratelimit._spec.rates import Rate
from drf_ratelimit.exceptions import CounterUnavailable


@dataclass(frozen=True)
class Quotas:
    """The rates of one declaration, compiled for its algorithm (once per plan).

    The same rate declared twice is one quota, counted once; ``order`` maps
    each declared rate to its quota (None when every rate is distinct; see
    :meth:`distinct`).
    """

    algorithm: Algorithm
    items: tuple[Quota, ...]
    #: What the algorithm's script needs of every quota, in order.
    script_args: tuple[int, ...]
    order: tuple[int, ...] | None = None

    @classmethod
    def compile(
        cls,
        algorithm: Algorithm,
        rates: Sequence[Rate],
        burst: int | None,
        order: tuple[int, ...] | None = None,
    ) -> Quotas:
        items = tuple(algorithm.quota(rate, burst) for rate in rates)
        args = tuple(arg for quota in items for arg in algorithm.script_args(quota))
        return cls(algorithm, items, args, order)

    @classmethod
    def distinct(cls, algorithm: Algorithm, rates: Sequence[Rate], burst: int | None) -> Quotas:
        """One quota per key: the same rate twice is one counter, and rates an
        algorithm keeps under one key (the sliding log's, per period) are one
        quota with the strictest limit."""
        compiled = [algorithm.quota(rate, burst) for rate in rates]
        by_tag: dict[str, Quota] = {}
        for quota in compiled:
            kept = by_tag.get(quota.tag)
            if kept is None or quota.limit < kept.limit:
                by_tag[quota.tag] = quota
        if len(by_tag) == len(compiled):
            return cls.compile(algorithm, rates, burst)
        tags = list(by_tag)
        order = tuple(tags.index(quota.tag) for quota in compiled)
        return cls.compile(algorithm, [quota.rate for quota in by_tag.values()], burst, order)

    @property
    def declared(self) -> int:
        """How many rates were declared (duplicates included)."""
        return len(self.items) if self.order is None else len(self.order)


class Store(Protocol):
    """Runs checks atomically on one cache."""

    #: A short name for log messages and errors.
    name: str
    #: True when the store reads a clock shared by all app servers (Redis ``TIME``).
    server_clock: bool

    def accepts(self, algorithm: Algorithm) -> bool:
        """Whether this store can run ``algorithm`` atomically."""

    def run(self, quotas: Quotas, charge: Charge) -> Outcome:
        """Decide, and charge the cost to every quota if all admit it (or always,
        when denied requests are charged); a cost of 0 only reads."""


def unavailable(backend: str, exc: BaseException) -> CounterUnavailable:
    """The error a store raises for a failure of its cache client."""
    return CounterUnavailable(f"{backend}: {type(exc).__name__}: {exc}")


def as_count(value: object, backend: str) -> int:
    """A counter value, or CounterUnavailable for anything else.

    pymemcache's HashClient answers False or None while it considers a server
    dead; django-redis with IGNORE_EXCEPTIONS answers None. Neither is a count.
    """
    if type(value) is not int:
        raise CounterUnavailable(f"{backend}: the cache answered {value!r} instead of a count")
    return value


def key_maker(cache: BaseCache) -> Callable[[str], str]:
    """The cache's own key function (``KEY_PREFIX``, ``VERSION``, ``KEY_FUNCTION``),
    without its per-key validation: our keys are a prefix and hex digests.
    With Django's default key function it is one concatenation."""
    if cache.key_func is not default_key_func:
        return cache.make_key
    return f"{cache.key_prefix}:{cache.version}:".__add__
