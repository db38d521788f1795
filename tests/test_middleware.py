"""RatelimitMiddleware: Ratelimited becomes RATELIMIT_VIEW's answer, under WSGI and ASGI."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, RequestFactory

from drf_ratelimit.clock import FakeClock
from drf_ratelimit.exceptions import Ratelimited
from drf_ratelimit.middleware import RatelimitMiddleware
from tests.conftest import Backend
from tests.helpers import CustomRatelimitedException

pytestmark = pytest.mark.urls("tests.helpers")

MIDDLEWARE_PATH = "drf_ratelimit.middleware.RatelimitMiddleware"


@pytest.fixture
def with_middleware(settings: Any) -> Any:
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, MIDDLEWARE_PATH]
    settings.RATELIMIT_VIEW = "tests.helpers.ratelimited_view"
    return settings


def sync_response(request: HttpRequest) -> HttpResponse:
    return HttpResponse("passed through")


async def async_response(request: HttpRequest) -> HttpResponse:
    return HttpResponse("passed through async")


def test_without_the_middleware_a_limited_request_is_a_403(clock: FakeClock) -> None:
    client = Client()

    assert client.get("/limited/").status_code == 200
    assert client.get("/limited/").status_code == 403


def test_ratelimited_becomes_the_ratelimit_view_response(
    backend: Backend, clock: FakeClock, with_middleware: Any
) -> None:
    client = Client()

    first, second = client.get("/limited/"), client.get("/limited/")

    assert (first.status_code, first.content) == (200, b"ok")
    assert (second.status_code, second.content) == (429, b"limited: Ratelimited")


def test_an_async_ratelimit_view_is_supported(clock: FakeClock, with_middleware: Any) -> None:
    with_middleware.RATELIMIT_VIEW = "tests.helpers.async_ratelimited_view"
    client = Client()

    client.get("/limited/")
    response = client.get("/limited/")

    assert (response.status_code, response.content) == (429, b"async limited: Ratelimited")


def async_get(client: AsyncClient) -> Any:
    """A blocking GET through the AsyncClient (whose get is not a coroutine
    function on Django 4.2, so async_to_sync cannot take it directly)."""

    async def get(path: str) -> Any:
        return await client.get(path)

    return async_to_sync(get)


def test_an_async_view_under_the_async_client(
    backend: Backend, clock: FakeClock, with_middleware: Any
) -> None:
    get = async_get(AsyncClient())

    statuses = [get("/async-limited/").status_code for _ in range(3)]
    response = get("/async-limited/")

    assert statuses == [200, 200, 429]
    assert response.content == b"limited: Ratelimited"


def test_an_async_ratelimit_view_under_the_async_client(
    clock: FakeClock, with_middleware: Any
) -> None:
    with_middleware.RATELIMIT_VIEW = "tests.helpers.async_ratelimited_view"
    get = async_get(AsyncClient())

    get("/async-limited/")
    get("/async-limited/")
    response = get("/async-limited/")

    assert (response.status_code, response.content) == (429, b"async limited: Ratelimited")


def test_missing_ratelimit_view_is_improperly_configured(
    clock: FakeClock, with_middleware: Any
) -> None:
    del with_middleware.RATELIMIT_VIEW
    client = Client()
    client.get("/limited/")

    with pytest.raises(ImproperlyConfigured, match="RATELIMIT_VIEW"):
        client.get("/limited/")
    with pytest.raises(ImproperlyConfigured, match="RATELIMIT_VIEW"):
        RatelimitMiddleware(sync_response).process_exception(
            RequestFactory().get("/"), Ratelimited()
        )


@pytest.mark.parametrize(
    ("value", "message"),
    [("tests.helpers.NOT_CALLABLE", "not callable"), ("tests.helpers.missing", "imported")],
)
def test_a_bad_ratelimit_view_is_improperly_configured(
    settings: Any, value: str, message: str
) -> None:
    settings.RATELIMIT_VIEW = value
    middleware = RatelimitMiddleware(sync_response)

    with pytest.raises(ImproperlyConfigured, match=message):
        middleware.process_exception(RequestFactory().get("/"), Ratelimited())


def test_other_exceptions_pass_through(clock: FakeClock, with_middleware: Any) -> None:
    client = Client()

    with pytest.raises(ValueError, match="not a rate limit"):
        client.get("/value-error/")
    assert client.get("/permission-denied/").status_code == 403


def test_a_custom_exception_class_is_not_handled(clock: FakeClock, with_middleware: Any) -> None:
    """As upstream: only Ratelimited (and subclasses) reach RATELIMIT_VIEW."""
    with pytest.raises(CustomRatelimitedException):
        Client().get("/custom/")


@pytest.mark.parametrize(
    "exception", [ValueError("x"), PermissionDenied(), CustomRatelimitedException()]
)
def test_process_exception_ignores_anything_but_ratelimited(
    settings: Any, exception: Exception
) -> None:
    settings.RATELIMIT_VIEW = "tests.helpers.ratelimited_view"
    middleware = RatelimitMiddleware(sync_response)

    assert middleware.process_exception(RequestFactory().get("/"), exception) is None


def test_process_exception_handles_ratelimited_subclasses(settings: Any) -> None:
    class Sub(Ratelimited):
        pass

    settings.RATELIMIT_VIEW = "tests.helpers.ratelimited_view"
    response = RatelimitMiddleware(sync_response).process_exception(
        RequestFactory().get("/"), Sub()
    )

    assert response.status_code == 429
    assert response.content == b"limited: Sub"


def test_the_middleware_passes_requests_through_sync_and_async() -> None:
    request = RequestFactory().get("/")
    sync_middleware = RatelimitMiddleware(sync_response)
    async_middleware = RatelimitMiddleware(async_response)

    assert RatelimitMiddleware.sync_capable and RatelimitMiddleware.async_capable
    assert not iscoroutinefunction(sync_middleware)
    assert iscoroutinefunction(async_middleware)
    assert sync_middleware(request).content == b"passed through"
    assert async_to_sync(async_middleware)(request).content == b"passed through async"
