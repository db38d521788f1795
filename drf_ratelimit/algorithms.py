"""The names of the counting algorithms, and the rule for a request's cost. Pure.

=================  ===============================================  ==========================
name               what it stores per client and rate               worst case in any period
=================  ===============================================  ==========================
``fixed-window``   one counter per window (django-ratelimit's)      2N (N either side of an edge)
``sliding-window`` the current and the previous window's counters   N + N*L/P in any span L <= P
``token-bucket``   one timestamp (GCRA's theoretical arrival time)  burst + N*L/P in any span L
=================  ===============================================  ==========================
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

from drf_ratelimit.rates import is_dotted_path

FIXED_WINDOW = "fixed-window"
SLIDING_WINDOW = "sliding-window"
TOKEN_BUCKET = "token-bucket"
ALGORITHMS = (FIXED_WINDOW, SLIDING_WINDOW, TOKEN_BUCKET)

#: Microseconds per second: the unit of every timestamp the algorithms store,
#: so Python and the Redis scripts compute with the same exact integers.
US = 1_000_000


def parse_algorithm(value: Any, source: str) -> str:
    """``value`` if it names an algorithm, else ImproperlyConfigured naming it and ``source``."""
    if value in ALGORITHMS:
        return str(value)
    choices = ", ".join(repr(name) for name in ALGORITHMS)
    raise ImproperlyConfigured(f"{source}={value!r} is not an algorithm; use one of {choices}")


def parse_cost(value: Any, source: str) -> int:
    """A request's cost: a non-negative int (0 only reads), named in the error otherwise."""
    if type(value) is not int or value < 0:
        raise ImproperlyConfigured(f"{source}={value!r} must be a non-negative integer")
    return value


def parse_burst(value: Any, source: str) -> int | None:
    """A token bucket's size: None (the rate's own limit) or a positive int."""
    if value is not None and (type(value) is not int or value < 1):
        raise ImproperlyConfigured(f"{source}={value!r} must be None or a positive integer")
    return value


def parse_count_denied(value: Any, source: str) -> bool | None:
    """None (the ``RATELIMIT_COUNT_DENIED`` default) or a bool."""
    if value is not None and not isinstance(value, bool):
        raise ImproperlyConfigured(f"{source}={value!r} must be None, True or False")
    return value


def parse_literal_cost(value: Any, source: str) -> Any:
    """A cost as declared: a callable or dotted path is checked per request."""
    if callable(value) or (isinstance(value, str) and is_dotted_path(value)):
        return value
    if isinstance(value, str):
        raise ImproperlyConfigured(
            f"{source}={value!r} must be an int, a callable or the dotted path of one"
        )
    return parse_cost(value, source)
