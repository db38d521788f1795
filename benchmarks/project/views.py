"""Twins: the same DRF view, unthrottled and behind each throttle."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from rest_framework import throttling as drf_throttling
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from drf_ratelimit import throttles


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


class Unthrottled(APIView):
    throttle_classes = ()

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class Throttled(Unthrottled):
    """This package's AnonRateThrottle (scope ``anon``)."""

    throttle_classes = (throttles.AnonRateThrottle,)


class DrfAnon(drf_throttling.AnonRateThrottle):
    scope = "drf_anon"


class DrfThrottled(Unthrottled):
    """DRF's own AnonRateThrottle, same rate, same cache."""

    throttle_classes = (DrfAnon,)
