"""``RatelimitMiddleware``: answer ``Ratelimited`` with ``RATELIMIT_VIEW`` (e.g. a 429)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import async_to_sync, iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from drf_ratelimit import conf
from drf_ratelimit.exceptions import Ratelimited


class RatelimitMiddleware:
    """Place it near the end of MIDDLEWARE. Works under WSGI and ASGI.

    Only exceptions that reach Django's view-exception handling are seen:
    inside a DRF APIView, use the throttles (429 with Retry-After) instead.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self._acall(request)
        return self.get_response(request)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        response: Awaitable[HttpResponse] = self.get_response(request)
        return await response

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
        if not isinstance(exception, Ratelimited):
            return None
        view = conf.ratelimit_view()
        if iscoroutinefunction(view):
            return async_to_sync(view)(request, exception)
        return view(request, exception)
