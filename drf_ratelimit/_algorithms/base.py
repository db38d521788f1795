"""What every algorithm provides, and what the algorithms share.

An algorithm is one object, defined in one module with its maths, its key
layout, its Redis script (a ``.lua`` file beside the module) and the way it
turns what it stored into a :class:`~drf_ratelimit.usage.Usage`. Stores run
it without knowing which one it is:

* every store with scripts (Redis) runs :attr:`Algorithm.script`;
* a store that can lock (local memory) runs :meth:`Algorithm.step` for every
  quota of a check under one lock;
* a store of atomic counters (memcached) runs the algorithm's own
  :meth:`CountingAlgorithm.count` over :class:`Counters`, when it has one;
* a store with compare-and-swap runs :meth:`Algorithm.step` key by key and
  :meth:`SwappingAlgorithm.refund` to give back a partial charge.

A check of several quotas is all-or-nothing: every quota admits the request
and each is charged, or (unless denied requests are charged) none is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, NamedTuple, Protocol

from drf_ratelimit._spec.rates import Rate
from drf_ratelimit.usage import Usage

#: Microseconds per second: the unit of every timestamp the algorithms store,
#: so Python and the Redis scripts compute with the same exact integers.
US = 1_000_000
#: Keys live this long past the moment they stop mattering, so that a late
#: write never finds its key gone (django-ratelimit's EXPIRATION_FUDGE).
GRACE_SECONDS = 5
GRACE_MS = GRACE_SECONDS * 1000
#: Client keys a declaration remembers (about 200 kB of strings at most).
MEMO_SIZE = 2048

HashFunction = Callable[[bytes], Any]


@dataclass(frozen=True)
class KeyScope:
    """Where one declaration keeps its state: the ``RATELIMIT_CACHE_PREFIX``,
    the hash function, and the group and methods that set its counters apart
    from every other declaration's."""

    prefix: str
    hasher: HashFunction
    group: str
    methods: str = ""
    #: Recent clients' tags and keys (pure functions of the value), so that a
    #: client seen lately costs no hash; bounded, so new values only evict.
    memo: dict[Any, str] = field(default_factory=dict, compare=False, repr=False)

    def remember(self, material: Any, key: str) -> str:
        memo = self.memo
        if len(memo) >= MEMO_SIZE:
            memo.clear()
        memo[material] = key
        return key

    def tag(self, value: str) -> str:
        """:meth:`client_tag`, remembered for the clients seen lately."""
        return self.memo.get(value) or self.remember(value, self.client_tag(value))

    def client_tag(self, value: str) -> str:
        """``prefix{digest}``: the start of every key of one client of this scope.

        One hash per check, whatever the number of rates. The key value is
        hashed with the group and methods, so no client-sent text reaches the
        cache, and the braces make it a Redis Cluster hash tag: every key of
        one check lands in one slot, where one script can reach them all. The
        digest is cut to 128 bits (32 hex digits): short keys cost less to
        send and to place (pymemcache hashes every key in Python to pick its
        server), and finding two values with the same 128 bits is out of reach.
        """
        material = f"{self.group}\0{self.methods}\0{value}"
        digest = self.hasher(material.encode("utf-8", "backslashreplace")).hexdigest()
        return f"{self.prefix}{{{digest[:32]}}}"


def tagged_keys(
    algorithm: Algorithm, quotas: Sequence[Quota], scope: KeyScope, value: str, now: float
) -> list[str]:
    """``prefix{client}`` then each quota's tag: the layout of every state key
    (an algorithm's ``keys``)."""
    tag = scope.tag(value)
    if len(quotas) == 1:  # most declarations have one rate: no comprehension
        return [tag + quotas[0].tag]
    return [tag + quota.tag for quota in quotas]


@dataclass(frozen=True)
class Quota:
    """One rate as an algorithm counts it, computed once per declaration.

    ``limit`` is what the stored state may reach (for the token bucket the
    burst); ``tag`` tells this quota's keys apart from the other rates' of the
    same client (it holds the algorithm and the rate).
    """

    rate: Rate
    limit: int
    tag: str
    #: Fixed window: seconds a window key is kept.
    timeout: int = 0
    #: Token bucket: the emission interval in microseconds.
    interval_us: int = 0
    #: The rate's period, in seconds and microseconds, and as keys spell it.
    period: int = field(init=False)
    period_us: int = field(init=False)
    text: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "period", self.rate.period)
        object.__setattr__(self, "period_us", self.rate.period * US)
        object.__setattr__(self, "text", str(self.rate))


class Outcome(NamedTuple):
    """How a store decided one check.

    ``found`` holds, per quota, the state as the request found it, in the
    algorithm's own terms; or, when ``raw``, the state part of a script's
    reply, which :meth:`Algorithm.found` reads if anyone asks (an allowed
    request without headers never does). ``now_us`` is the time the decision
    was made at.
    """

    allowed: bool
    counted: bool
    now_us: int
    found: Sequence[Any]
    raw: bool = False


class Charge(NamedTuple):
    """What one check asks of a store: the key of each quota, the cost (0 only
    reads), whether a denied request is charged too, and the time to decide
    at in microseconds (None: the store's own clock, if it has one)."""

    keys: Sequence[str]
    cost: int
    count_denied: bool
    now_us: int | None


class Decision(NamedTuple):
    """What a quota's usage is read from, besides the state the request found:
    its cost, whether it was charged, when it was decided (microseconds, the
    deciding clock), the app's clock (seconds) and the client's key value."""

    cost: int
    counted: bool
    now_us: int
    now: float
    value: str


class Step(NamedTuple):
    """One quota's share of a decision, from the state stored under its key."""

    found: Any
    allowed: bool
    #: The value to store when the request is charged, and for how long (ms).
    charged: Any
    ttl_ms: int


class Script:
    """A Lua script that ships beside its algorithm's module, loaded once.

    ``clock``: the script decides with timestamps, so ``clock.lua`` (which
    sets ``now``) comes first.
    """

    def __init__(self, package: str, name: str, *, clock: bool = False, **constants: int) -> None:
        files = resources.files(package)
        source = files.joinpath(name).read_text("utf-8")
        if clock:
            source = files.joinpath("clock.lua").read_text("utf-8") + source
        for constant, value in constants.items():
            source = source.replace(constant, str(value))
        self.name = name
        self.source = source.encode()
        self.sha = hashlib.sha1(self.source).hexdigest()


class Algorithm(Protocol):
    """The contract every algorithm keeps (see the module docstring)."""

    #: The name ``RATELIMIT_ALGORITHM`` and the ``algorithm`` options use.
    name: str
    script: Script
    #: False when the time is part of the key (fixed window): the script then
    #: needs no clock; True when decisions compare timestamps.
    uses_clock: bool

    def quota(self, rate: Rate, burst: int | None) -> Quota:
        """The compiled form of one rate."""

    def script_args(self, quota: Quota) -> tuple[int, ...]:
        """What the script needs of one quota, after the shared arguments."""

    def keys(self, quotas: Sequence[Quota], scope: KeyScope, value: str, now: float) -> list[str]:
        """The key of each quota's state for this client now."""

    def reset_keys(
        self, quotas: Sequence[Quota], scope: KeyScope, value: str, now: float
    ) -> list[str]:
        """Every key this client's state may be under now, on any store."""

    def found(self, values: Sequence[int]) -> list[Any]:
        """The per-quota states in a script's reply."""

    def step(self, quota: Quota, stored: Any, cost: int, now_us: int) -> Step:
        """Decide one quota from its stored state (None when there is none)."""

    def usage(self, quota: Quota, found: Any, decision: Decision) -> Usage:
        """What one quota reports after a decision. A denied quota shows the
        count it would have reached; ``retry_after`` is for the next request of
        the same cost (at least 1, so a peek says when a counted one passes)."""


class Counters(Protocol):
    """Atomic counters (memcached ``incr``): what a counting algorithm runs on."""

    def add(self, keys: Sequence[str], delta: int, timeouts: Sequence[int]) -> list[int]:
        """Add ``delta`` to each key (a new key is created to expire after its
        timeout, in seconds), answering the new values; 0 only reads."""

    def give_back(self, keys: Sequence[str], delta: int) -> None:
        """Take back what :meth:`add` gave; a key that has gone has nothing to give back."""

    def read_closed(self, key: str, closed: bool) -> int:
        """The value of a key that no longer changes once ``closed``: read once
        and remembered from then on (a window that has ended)."""


class CountingAlgorithm(Algorithm, Protocol):
    """An algorithm that can run on atomic counters alone."""

    def count(self, counters: Counters, quotas: Sequence[Quota], charge: Charge) -> Outcome:
        """Decide and charge on counters (``charge.now_us`` is the app's time)."""


class SwappingAlgorithm(Algorithm, Protocol):
    """An algorithm that can run key by key with compare-and-swap."""

    def refund(self, quota: Quota, stored: Any, cost: int, now_us: int) -> tuple[Any, int] | None:
        """The state with a charge of ``cost`` given back and for how long (ms)
        to keep it; None when there is nothing to give back."""


def counting(algorithm: Algorithm) -> CountingAlgorithm | None:
    """``algorithm`` if it can run on atomic counters, else None. Asked of its
    methods, not with ``isinstance``: a runtime protocol check costs more than
    the rest of a check."""
    return algorithm if callable(getattr(algorithm, "count", None)) else None  # type: ignore[return-value]


def swapping(algorithm: Algorithm) -> SwappingAlgorithm | None:
    """``algorithm`` if it can run key by key with compare-and-swap, else None."""
    return algorithm if callable(getattr(algorithm, "refund", None)) else None  # type: ignore[return-value]


def ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)
