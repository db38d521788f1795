"""The counting engine: ``check(..., now=..., cache=...)`` and the two window layouts."""

from __future__ import annotations

import math
from typing import Any

import pytest
from django.core.cache import InvalidCacheBackendError, caches
from django.core.cache.backends.locmem import LocMemCache
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from drf_ratelimit._algorithms.fixed_window import decorator_reset_after, fixed_window_end
from drf_ratelimit._engine import Limit, check
from drf_ratelimit._spec.rates import Rate
from drf_ratelimit.clock import FakeClock
from drf_ratelimit.usage import FAIL_CLOSED
from tests.conftest import Backend

NOW = 1_700_000_000.5  # 20.5 s into a minute: the aligned minute resets in 39.5 s


FIVE_PER_MINUTE = Rate(5, 60)


def aligned(rate: Rate = FIVE_PER_MINUTE, value: str = "1.2.3.4", group: str = "g") -> Limit:
    return Limit(group, rate, value, aligned=True)


def test_aligned_limit_reports_reset_after_and_time_left(backend: Backend) -> None:
    (usage,) = check([aligned()], now=NOW, cache=backend.cache)
    assert usage.count == 1
    assert usage.limit == 5
    assert usage.period == 60
    assert usage.should_limit is False
    assert usage.reset_after == 39.5
    assert usage.time_left == 40 == math.ceil(usage.reset_after)


def test_aligned_limit_counts_within_the_window_and_resets_at_its_end(backend: Backend) -> None:
    limit = aligned(Rate(2, 60))
    counts = [check([limit], now=NOW + dt, cache=backend.cache)[0] for dt in (0, 10, 39)]  # type: ignore[index]
    assert [u.count for u in counts] == [1, 2, 3]
    assert [u.should_limit for u in counts] == [False, False, True]
    assert [u.reset_after for u in counts] == [39.5, 29.5, 0.5]
    assert [u.time_left for u in counts] == [40, 30, 1]

    (fresh,) = check([limit], now=NOW + 39.5, cache=backend.cache)  # type: ignore[misc]
    assert (fresh.count, fresh.reset_after, fresh.time_left) == (1, 60, 60)


def test_several_aligned_limits_in_one_call(backend: Backend) -> None:
    burst, sustained = aligned(Rate(1, 1)), aligned(Rate(100, 86400))
    usages = check([burst, sustained], now=NOW, cache=backend.cache)
    assert usages is not None
    assert [u.reset_after for u in usages] == [0.5, 86400 - (NOW % 86400)]
    assert [u.time_left for u in usages] == [1, math.ceil(86400 - NOW % 86400)]


def test_delta_zero_only_reads(backend: Backend) -> None:
    limit = aligned()
    check([limit], now=NOW, cache=backend.cache)
    (read,) = check([limit], 0, now=NOW, cache=backend.cache)  # type: ignore[misc]
    assert read.count == 1
    assert read.reset_after == 39.5
    (again,) = check([limit], now=NOW, cache=backend.cache)  # type: ignore[misc]
    assert again.count == 2


def test_exhausted_at_the_limit_limited_above_it() -> None:
    limit = aligned(Rate(2, 60))
    cache = caches["default"]
    first, second, third = (check([limit], now=NOW, cache=cache)[0] for _ in range(3))  # type: ignore[index]
    assert (first.exhausted, first.should_limit, first.remaining) == (False, False, 1)
    assert (second.exhausted, second.should_limit, second.remaining) == (True, False, 0)
    assert (third.exhausted, third.should_limit, third.remaining) == (True, True, 0)


def test_now_defaults_to_the_clock(clock: FakeClock) -> None:
    (usage,) = check([aligned()], cache=caches["default"])  # type: ignore[misc]
    assert usage.reset_after == 40.0  # 1_700_000_000 is 20 s into its minute
    clock.advance(15.25)
    (usage,) = check([aligned()], cache=caches["default"])  # type: ignore[misc]
    assert (usage.count, usage.reset_after, usage.time_left) == (2, 24.75, 25)


def test_cache_argument_is_used_instead_of_the_setting(settings: Any) -> None:
    """The given cache object is counted in; RATELIMIT_USE_CACHE is not read."""
    settings.RATELIMIT_USE_CACHE = "no-such-cache"
    own = LocMemCache("engine-test", {})
    (usage,) = check([aligned()], now=NOW, cache=own)  # type: ignore[misc]
    assert usage.count == 1
    (usage,) = check([aligned()], now=NOW, cache=own)  # type: ignore[misc]
    assert usage.count == 2
    with pytest.raises(InvalidCacheBackendError, match="no-such-cache"):
        check([aligned()], now=NOW)


def test_without_cache_argument_the_setting_is_used(backend: Backend) -> None:
    check([aligned()], now=NOW)
    (usage,) = check([aligned()], 0, now=NOW, cache=backend.cache)  # type: ignore[misc]
    assert usage.count == 1


def test_aligned_and_decorator_layouts_count_apart() -> None:
    cache = caches["default"]
    rate = Rate(5, 60)
    check([Limit("g", rate, "v", aligned=True)], now=NOW, cache=cache)
    (decorator,) = check([Limit("g", rate, "v")], now=NOW, cache=cache)  # type: ignore[misc]
    assert decorator.count == 1


def test_decorator_limit_reports_its_jittered_reset() -> None:
    """The decorator's window ends at ``fixed_window_end``; its ``time_left``
    stays django-ratelimit's ``end - int(now)`` while ``reset_after`` is exact."""
    limit = Limit("g", Rate(5, 60), "1.2.3.4")
    (usage,) = check([limit], now=NOW, cache=caches["default"])  # type: ignore[misc]
    end = fixed_window_end(NOW, 60, "1.2.3.4")
    assert end == 1_700_000_057
    assert usage.time_left == end - int(NOW) == 57
    assert usage.reset_after == decorator_reset_after(NOW, end) == 57.5


def test_failed_cache_fails_closed_per_limit(settings: Any) -> None:
    class Broken(LocMemCache):
        def add(self, *args: Any, **kwargs: Any) -> bool:
            raise ConnectionError("down")

    broken = Broken("broken-engine", {})
    assert check([aligned(), aligned(Rate(1, 1))], now=NOW, cache=broken) == [FAIL_CLOSED] * 2
    settings.RATELIMIT_FAIL_OPEN = True
    assert check([aligned()], now=NOW, cache=broken) is None


@hypothesis_settings(max_examples=50)
@given(
    now=st.floats(min_value=0, max_value=2**40, allow_nan=False, allow_infinity=False),
    period=st.integers(min_value=1, max_value=10**6),
)
def test_property_time_left_is_ceil_of_reset_after(now: float, period: int) -> None:
    usages = check([aligned(Rate(10, period))], 0, now=now, cache=caches["default"])
    assert usages is not None
    (usage,) = usages
    assert 0 < usage.reset_after <= period
    assert usage.time_left == math.ceil(usage.reset_after)
