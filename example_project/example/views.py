"""A plain Django view and a DRF endpoint, both limited with ``@ratelimit``."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from drf_ratelimit.decorators import ratelimit
from drf_ratelimit.exceptions import Ratelimited


@ratelimit(key="ip", rate="5/m")
def hello(request: HttpRequest) -> HttpResponse:
    """Five requests a minute per IP; the sixth gets RATELIMIT_VIEW's 429."""
    return JsonResponse({"hello": "world"})


@method_decorator(ratelimit(key="ip", rate="3/m"), name="get")
class ItemList(APIView):
    """Three requests a minute per IP. Inside DRF the Ratelimited exception is a
    PermissionDenied, so DRF answers 403 (the DRF throttles answer 429)."""

    def get(self, request: Request) -> Response:
        return Response({"items": ["apple", "banana", "cherry"]})


def too_many_requests(request: HttpRequest, exception: Ratelimited) -> HttpResponse:
    """RATELIMIT_VIEW: what RatelimitMiddleware answers for a limited request."""
    return JsonResponse({"detail": "Too many requests."}, status=429)
