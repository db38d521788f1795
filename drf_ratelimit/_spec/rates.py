"""The rate grammar: pure parsing, no Django settings, no I/O.

Accepted forms (a strict superset of DRF's and a strict subset of what
django-ratelimit silently accepted):

* ``"N/u"`` and ``"N/Mu"`` with ``u`` one of ``s m h d`` or DRF's words
  (``sec``, ``second``, ``min``, ``minute``, ``hour``, ``hr``, ``day``, plurals);
* ``"N/M"`` (``M`` seconds, as in django-ratelimit);
* a ``(count, seconds)`` tuple, or a :class:`Rate`;
* ``None``: no limit;
* for the throttles, a list of any of these, all enforced (a burst and a
  sustained rate): see :func:`parse_rates`.

Anything else is an :class:`~drf_ratelimit.exceptions.InvalidRate` quoting the
value, never a silent "per second" or an ``AttributeError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from drf_ratelimit.exceptions import InvalidRate

_UNIT_WORDS: dict[int, tuple[str, ...]] = {
    1: ("s", "sec", "secs", "second", "seconds"),
    60: ("m", "min", "mins", "minute", "minutes"),
    3600: ("h", "hr", "hrs", "hour", "hours"),
    86400: ("d", "day", "days"),
}
UNIT_SECONDS: dict[str, int] = {
    word: seconds for seconds, words in _UNIT_WORDS.items() for word in words
}
_RATE_RE = re.compile(r"(?P<count>[0-9]+)/(?P<multiplier>[0-9]*)(?P<unit>[a-z]*)")
_DOTTED_PATH_RE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")


@dataclass(frozen=True, order=True)
class Rate:
    """``limit`` requests per ``period`` seconds."""

    limit: int
    period: int

    def __post_init__(self) -> None:
        if self.period <= 0:
            raise InvalidRate(f"Ratelimit period must be greater than 0, got {self.period!r}")
        if self.limit < 0:
            raise InvalidRate(f"Ratelimit count must not be negative, got {self.limit!r}")

    def __str__(self) -> str:
        """The normalised form django-ratelimit hashes into its cache keys."""
        return f"{self.limit}/{self.period}s"


def is_dotted_path(value: str) -> bool:
    """A string naming an importable callable, such as ``myapp.rates.by_plan``."""
    return _DOTTED_PATH_RE.fullmatch(value) is not None


def parse_rate(value: object, *, source: str = "rate") -> Rate | None:
    """Turn a rate in any accepted literal form into a :class:`Rate` (or ``None``).

    ``source`` names where the value came from (a setting, an argument) so the
    error tells the user what to fix.
    """
    if value is None or isinstance(value, Rate):
        return value
    if isinstance(value, tuple):
        return _parse_tuple(value, source)
    if isinstance(value, str):
        return _parse_string(value, source)
    raise InvalidRate(
        f"{source}={value!r} is not a rate: use a string such as '100/15m', "
        "a (count, seconds) tuple, None, or a callable"
    )


def parse_rates(value: object, *, source: str = "rate") -> tuple[Rate, ...]:
    """Every rate in ``value``: one rate in any form of :func:`parse_rate`, or a list.

    A list (or a tuple that is not a ``(count, seconds)`` pair of integers)
    holds several rates; ``None`` entries are skipped, so ``None`` or ``[]``
    means no limit at all.
    """
    if isinstance(value, list) or (isinstance(value, tuple) and not _looks_like_pair(value)):
        found = (parse_rate(item, source=f"{source}[{i}]") for i, item in enumerate(value))
        return tuple(rate for rate in found if rate is not None)
    rate = parse_rate(value, source=source)
    return () if rate is None else (rate,)


def _looks_like_pair(value: tuple[object, ...]) -> bool:
    """``(10, 60)``, or a malformed pair such as ``(10, 'm')`` to be reported as one."""
    return len(value) == 2 and type(value[0]) is int


def _is_pair(value: tuple[object, ...]) -> bool:
    return len(value) == 2 and all(type(part) is int for part in value)


def _parse_tuple(value: tuple[object, ...], source: str) -> Rate:
    if not _is_pair(value):
        raise InvalidRate(f"{source}={value!r} is not a (count, seconds) tuple of two integers")
    count, seconds = value
    assert isinstance(count, int) and isinstance(seconds, int)
    return _make(count, seconds, value, source)


@lru_cache(maxsize=512)
def _parse_string(value: str, source: str) -> Rate:
    """Pure, so each distinct string is parsed once; errors are never cached."""
    match = _RATE_RE.fullmatch(value)
    if match is None:
        raise InvalidRate(
            f"{source}={value!r} is not a rate: expected 'count/period' such as "
            "'5/m', '100/15m', '1000/day' or '10/30s' (units s, m, h, d, lower case)"
        )
    unit = match["unit"]
    if unit and unit not in UNIT_SECONDS:
        raise InvalidRate(
            f"{source}={value!r} has an unknown unit {unit!r}: use one of s, m, h, d "
            "(or sec, min, minute, hour, day)"
        )
    if not unit and not match["multiplier"]:
        raise InvalidRate(f"{source}={value!r} has no period after '/': write e.g. '5/m'")
    try:
        multiplier = int(match["multiplier"]) if match["multiplier"] else 1
        count = int(match["count"])
    except ValueError:  # more digits than sys.get_int_max_str_digits() allows
        raise InvalidRate(f"{source}={value!r} has a number too large to be a rate") from None
    return _make(count, multiplier * UNIT_SECONDS.get(unit, 1), value, source)


def _make(count: int, seconds: int, original: object, source: str) -> Rate:
    try:
        return Rate(count, seconds)
    except InvalidRate as exc:
        raise InvalidRate(f"{source}={original!r}: {exc}") from None
