"""One endpoint per throttle under test; all answer ``{"ok": true}`` when allowed."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import throttling as drf_throttling
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from drf_ratelimit import throttles

#: Every response says which worker process served it (``X-Served-By: <pid>``).
SERVED_BY_HEADER = "X-Served-By"


def served_by(get_response: Callable[[HttpRequest], HttpResponse]) -> Any:
    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        response[SERVED_BY_HEADER] = str(os.getpid())
        return response

    return middleware


def health(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})


class OursView(APIView):
    """This package's drop-in ``AnonRateThrottle`` (scope ``anon``)."""

    throttle_classes = (throttles.AnonRateThrottle,)

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class PerIpThrottle(throttles.RatelimitThrottle):
    key = "ip"
    rate = f"{settings.LIVE_LIMIT}/h"
    scope = "per-ip"


class OursRatelimitView(APIView):
    """This package's ``RatelimitThrottle`` in django-ratelimit's grammar."""

    throttle_classes = (PerIpThrottle,)

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class DefaultThrottleView(APIView):
    """No ``throttle_classes``: ``DEFAULT_THROTTLE_CLASSES`` (our ``UserRateThrottle``)."""

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class DrfAnonThrottle(drf_throttling.AnonRateThrottle):
    """DRF's own throttle, for comparison: same limit, same shared cache."""

    scope = "drf_anon"


class DrfView(APIView):
    throttle_classes = (DrfAnonThrottle,)

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


def _edge_view(algorithm: str) -> Any:
    """A view throttled per IP at LIVE_LIMIT/h with one algorithm."""
    throttle = type(
        f"Edge{algorithm.title().replace('-', '')}Throttle",
        (throttles.RatelimitThrottle,),
        {"key": "ip", "rate": f"{settings.LIVE_LIMIT}/h", "scope": "edge", "algorithm": algorithm},
    )
    return type(
        f"Edge{algorithm.title().replace('-', '')}View",
        (HealthView,),
        {"throttle_classes": (throttle,)},
    ).as_view()


class HealthView(APIView):
    def get(self, request: Request) -> Response:
        return Response({"ok": True})


EDGE_VIEWS = {
    algorithm: _edge_view(algorithm)
    for algorithm in ("fixed-window", "sliding-window", "token-bucket", "sliding-log")
}
