"""The example API: one endpoint per way of limiting.

* ``hello``: a plain Django view with ``@ratelimit``;
* ``ItemList``: a list endpoint with a two-rate ``RatelimitThrottle`` per IP;
* ``Login``: throttled per username read from the body (``data:username``),
  so guessing one account's password is slowed down whatever the client IP;
* ``Upload``: DRF's ``ScopedRateThrottle`` contract, with a burst and a
  sustained rate in ``DEFAULT_THROTTLE_RATES["uploads"]``.
"""

from django.contrib.auth import authenticate
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from drf_ratelimit.decorators import ratelimit
from drf_ratelimit.exceptions import Ratelimited
from drf_ratelimit.throttles import RatelimitThrottle, ScopedRateThrottle


# --8<-- [start:hello]
@ratelimit(key="ip", rate="5/m")
def hello(request: HttpRequest) -> HttpResponse:
    """Five requests a minute per IP; the sixth gets RATELIMIT_VIEW's 429."""
    return JsonResponse({"hello": "world"})


# --8<-- [end:hello]


class ItemsSerializer(serializers.Serializer):
    items = serializers.ListField(child=serializers.CharField())


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(write_only=True)


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField()


# --8<-- [start:items]
class ItemsThrottle(RatelimitThrottle):
    """Three requests a minute and twenty an hour, per client IP."""

    key = "ip"
    rate = ("3/m", "20/h")
    scope = "items"


class ItemList(APIView):
    """The fourth request in a minute gets DRF's 429 with Retry-After and,
    since RATELIMIT_HEADERS is on, the RateLimit-Policy and RateLimit headers."""

    throttle_classes = (ItemsThrottle,)
    serializer_class = ItemsSerializer  # for the OpenAPI schema

    def get(self, request: Request) -> Response:
        return Response({"items": ["apple", "banana", "cherry"]})


# --8<-- [end:items]


# --8<-- [start:login]
class LoginThrottle(RatelimitThrottle):
    """Five attempts a minute and twenty an hour per username, from any IP."""

    key = "data:username"  # the username in the JSON or form body
    rate = ("5/m", "20/h")  # a burst and a sustained rate, both enforced
    method = "POST"  # only POSTs are counted
    scope = "login"  # the policy name in the RateLimit headers


class Login(APIView):
    throttle_classes = (LoginThrottle,)
    serializer_class = CredentialsSerializer

    def post(self, request: Request) -> Response:
        user = authenticate(
            request._request,
            username=request.data.get("username"),
            password=request.data.get("password"),
        )
        if user is None:
            return Response({"detail": "Wrong username or password."}, status=400)
        return Response({"detail": f"Welcome, {user.get_username()}."})


# --8<-- [end:login]


# --8<-- [start:upload]
class Upload(APIView):
    """Limited by DEFAULT_THROTTLE_RATES["uploads"]: a burst and a daily rate."""

    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "uploads"
    serializer_class = UploadSerializer

    def post(self, request: Request) -> Response:
        upload = request.data.get("file")
        size = getattr(upload, "size", len(str(upload or "")))
        return Response({"received": size}, status=status.HTTP_201_CREATED)


# --8<-- [end:upload]


# --8<-- [start:ratelimited-view]
def too_many_requests(request: HttpRequest, exception: Ratelimited) -> HttpResponse:
    """RATELIMIT_VIEW: what RatelimitMiddleware answers for a limited request."""
    return JsonResponse({"detail": "Too many requests."}, status=429)


# --8<-- [end:ratelimited-view]
