"""Run the documentation's snippets (tests/docs_snippets/): every module is used here.

tests/docs_snippets/test_testing_examples.py is collected by pytest itself.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import RequestFactory, override_settings
from django.urls import path
from rest_framework.test import APIClient

from drf_ratelimit.clock import FakeClock
from drf_ratelimit.engine import Limit, check
from drf_ratelimit.ip import client_ip
from drf_ratelimit.rates import Rate
from drf_ratelimit.signals import fail_policy_used, request_limited
from drf_ratelimit.throttles import AnonRateThrottle, UserRateThrottle
from tests.docs_snippets import openapi, settings_snippets, signals, views
from tests.test_signals import Broken

urlpatterns = [
    path("login/", views.Login.as_view()),
    path("api/login/", views.LoginView.as_view()),
    path("plain-login/", views.login),
    path("view/", views.view),
]
pytestmark = pytest.mark.urls("tests.test_docs_snippets")


def test_drop_in_settings_name_the_atomic_throttles(settings: Any) -> None:
    settings.REST_FRAMEWORK = settings_snippets.REST_FRAMEWORK
    from rest_framework.settings import api_settings

    assert [AnonRateThrottle, UserRateThrottle] == api_settings.DEFAULT_THROTTLE_CLASSES
    assert AnonRateThrottle().rates == (Rate(100, 900),)
    assert UserRateThrottle().rates == (Rate(1000, 86400),)


def test_proxy_settings_pick_the_client_from_x_forwarded_for(rf: RequestFactory) -> None:
    behind_proxy = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9, 10.0.0.1")
    with override_settings(RATELIMIT_TRUSTED_PROXIES=settings_snippets.RATELIMIT_TRUSTED_PROXIES):
        assert client_ip(behind_proxy) == "203.0.113.9"
    with override_settings(RATELIMIT_PROXY_COUNT=settings_snippets.RATELIMIT_PROXY_COUNT):
        assert client_ip(behind_proxy) == "10.0.0.1"  # one proxy: the address it saw


def test_middleware_settings_answer_429_with_the_example_view(
    clock: FakeClock, client: Any
) -> None:
    middleware = settings_snippets.MIDDLEWARE[-1:]
    with override_settings(MIDDLEWARE=middleware, RATELIMIT_VIEW=settings_snippets.RATELIMIT_VIEW):
        statuses = [client.post("/login/").status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]


def test_headers_setting_turns_the_headers_on(clock: FakeClock) -> None:
    with override_settings(RATELIMIT_HEADERS=settings_snippets.RATELIMIT_HEADERS):
        response = APIClient().post("/api/login/", {"username": "a"}, format="json")
    assert response.headers["RateLimit"].startswith('"login-60s";r=4;')


def test_the_signature_example_limits_nothing(client: Any) -> None:
    assert views.view(RequestFactory().get("/")) is None  # rate=None: no limit, body is `...`


def test_get_usage_example_limits_each_username(clock: FakeClock, client: Any) -> None:
    statuses = [client.post("/plain-login/", {"username": "a"}).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    assert client.post("/plain-login/", {"username": "b"}).status_code == 200


def test_login_throttle_example_counts_per_username(clock: FakeClock) -> None:
    api = APIClient()
    statuses = [api.post("/api/login/", {"username": "a"}, format="json").status_code]
    statuses += [api.post("/api/login/", {"username": "a"}).status_code for _ in range(5)]
    assert statuses == [200] * 5 + [429]
    assert api.post("/api/login/", {"username": "b"}).status_code == 200
    assert api.get("/api/login/").status_code == 405  # GETs are not counted, nor allowed


def test_signal_receivers_count_and_alert(
    clock: FakeClock, client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    signals.MetricsConfig.ready(None)  # type: ignore[arg-type]  # connects the receivers
    try:
        for _ in range(7):
            APIClient().post("/api/login/", {"username": "a"})
        with caplog.at_level(logging.ERROR, logger="myproject.ratelimit"):
            check([Limit("g", Rate(1, 60), "v")], cache=Broken("broken-docs", {}))
    finally:
        request_limited.disconnect(signals.count_limited)
        fail_policy_used.disconnect(signals.alert_on_cache_failure)
    assert signals.LIMITED["login"] == 2
    assert "Rate-limit cache failed, denying requests: add+incr: ConnectionError" in caplog.text


def test_per_view_schema_documents_the_429(settings: Any) -> None:
    pytest.importorskip("drf_spectacular")
    from drf_spectacular.generators import SchemaGenerator

    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"anon": "5/m"}}
    generator = SchemaGenerator(patterns=[path("reports/", openapi.ReportView.as_view())])
    schema = generator.get_schema(request=None, public=True)
    assert "429" in schema["paths"]["/reports/"]["get"]["responses"]


def test_class_based_example_limits_posts_only(clock: FakeClock, client: Any) -> None:
    statuses = [client.post("/login/").status_code for _ in range(11)]
    assert statuses == [200] * 10 + [403]  # Ratelimited is a 403 without the middleware
    assert client.get("/login/").status_code == 405
