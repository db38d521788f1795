"""The counting algorithms, one module (and one Redis script) each, by name.

=================  ===============================================  ==========================
name               what it stores per client and rate               worst case in any period
=================  ===============================================  ==========================
``fixed-window``   one counter per window (django-ratelimit's)      2N (N either side of an edge)
``sliding-window`` the current and the previous window's counters   N + N*L/P in any span L <= P
``token-bucket``   one timestamp (GCRA's theoretical arrival time)  burst + N*L/P in any span L
``sliding-log``    the times of the last N admitted requests (DRF)  N (exact)
=================  ===============================================  ==========================

Names are resolved here once, when a declaration is compiled; everything
below works with the algorithm objects. The fixed window has two key
layouts: django-ratelimit's for the decorator and ``get_usage``, the
clock-aligned one for the throttles (see :mod:`.fixed_window`).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

from drf_ratelimit._algorithms.base import Algorithm
from drf_ratelimit._algorithms.fixed_window import ALIGNED_FIXED_WINDOW, FIXED_WINDOW
from drf_ratelimit._algorithms.sliding_log import SLIDING_LOG
from drf_ratelimit._algorithms.sliding_window import SLIDING_WINDOW
from drf_ratelimit._algorithms.token_bucket import TOKEN_BUCKET

_FOR_DECORATORS: dict[str, Algorithm] = {
    algorithm.name: algorithm
    for algorithm in (FIXED_WINDOW, SLIDING_WINDOW, TOKEN_BUCKET, SLIDING_LOG)
}
_FOR_THROTTLES: dict[str, Algorithm] = {**_FOR_DECORATORS, FIXED_WINDOW.name: ALIGNED_FIXED_WINDOW}

#: Every algorithm name, in the order the documentation lists them.
NAMES: tuple[str, ...] = tuple(_FOR_DECORATORS)


def parse_algorithm(value: Any, source: str) -> str:
    """``value`` if it names an algorithm, else ImproperlyConfigured naming it and ``source``."""
    if value in _FOR_DECORATORS:
        return str(value)
    choices = ", ".join(repr(name) for name in NAMES)
    raise ImproperlyConfigured(f"{source}={value!r} is not an algorithm; use one of {choices}")


def algorithm_named(name: str, *, aligned_windows: bool) -> Algorithm:
    """The algorithm called ``name`` (already parsed); ``aligned_windows`` picks
    the throttles' fixed-window layout."""
    return (_FOR_THROTTLES if aligned_windows else _FOR_DECORATORS)[name]


__all__ = [
    "ALIGNED_FIXED_WINDOW",
    "FIXED_WINDOW",
    "NAMES",
    "SLIDING_LOG",
    "SLIDING_WINDOW",
    "TOKEN_BUCKET",
    "Algorithm",
    "algorithm_named",
    "parse_algorithm",
]
