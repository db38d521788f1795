"""A plain Django view limited with ``@ratelimit`` and a DRF endpoint with a throttle."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from drf_ratelimit.decorators import ratelimit
from drf_ratelimit.exceptions import Ratelimited
from drf_ratelimit.throttles import RatelimitThrottle


@ratelimit(key="ip", rate="5/m")
def hello(request: HttpRequest) -> HttpResponse:
    """Five requests a minute per IP; the sixth gets RATELIMIT_VIEW's 429."""
    return JsonResponse({"hello": "world"})


class ItemsThrottle(RatelimitThrottle):
    """Three requests a minute and twenty an hour, per client IP."""

    key = "ip"
    rate = ("3/m", "20/h")
    scope = "items"


class ItemList(APIView):
    """The fourth request in a minute gets DRF's 429 with Retry-After and,
    since RATELIMIT_HEADERS is on, the RateLimit-Policy and RateLimit headers."""

    throttle_classes = (ItemsThrottle,)

    def get(self, request: Request) -> Response:
        return Response({"items": ["apple", "banana", "cherry"]})


def too_many_requests(request: HttpRequest, exception: Ratelimited) -> HttpResponse:
    """RATELIMIT_VIEW: what RatelimitMiddleware answers for a limited request."""
    return JsonResponse({"detail": "Too many requests."}, status=429)
