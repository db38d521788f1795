"""Dotted-path targets and small views for the decorator, core, middleware,
checks and migration tests.

Everything here is referred to by a dotted path somewhere (``tests.helpers.X``)
or served through ``urlpatterns`` with ``@pytest.mark.urls("tests.helpers")``,
so these tests never edit the shared ``tests/urls.py``.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import path

from drf_ratelimit.decorators import ratelimit


def callable_rate(group: str, request: HttpRequest) -> tuple[int, int] | None:
    """No limit for authenticated users; everybody else is blocked outright."""
    if request.user.is_authenticated:
        return None
    return (0, 60)


def mykey(group: str, request: HttpRequest) -> str:
    """The client address reversed (any deterministic transformation will do)."""
    return str(request.META["REMOTE_ADDR"])[::-1]


class CustomRatelimitedException(Exception):
    """A RATELIMIT_EXCEPTION_CLASS that is not a Ratelimited."""


#: Something that is importable but not a view (RATELIMIT_VIEW must be callable).
NOT_CALLABLE = "not a view"


def ratelimited_view(request: HttpRequest, exception: Exception) -> HttpResponse:
    """RATELIMIT_VIEW: answer limited requests with a 429."""
    return HttpResponse(f"limited: {type(exception).__name__}", status=429)


async def async_ratelimited_view(request: HttpRequest, exception: Exception) -> HttpResponse:
    """An ``async def`` RATELIMIT_VIEW."""
    return HttpResponse(f"async limited: {type(exception).__name__}", status=429)


class UnknownCache(BaseCache):
    """A third-party backend the checks know nothing about (W002)."""


class SubclassedRedisCache(RedisCache):
    """A project's own subclass of Django's RedisCache: still Redis."""


@ratelimit(key="ip", rate="1/m")
def limited(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


@ratelimit(key="ip", rate="2/m")
async def async_limited(request: HttpRequest) -> HttpResponse:
    return HttpResponse("async ok")


def raises_value_error(request: HttpRequest) -> HttpResponse:
    raise ValueError("not a rate limit")


def raises_permission_denied(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied("plain 403")


def raises_custom(request: HttpRequest) -> HttpResponse:
    raise CustomRatelimitedException()


urlpatterns: list[Any] = [
    path("limited/", limited),
    path("async-limited/", async_limited),
    path("value-error/", raises_value_error),
    path("permission-denied/", raises_permission_denied),
    path("custom/", raises_custom),
]


class SubclassedLocMemCache(LocMemCache):
    """Local memory whose class drf_ratelimit does not know: counted through
    Django's cache API (``add`` and ``incr``), as any unknown backend is."""
