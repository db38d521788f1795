"""The per-view OpenAPI opt-in (docs/openapi.md)."""

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

# --8<-- [start:per-view]
from drf_ratelimit.openapi import RatelimitAutoSchema
from drf_ratelimit.throttles import AnonRateThrottle


class ReportView(APIView):
    throttle_classes = (AnonRateThrottle,)
    schema = RatelimitAutoSchema()  # documents the 429, Retry-After and RateLimit headers
    # --8<-- [end:per-view]

    def get(self, request: Request) -> Response:
        return Response({})
