"""Fixed, jittered windows: django-ratelimit 4.1's golden vectors and properties."""

from __future__ import annotations

import math
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drf_ratelimit._algorithms.fixed_window import (
    GRACE_SECONDS,
    aligned_window,
    decorator_reset_after,
    fixed_window_end,
    key_timeout,
)

#: Any text at all, lone surrogates included (st.text() leaves them out).
ANY_TEXT = st.text(st.characters(codec=None, categories=None, exclude_categories=[]))


def _crc(value: str) -> int:
    return zlib.crc32(value.encode("utf-8", "backslashreplace"))


@pytest.mark.parametrize(
    ("now", "end"),
    [
        (1699999997, 1699999997),
        (1699999998, 1700000057),
        (1700000000.7, 1700000057),
        (1700000057, 1700000057),
        (1700000058, 1700000117),
    ],
)
def test_golden_vectors(now: float, end: int) -> None:
    assert zlib.crc32(b"1.2.3.4") % 60 == 17
    assert fixed_window_end(now, 60, "1.2.3.4") == end


@pytest.mark.parametrize("now", [0, 1, 1699999997, 1700000000.9, 1700000001])
@pytest.mark.parametrize("value", ["", "1.2.3.4", "user-42"])
def test_period_one_has_no_jitter(now: float, value: str) -> None:
    assert fixed_window_end(now, 1, value) == int(now)


def test_jitter_depends_only_on_value() -> None:
    now = 1_700_000_000
    a = fixed_window_end(now, 3600, "1.2.3.4")
    b = fixed_window_end(now, 3600, "5.6.7.8")
    assert a != b
    assert (a - 1_700_000_000) % 3600 != (b - 1_700_000_000) % 3600
    # zlib.crc32(b"1.2.3.4") % 3600 == 3317 per the reference notes
    assert a % 3600 == 3317


@pytest.mark.parametrize("value", ["\udc80", "a\ud800b", "\x00\x1f\x7f", "é" * 10_000])
def test_unencodable_and_odd_values_get_a_window(value: str) -> None:
    end = fixed_window_end(1_700_000_000, 60, value)
    assert 1_700_000_000 <= end < 1_700_000_060
    assert (end - _crc(value) % 60) % 60 == 0


@pytest.mark.parametrize("period", [1, 2, 60, 3600, 86400])
def test_key_timeout_is_period_plus_grace(period: int) -> None:
    assert GRACE_SECONDS == 5
    assert key_timeout(period) == period + 5


@given(
    now=st.floats(min_value=0, max_value=2**40, allow_nan=False, allow_infinity=False),
    period=st.integers(min_value=1, max_value=10**6),
    value=ANY_TEXT,
)
def test_property_window_end_bounds_and_phase(now: float, period: int, value: str) -> None:
    end = fixed_window_end(now, period, value)
    ts = int(now)
    assert isinstance(end, int)
    assert ts <= end <= ts + period - 1
    if period == 1:
        assert end == ts
    else:
        jitter = _crc(value) % period
        assert (end - jitter) % period == 0


@given(
    start=st.integers(min_value=0, max_value=2**40),
    period=st.integers(min_value=2, max_value=10**4),
    value=st.text(max_size=20),
)
def test_property_same_window_until_end(start: int, period: int, value: str) -> None:
    """Every second in (end - period, end] maps to the same window end."""
    end = fixed_window_end(start, period, value)
    assert fixed_window_end(end, period, value) == end
    assert fixed_window_end(end - period + 1, period, value) == end
    assert fixed_window_end(end + 1, period, value) == end + period


# --- the throttles' clock-aligned windows ----------------------------------------------


@pytest.mark.parametrize(
    ("now", "period", "start", "reset_after"),
    [
        (0, 60, 0, 60),
        (0.0, 1, 0, 1.0),
        (59, 60, 0, 1),
        (60, 60, 60, 60),
        (61.25, 60, 60, 58.75),
        (1.5, 1, 1, 0.5),
        (1_700_000_000, 60, 1_699_999_980, 40),
        (1_700_000_000.5, 60, 1_699_999_980, 39.5),
        (1_700_000_000, 86400, 1_699_920_000, 6400),
        (1_700_000_000, 1, 1_700_000_000, 1),
        (299.75, 300, 0, 0.25),
        (7, 3, 6, 2),
    ],
)
def test_aligned_window(now: float, period: int, start: int, reset_after: float) -> None:
    assert aligned_window(now, period) == (start, reset_after)


def test_aligned_window_start_is_an_int() -> None:
    start, reset_after = aligned_window(1_700_000_000.75, 60)
    assert type(start) is int
    assert reset_after == 39.25


def test_aligned_window_has_no_per_client_jitter() -> None:
    """Unlike the decorator's windows, every client's window ends together."""
    assert aligned_window(1_700_000_000, 3600) == (1_699_999_200, 2800)


@given(
    now=st.floats(min_value=0, max_value=2**40, allow_nan=False, allow_infinity=False),
    period=st.integers(min_value=1, max_value=10**6),
)
def test_property_aligned_window_bounds(now: float, period: int) -> None:
    start, reset_after = aligned_window(now, period)
    assert start % period == 0
    assert start <= now < start + period
    assert 0 < reset_after <= period
    assert start + period - reset_after == pytest.approx(now, abs=1e-3)


@given(
    now=st.integers(min_value=0, max_value=2**40),
    period=st.integers(min_value=1, max_value=10**6),
)
def test_property_aligned_window_integer_clock(now: int, period: int) -> None:
    start, reset_after = aligned_window(now, period)
    assert reset_after == period - now % period
    assert aligned_window(start, period) == (start, period)
    assert aligned_window(start + period, period) == (start + period, period)


# --- the decorator's reset ------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "window_end", "expected"),
    [
        (1_700_000_000, 1_700_000_057, 58),
        (1_700_000_000.7, 1_700_000_057, 57.3),
        (1_700_000_057, 1_700_000_057, 1),
        (1_700_000_057.5, 1_700_000_057, 0.5),
    ],
)
def test_decorator_reset_after(now: float, window_end: int, expected: float) -> None:
    assert decorator_reset_after(now, window_end) == pytest.approx(expected)


@given(
    now=st.floats(min_value=0, max_value=2**40, allow_nan=False, allow_infinity=False),
    period=st.integers(min_value=1, max_value=10**6),
    value=ANY_TEXT,
)
def test_property_decorator_reset_after_bounds(now: float, period: int, value: str) -> None:
    """The window covers whole seconds ``(end - period, end]``: it is over at
    ``end + 1``, always later than now and at most one period away."""
    end = fixed_window_end(now, period, value)
    reset_after = decorator_reset_after(now, end)
    assert 0 < reset_after <= period
    assert math.ceil(reset_after) == end - int(now) + 1
