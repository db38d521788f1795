"""DRF's own throttles and the drop-ins, side by side on the same traffic.

Hypothesis draws a sequence of requests (which client, how much later) and
both implementations see it: DRF's real ``SimpleRateThrottle`` subclasses,
counting in the cache their own way, and ours on their defaults, counting on
each backend. Every throttle must decide the same and, when it refuses, give
the same ``wait()``, to the last bit. Times are multiples of 1/64 s, which
floating point and microseconds both hold exactly, so equality is exact.

DRF's throttles are run one request at a time (their read-modify-write is
only racy under concurrency, which the load tests cover).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache as default_cache
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework import throttling as drf
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from drf_ratelimit import throttles as ours
from drf_ratelimit._engine import DECLARED
from tests.conftest import Backend, skip_token_bucket_on_pylibmc

factory = APIRequestFactory()

#: The time every throttle of both kinds reads (seconds).
NOW = [0.0]


def _timer(self: Any) -> float:
    return NOW[0]


def pair(base: str, scope: str, rate: str) -> tuple[type[Any], type[Any]]:
    """DRF's class and ours, alike but for where they come from."""
    attrs = {"scope": scope, "rate": rate, "timer": _timer, "__module__": __name__}
    name = f"{base}{scope.title()}"
    return (
        type(f"Drf{name}", (getattr(drf, base),), dict(attrs)),
        type(f"Our{name}", (getattr(ours, base),), dict(attrs)),
    )


@pytest.fixture(autouse=True)
def _declarations() -> Iterator[None]:
    saved = list(DECLARED)
    yield
    DECLARED[:] = saved


#: Views by the throttles they have: one rate, and burst plus sustained on one view.
SCENARIOS = {
    "3/sec": [pair("AnonRateThrottle", "persec", "3/sec")],
    "3/min": [pair("UserRateThrottle", "perminute", "3/min")],
    "1/min": [pair("AnonRateThrottle", "oneperminute", "1/min")],
    "burst+sustained": [
        pair("UserRateThrottle", "burst", "2/sec"),
        pair("UserRateThrottle", "sustained", "5/min"),
    ],
}

CLIENTS = ["10.0.0.1", "10.0.0.2", "2001:db8::7"]

#: Gaps between requests, in 64ths of a second: bursts, exactly the periods
#: (where DRF's ``<=`` matters), steps near them, and jumps.
gaps = st.one_of(
    st.just(0),
    st.sampled_from([64, 64 * 60]),
    st.integers(1, 64),
    st.sampled_from([32, 64 * 20, 64 * 59, 64 * 61]),
    st.integers(1, 64 * 90),
)
steps = st.lists(st.tuples(st.integers(0, len(CLIENTS) - 1), gaps), min_size=1, max_size=40)


def decide(throttle_classes: list[type[Any]], client: str) -> list[tuple[bool, float | None]]:
    """What DRF's ``check_throttles`` asks of each throttle: allowed, and the
    wait of each that refused."""
    request = Request(factory.get("/", REMOTE_ADDR=client))
    view = APIView()
    decisions = []
    for throttle_class in throttle_classes:
        throttle = throttle_class()
        allowed = throttle.allow_request(request, view)
        decisions.append((allowed, None if allowed else throttle.wait()))
    return decisions


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_drop_ins_decide_and_wait_like_drfs_own(
    request: pytest.FixtureRequest, backend: Backend, scenario: str
) -> None:
    skip_token_bucket_on_pylibmc(request, always=True)  # the sliding log needs compare-and-swap
    classes = SCENARIOS[scenario]
    drf_classes = [drf_class for drf_class, _ in classes]
    our_classes = [our_class for _, our_class in classes]

    @hypothesis_settings(max_examples=40, deadline=None, database=None)
    @given(sequence=steps, start=st.integers(0, 64 * 3600))
    def run(sequence: list[tuple[int, int]], start: int) -> None:
        default_cache.clear()
        backend.cache.clear()
        NOW[0] = 1_700_000_000 + start / 64
        for position, (client, gap) in enumerate(sequence):
            NOW[0] += gap / 64
            address = CLIENTS[client]
            theirs = decide(drf_classes, address)
            mine = decide(our_classes, address)
            assert mine == theirs, (position, NOW[0], address)

    run()


def test_the_comparison_can_fail(backend: Backend, request: pytest.FixtureRequest) -> None:
    """The control: a throttle that differs from DRF's by one request is caught."""
    skip_token_bucket_on_pylibmc(request, always=True)
    default_cache.clear()
    drf_class, _ = SCENARIOS["3/min"][0]
    _, looser = pair("UserRateThrottle", "looser", "4/min")
    NOW[0] = 1_700_000_000.0
    outcomes = [(decide([drf_class], "10.9.9.9"), decide([looser], "10.9.9.9")) for _ in range(4)]
    assert any(theirs != mine for theirs, mine in outcomes)
