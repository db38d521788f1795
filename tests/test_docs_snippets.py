"""Run the documentation's snippets (tests/docs_snippets/): every module is used here.

tests/docs_snippets/test_testing_examples.py is collected by pytest itself.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.core.cache import caches
from django.test import RequestFactory, override_settings
from django.urls import path
from rest_framework.test import APIClient

from drf_ratelimit._engine import Limit, check
from drf_ratelimit._ops.checks import check_hash_tags
from drf_ratelimit._request.ip import client_ip
from drf_ratelimit._spec.rates import Rate
from drf_ratelimit._storage import store_for
from drf_ratelimit._storage.redis import RedisStore
from drf_ratelimit.clock import FakeClock
from drf_ratelimit.signals import fail_policy_used, request_limited
from drf_ratelimit.throttles import AnonRateThrottle, UserRateThrottle
from tests.docs_snippets import algorithms, openapi, settings_snippets, signals, views
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


# --- algorithms.md -----------------------------------------------------------------------------


def test_algorithm_settings_are_the_documented_defaults(settings: Any) -> None:
    from drf_ratelimit import conf

    settings.RATELIMIT_ALGORITHM = algorithms.RATELIMIT_ALGORITHM
    settings.RATELIMIT_COUNT_DENIED = algorithms.RATELIMIT_COUNT_DENIED
    assert conf.snapshot().resolve_default_algorithm("fixed-window") == "sliding-window"
    assert (
        conf.snapshot().resolve_count_denied(True) is True
        and conf.snapshot().resolve_count_denied(False) is False
    )


def test_search_throttle_allows_a_burst_then_one_every_six_seconds(clock: FakeClock) -> None:
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    request = Request(APIRequestFactory().get("/", REMOTE_ADDR="10.0.0.9"))
    view = views.LoginView()
    throttle = algorithms.SearchThrottle()
    assert [throttle.allow_request(request, view) for _ in range(21)] == [True] * 20 + [False]
    assert throttle.wait() == 6.0
    clock.advance(6)
    assert throttle.allow_request(request, view) is True


def test_password_throttle_charges_denied_attempts(clock: FakeClock) -> None:
    from rest_framework.test import APIRequestFactory

    view = views.LoginView()
    decisions, counts = [], []
    for _ in range(7):
        request = view.initialize_request(APIRequestFactory().post("/", {"username": "eve"}))
        throttle = algorithms.PasswordThrottle()
        decisions.append(throttle.allow_request(request, view))
        counts.append(throttle.usages[0].count)
    assert decisions == [True] * 5 + [False, False]
    assert counts == [1, 2, 3, 4, 5, 6, 7]  # the denied attempts were charged too


def test_export_throttle_charges_by_rows(clock: FakeClock) -> None:
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    throttle = algorithms.ExportThrottle()
    request = Request(APIRequestFactory().get("/?rows=50000", REMOTE_ADDR="10.0.0.9"))
    assert throttle.get_cost(request) == 50
    request.user = type("U", (), {"is_authenticated": True, "pk": 1})()
    assert throttle.allow_request(request, views.LoginView()) is True
    assert throttle.usages[0].count == 50


def test_decorated_views_choose_their_algorithm_and_cost(clock: FakeClock) -> None:
    factory = RequestFactory()
    results = [algorithms.search(factory.get("/")).status_code for _ in range(30)]
    assert results == [200] * 30
    from drf_ratelimit.exceptions import Ratelimited

    with pytest.raises(Ratelimited):
        algorithms.search(factory.get("/"))


@pytest.mark.parametrize("caches_setting", ["CLUSTER_CACHES", "CLUSTER_DJANGO_REDIS_CACHES"])
def test_the_cluster_settings_make_a_cache_the_scripts_run_on(caches_setting: str) -> None:
    """Built without connecting: the store is the script store, and the hash
    tags survive the cache's key function."""
    configured = getattr(settings_snippets, caches_setting)
    with override_settings(
        CACHES={
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            **configured,
        },
        RATELIMIT_USE_CACHE=settings_snippets.RATELIMIT_USE_CACHE,
    ):
        assert isinstance(store_for(caches["ratelimit"]), RedisStore)
        assert check_hash_tags() == []
