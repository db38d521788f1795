"""The docs' testing page, as tests that run (tests/ops_views.py serves /login/ and /hello/)."""

import pytest
from django.test import RequestFactory, TestCase, override_settings

# --8<-- [start:imports]
from drf_ratelimit.clock import FakeClock, use_clock
from drf_ratelimit.testing import (
    assert_ratelimit_headers,
    assert_ratelimited,
    override_ratelimit,
    reset_ratelimits,
)

# --8<-- [end:imports]

pytestmark = pytest.mark.urls("tests.ops_views")


# --8<-- [start:clock]
@pytest.fixture(autouse=True)
def frozen_clock():
    """Time stands still unless the test moves it: no request straddles a window."""
    clock = FakeClock()
    with use_clock(clock):
        yield clock


# --8<-- [end:clock]


# --8<-- [start:fixture]
def test_login_is_throttled_per_username(client, ratelimits):
    ratelimits.override(limit=1)  # every rate now allows one request per period
    assert client.post("/login/", {"username": "alice"}).status_code == 200
    assert_ratelimited(client.post("/login/", {"username": "alice"}))
    assert client.post("/login/", {"username": "bob"}).status_code == 200


def test_bulk_requests_are_not_limited(client, ratelimits):
    ratelimits.disable()
    assert all(client.get("/hello/").status_code == 200 for _ in range(50))


# --8<-- [end:fixture]


# --8<-- [start:headers]
def test_clients_are_told_their_quota(client, settings):
    settings.RATELIMIT_HEADERS = True
    response = client.post("/login/", {"username": "alice"})
    headers = assert_ratelimit_headers(
        response, policy="login-60s", limit=2, window=60, remaining=1
    )
    assert headers.reset > 0  # seconds until the quota is whole again


# --8<-- [end:headers]


# --8<-- [start:reset-one]
def test_support_can_unlock_one_user(client):
    for _ in range(3):
        client.post("/login/", {"username": "alice"})
    reset_ratelimits("/login/", RequestFactory().post("/login/", {"username": "alice"}))
    assert client.post("/login/", {"username": "alice"}).status_code == 200


# --8<-- [end:reset-one]


# --8<-- [start:testcase]
@override_settings(ROOT_URLCONF="tests.ops_views")
class HelloTests(TestCase):
    def setUp(self):
        reset_ratelimits()  # counters outlive a TestCase's transaction: clear them
        self.clock = FakeClock()  # time moves only when told to: no flaky window edges
        frozen = use_clock(self.clock)
        frozen.__enter__()
        self.addCleanup(frozen.__exit__, None, None, None)

    def test_third_request_in_a_minute_is_limited(self):
        statuses = [self.client.get("/hello/").status_code for _ in range(3)]
        self.assertEqual(statuses, [200, 200, 403])
        self.clock.advance(60)
        self.assertEqual(self.client.get("/hello/").status_code, 200)

    @override_ratelimit(enabled=False)
    def test_without_limits(self):
        statuses = [self.client.get("/hello/").status_code for _ in range(5)]
        self.assertEqual(statuses, [200] * 5)


# --8<-- [end:testcase]
