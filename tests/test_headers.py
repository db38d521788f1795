"""RateLimit-Policy and RateLimit fields: pure usages in, exact header text out."""

from __future__ import annotations

import math
from typing import Any

import http_sf
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from drf_ratelimit.headers import (
    POLICY_HEADER,
    STATUS_HEADER,
    Policy,
    policy_names,
    rate_limit_headers,
)
from drf_ratelimit.throttles import UserRateThrottle
from drf_ratelimit.usage import FAIL_CLOSED, Usage


def usage(count: int, limit: int, period: int, reset_after: float) -> Usage:
    """A fixed window's usage: an exhausted one admits the next request at the reset."""
    return Usage(
        count=count,
        limit=limit,
        should_limit=count > limit,
        time_left=math.ceil(reset_after),
        period=period,
        reset_after=reset_after,
        retry_after=reset_after if count >= limit else 0.0,
    )


def parse_list(value: str) -> Any:
    return http_sf.parse(value.encode("ascii"), tltype="list")


# --- policy_names ---------------------------------------------------------------------


def test_one_rate_is_named_after_the_throttle() -> None:
    assert policy_names("anon", [60]) == ["anon"]


def test_several_rates_get_their_period_appended() -> None:
    assert policy_names("anon", [1, 86400]) == ["anon-1s", "anon-86400s"]


def test_no_rates_no_names() -> None:
    assert policy_names("anon", []) == []


# --- exact strings --------------------------------------------------------------------


def test_single_policy_exact_strings() -> None:
    headers = rate_limit_headers([Policy("anon", usage(1, 3, 60, 59.5))])
    assert headers == {
        "RateLimit-Policy": '"anon";q=3;w=60',
        "RateLimit": '"anon";r=2;t=60',
    }
    assert (POLICY_HEADER, STATUS_HEADER) == ("RateLimit-Policy", "RateLimit")


def test_every_policy_is_listed_and_the_most_restrictive_reported() -> None:
    headers = rate_limit_headers(
        [
            Policy("burst", usage(1, 10, 1, 1.0)),
            Policy("sustained", usage(998, 1000, 86400, 3600.0)),
        ]
    )
    assert headers == {
        "RateLimit-Policy": '"burst";q=10;w=1, "sustained";q=1000;w=86400',
        "RateLimit": '"sustained";r=2;t=3600',
    }


def test_ties_on_remaining_pick_the_latest_reset() -> None:
    headers = rate_limit_headers(
        [
            Policy("a", usage(3, 5, 60, 10.0)),
            Policy("b", usage(8, 10, 3600, 1800.0)),
            Policy("c", usage(1, 3, 60, 20.0)),
        ]
    )
    assert headers[STATUS_HEADER] == '"b";r=2;t=1800'


def test_t_is_rounded_up_and_never_zero() -> None:
    headers = rate_limit_headers([Policy("anon", usage(1, 3, 60, 0.001))])
    assert headers[STATUS_HEADER] == '"anon";r=2;t=1'


def test_remaining_is_never_negative() -> None:
    headers = rate_limit_headers([Policy("anon", usage(9, 3, 60, 30.0), denied=True)])
    assert headers[STATUS_HEADER] == '"anon";r=0;t=30'


# --- the denied case ------------------------------------------------------------------


def test_denied_reports_the_exhausted_rate_of_the_denying_throttle() -> None:
    """Not the policy with the fewest remaining overall: another throttle
    that allowed the request may be at 0 with a later reset, but Retry-After
    comes from the throttle that denied."""
    headers = rate_limit_headers(
        [
            Policy("other", usage(5, 5, 86400, 80000.0), denied=False),
            Policy("burst-1s", usage(4, 3, 1, 1.0), denied=True),
            Policy("burst-60s", usage(4, 6, 60, 60.0), denied=True),
        ]
    )
    assert headers[STATUS_HEADER] == '"burst-1s";r=0;t=1'


def test_denied_with_several_exhausted_rates_picks_the_latest_reset() -> None:
    headers = rate_limit_headers(
        [
            Policy("user-1s", usage(4, 3, 1, 1.0), denied=True),
            Policy("user-60s", usage(7, 6, 60, 59.0), denied=True),
            Policy("user-86400s", usage(7, 1000, 86400, 86399.0), denied=True),
        ]
    )
    assert headers[STATUS_HEADER] == '"user-60s";r=0;t=59'


def test_denied_across_throttles_picks_the_latest_reset_of_any_denier() -> None:
    headers = rate_limit_headers(
        [
            Policy("seconds", usage(4, 3, 1, 1.0), denied=True),
            Policy("minutes", usage(7, 6, 60, 59.0), denied=True),
        ]
    )
    assert headers[STATUS_HEADER] == '"minutes";r=0;t=59'


def test_denied_flag_without_exhaustion_falls_back_to_most_restrictive() -> None:
    headers = rate_limit_headers(
        [
            Policy("a", usage(1, 10, 60, 30.0), denied=True),
            Policy("b", usage(8, 10, 60, 30.0), denied=False),
        ]
    )
    assert headers[STATUS_HEADER] == '"b";r=2;t=30'


# --- failed usages --------------------------------------------------------------------


def test_failed_usages_are_skipped() -> None:
    headers = rate_limit_headers(
        [Policy("down", FAIL_CLOSED, denied=True), Policy("anon", usage(1, 3, 60, 30.0))]
    )
    assert headers == {
        "RateLimit-Policy": '"anon";q=3;w=60',
        "RateLimit": '"anon";r=2;t=30',
    }


def test_only_failed_usages_give_no_headers() -> None:
    assert rate_limit_headers([Policy("down", FAIL_CLOSED, denied=True)]) == {}
    assert rate_limit_headers([]) == {}


# --- names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "serialised"),
    [
        ('say "hi"', r'"say \"hi\""'),
        ("back\\slash", r'"back\\slash"'),
        ("café", '"caf?"'),
        ("tab\there", '"tab?here"'),
        ("new\nline", '"new?line"'),
        ("\x7f", '"?"'),
        ("", '"?"'),
        ("ünïcödé", '"?n?c?d?"'),
        ("a b~", '"a b~"'),
    ],
)
def test_names_are_escaped_and_non_ascii_replaced(name: str, serialised: str) -> None:
    headers = rate_limit_headers([Policy(name, usage(1, 3, 60, 30.0))])
    assert headers[POLICY_HEADER] == f"{serialised};q=3;w=60"
    assert headers[STATUS_HEADER] == f"{serialised};r=2;t=30"


def test_duplicate_names_are_made_unique() -> None:
    one = usage(1, 3, 60, 30.0)
    headers = rate_limit_headers(
        [Policy("anon", one), Policy("anon", one), Policy("anon-2", one), Policy("anon", one)]
    )
    names = [name for name, _ in parse_list(headers[POLICY_HEADER])]
    assert names == ["anon", "anon-2", "anon-2-2", "anon-3"]
    assert len(set(names)) == len(names)


def test_names_that_become_equal_after_replacement_are_made_unique() -> None:
    one = usage(1, 3, 60, 30.0)
    headers = rate_limit_headers([Policy("é", one), Policy("ü", one)])
    assert [name for name, _ in parse_list(headers[POLICY_HEADER])] == ["?", "?-2"]


def test_the_status_field_names_the_unique_name_it_reports() -> None:
    headers = rate_limit_headers(
        [Policy("anon", usage(1, 3, 60, 30.0)), Policy("anon", usage(3, 3, 60, 30.0))]
    )
    assert headers[STATUS_HEADER] == '"anon-2";r=0;t=30'


# --- round trip -----------------------------------------------------------------------


def test_headers_parse_back_as_structured_field_lists() -> None:
    headers = rate_limit_headers(
        [
            Policy('we"ird\\', usage(4, 3, 1, 0.25), denied=True),
            Policy("sustained", usage(7, 1000, 86400, 86399.75), denied=True),
        ]
    )
    assert parse_list(headers[POLICY_HEADER]) == [
        ('we"ird\\', {"q": 3, "w": 1}),
        ("sustained", {"q": 1000, "w": 86400}),
    ]
    assert parse_list(headers[STATUS_HEADER]) == [('we"ird\\', {"r": 0, "t": 1})]


USAGES = st.builds(
    usage,
    count=st.integers(min_value=0, max_value=10**6),
    limit=st.integers(min_value=0, max_value=10**6),
    period=st.integers(min_value=1, max_value=10**6),
    reset_after=st.floats(min_value=1e-6, max_value=10**6),
)
POLICIES = st.lists(
    st.builds(Policy, name=st.text(max_size=12), usage=USAGES, denied=st.booleans()),
    min_size=1,
    max_size=6,
)


@given(POLICIES)
def test_property_any_policies_give_parseable_lists(policies: list[Policy]) -> None:
    headers = rate_limit_headers(policies)
    listed = parse_list(headers[POLICY_HEADER])
    status = parse_list(headers[STATUS_HEADER])
    assert [params for _, params in listed] == [
        {"q": p.usage.limit, "w": p.usage.period} for p in policies
    ]
    names = [name for name, _ in listed]
    assert len(set(names)) == len(names)
    assert len(status) == 1
    name, params = status[0]
    assert name in names
    assert params["r"] >= 0
    assert params["t"] >= 1


# --- through a view -------------------------------------------------------------------


class Burst(UserRateThrottle):
    rate = "3/sec"
    scope = "burst"
    algorithm = "fixed-window"  # whole-second resets, as the test names them


class Sustained(UserRateThrottle):
    rate = "6/min"
    scope = "sustained"
    algorithm = "fixed-window"


class TwoThrottlesView(APIView):
    throttle_classes = (Burst, Sustained)

    def get(self, request: Request) -> Response:
        return Response("ok")


def test_view_headers_agree_with_retry_after(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RateLimit's ``t`` on a 429 is the denying throttle's wait, so it never
    exceeds Retry-After (DRF's rounded-up largest wait)."""
    settings.RATELIMIT_HEADERS = True
    view = TwoThrottlesView.as_view()
    factory = APIRequestFactory()
    responses: dict[int, list[Any]] = {}
    for now, expected in [(0, [200, 200, 200, 429]), (1, [200, 200, 429])]:
        for cls in (Burst, Sustained):
            monkeypatch.setattr(cls, "timer", lambda self, now=now: now)
        responses[now] = [view(factory.get("/")) for _ in expected]
        assert [r.status_code for r in responses[now]] == expected

    first = responses[0][0]
    assert first[POLICY_HEADER] == '"burst";q=3;w=1, "sustained";q=6;w=60'
    assert first[STATUS_HEADER] == '"burst";r=2;t=1'
    burst_denied = responses[0][-1]
    assert burst_denied["Retry-After"] == "1"
    assert burst_denied[STATUS_HEADER] == '"burst";r=0;t=1'
    assert responses[1][0][STATUS_HEADER] == '"sustained";r=1;t=59'
    sustained_denied = responses[1][-1]
    assert sustained_denied["Retry-After"] == "59"
    assert sustained_denied[STATUS_HEADER] == '"sustained";r=0;t=59'


def test_no_headers_unless_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Burst, "timer", lambda self: 0)
    response = TwoThrottlesView.as_view()(APIRequestFactory().get("/"))
    assert response.status_code == 200
    assert POLICY_HEADER not in response
    assert STATUS_HEADER not in response
