"""Twins: the same DRF view, unthrottled and behind each throttle."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.http import HttpRequest, HttpResponse
from rest_framework import throttling as drf_throttling
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from drf_ratelimit import throttles


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


class Unthrottled(APIView):
    throttle_classes: Sequence[type[BaseThrottle]] = ()

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class BareIncr(Unthrottled):
    """The floor: the unthrottled view plus one bare increment through the
    cache's own client (no throttle can cost less than one round trip)."""

    def get(self, request: Request) -> Response:
        bare_increment()
        return super().get(request)


def bare_increment() -> None:
    from django.core.cache import cache

    backend: Any = cache._connections[cache._alias]  # type: ignore[attr-defined]
    client = backend._cache
    if hasattr(client, "get_client"):  # Django's RedisCache
        client.get_client(write=True).incr("bench:e2e:floor")
    else:  # pymemcache's HashClient
        if client.incr("bench_e2e_floor", 1) is None:
            client.set("bench_e2e_floor", 0)


class Throttled(Unthrottled):
    """This package's AnonRateThrottle (scope ``anon``)."""

    throttle_classes = (throttles.AnonRateThrottle,)


class DrfAnon(drf_throttling.AnonRateThrottle):
    scope = "drf_anon"


class DrfThrottled(Unthrottled):
    """DRF's own AnonRateThrottle, same rate, same cache."""

    throttle_classes = (DrfAnon,)
