"""Usage reads like django-ratelimit's dict and adds what headers need."""

from __future__ import annotations

import pytest

from drf_ratelimit.usage import FAIL_CLOSED, Usage


def test_usage_is_a_four_key_mapping() -> None:
    usage = Usage(count=3, limit=5, should_limit=False, time_left=12, period=60)
    assert list(usage) == ["count", "limit", "should_limit", "time_left"]
    assert len(usage) == 4
    assert usage == {"count": 3, "limit": 5, "should_limit": False, "time_left": 12}
    assert usage["time_left"] == 12
    assert usage.get("period") is None
    with pytest.raises(KeyError):
        usage["period"]


def test_remaining_never_goes_below_zero() -> None:
    assert Usage(count=3, limit=5, should_limit=False, time_left=1).remaining == 2
    assert Usage(count=9, limit=5, should_limit=True, time_left=1).remaining == 0


def test_fail_closed_is_upstreams_dict_and_marked_failed() -> None:
    assert dict(FAIL_CLOSED) == {"count": 0, "limit": 0, "should_limit": True, "time_left": -1}
    assert FAIL_CLOSED.failed is True
    assert repr(FAIL_CLOSED) == f"Usage({dict(FAIL_CLOSED)!r})"
