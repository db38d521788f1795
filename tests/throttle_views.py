"""Views, throttles and dotted-path targets for tests/test_throttles.py.

Served with ``@pytest.mark.urls("tests.throttle_views")`` so the throttle tests
never edit the shared ``tests/urls.py``. Every view names its authentication
and throttle classes itself: DRF copies ``DEFAULT_*_CLASSES`` into APIView at
import, so the tests' ``settings.REST_FRAMEWORK`` could not change them.
"""

from __future__ import annotations

from typing import Any

from adrf.views import APIView as AsyncAPIView
from django.urls import path
from rest_framework import viewsets
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.decorators import api_view, throttle_classes
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from drf_ratelimit._request.ip import client_ip
from drf_ratelimit.throttles import (
    AnonRateThrottle,
    RatelimitThrottle,
    ScopedRateThrottle,
    UserRateThrottle,
)

AUTHENTICATION = [SessionAuthentication, TokenAuthentication]


def plan_rate(group: str, request: Request) -> str:
    """A dotted-path rate: members get more than anonymous clients."""
    return "3/m" if request.user.is_authenticated else "1/m"


# --- RatelimitThrottle subclasses --------------------------------------------------------


class ItemsThrottle(RatelimitThrottle):
    """A burst and a sustained rate, both enforced."""

    scope = "items"
    rate = ["3/m", "5/h"]  # noqa: RUF012


class PerViewThrottle(RatelimitThrottle):
    rate = "2/m"


class SharedGroupThrottle(RatelimitThrottle):
    rate = "2/m"
    group = "shared-reports"


class PostOnlyThrottle(RatelimitThrottle):
    rate = "1/m"
    method = "POST"


class LoginThrottle(RatelimitThrottle):
    scope = "login"
    key = "data:username"
    rate = "2/m"


class ApiKeyThrottle(RatelimitThrottle):
    scope = "api-key"
    key = "header:x-api-key"
    rate = "2/m"


class StaffExemptThrottle(RatelimitThrottle):
    rate = "1/m"

    def key(group: str, request: Request) -> str | None:  # type: ignore[misc]
        """Requests carrying X-Staff are exempt: nothing is counted."""
        return None if request.META.get("HTTP_X_STAFF") else client_ip(request)


class CallableRateThrottle(RatelimitThrottle):
    def rate(group: str, request: Request) -> str | None:  # type: ignore[misc]
        """No limit for members; one request a minute for everybody else."""
        return None if request.user.is_authenticated else "1/m"


class DottedRateThrottle(RatelimitThrottle):
    rate = "tests.throttle_views.plan_rate"


class DefaultRateThrottle(RatelimitThrottle):
    """rate None: REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['ratelimit']."""


class BurstThrottle(RatelimitThrottle):
    scope = "burst"
    rate = "1/m"


class SustainedThrottle(RatelimitThrottle):
    scope = "sustained"
    rate = "3/h"


class QuarterHourThrottle(RatelimitThrottle):
    scope = "quarter"
    rate = "1/15m"


class PerIpThrottle(RatelimitThrottle):
    scope = "per-ip"
    key = "ip"
    rate = "3/m"


class PerClientThrottle(RatelimitThrottle):
    """Same rate as PerIpThrottle, and for anonymous clients the same key value."""

    scope = "per-client"
    key = "user_or_ip"
    rate = "3/m"


class ReadThrottle(RatelimitThrottle):
    scope = "reads"
    rate = "2/m"
    method = "GET"


class WriteThrottle(RatelimitThrottle):
    scope = "writes"
    rate = "2/m"
    method = "POST"


class AsyncThrottle(RatelimitThrottle):
    scope = "async"
    rate = "2/m"


# --- views ---------------------------------------------------------------------------------


def make_view(name: str, *throttles: type[Any], base: type[APIView] = APIView, **attrs: Any) -> Any:
    """An APIView class answering GET and POST with ``{"view": name}``."""

    def get(self: APIView, request: Request) -> Response:
        return Response({"view": name})

    body = {
        "authentication_classes": AUTHENTICATION,
        "throttle_classes": list(throttles),
        "get": get,
        "post": get,
        "__module__": __name__,
        "__qualname__": name,
        **attrs,
    }
    return type(name, (base,), body)


AnonView = make_view("AnonView", AnonRateThrottle)
UserView = make_view("UserView", UserRateThrottle)
UploadsView = make_view("UploadsView", ScopedRateThrottle, throttle_scope="uploads")
MoreUploadsView = make_view("MoreUploadsView", ScopedRateThrottle, throttle_scope="uploads")
DownloadsView = make_view("DownloadsView", ScopedRateThrottle, throttle_scope="downloads")
UnscopedView = make_view("UnscopedView", ScopedRateThrottle)
PostOnlyView = make_view("PostOnlyView", PostOnlyThrottle)
LoginView = make_view("LoginView", LoginThrottle)
ApiKeyView = make_view("ApiKeyView", ApiKeyThrottle)
StaffExemptView = make_view("StaffExemptView", StaffExemptThrottle)
CallableRateView = make_view("CallableRateView", CallableRateThrottle)
DottedRateView = make_view("DottedRateView", DottedRateThrottle)
DefaultRateView = make_view("DefaultRateView", DefaultRateThrottle)
BurstSustainedView = make_view("BurstSustainedView", BurstThrottle, SustainedThrottle)
MinuteQuarterView = make_view("MinuteQuarterView", BurstThrottle, QuarterHourThrottle)
TwoScopesView = make_view("TwoScopesView", PerIpThrottle, PerClientThrottle)
ReadWriteView = make_view("ReadWriteView", ReadThrottle, WriteThrottle)


class AsyncView(AsyncAPIView):  # type: ignore[misc]  # adrf is untyped
    """An adrf view with an ``async def`` handler."""

    authentication_classes = AUTHENTICATION
    throttle_classes = [AsyncThrottle]  # noqa: RUF012

    async def get(self, request: Request) -> Response:
        return Response({"view": "async"})


class ItemViewSet(viewsets.ViewSet):
    authentication_classes = AUTHENTICATION
    throttle_classes = [ItemsThrottle, AnonRateThrottle]  # noqa: RUF012

    def list(self, request: Request) -> Response:
        return Response([{"id": 1}])

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response({"id": int(pk)})


@api_view(["GET"])
@throttle_classes([PerViewThrottle])
def report_a(request: Request) -> Response:
    return Response({"view": "report_a"})


@api_view(["GET"])
@throttle_classes([PerViewThrottle])
def report_b(request: Request) -> Response:
    return Response({"view": "report_b"})


@api_view(["GET"])
@throttle_classes([SharedGroupThrottle])
def shared_a(request: Request) -> Response:
    return Response({"view": "shared_a"})


@api_view(["GET"])
@throttle_classes([SharedGroupThrottle])
def shared_b(request: Request) -> Response:
    return Response({"view": "shared_b"})


router = SimpleRouter()
router.register("items", ItemViewSet, basename="item")

urlpatterns: list[Any] = [
    path("anon/", AnonView.as_view()),
    path("user/", UserView.as_view()),
    path("uploads/", UploadsView.as_view()),
    path("more-uploads/", MoreUploadsView.as_view()),
    path("downloads/", DownloadsView.as_view()),
    path("unscoped/", UnscopedView.as_view()),
    path("post-only/", PostOnlyView.as_view()),
    path("login/", LoginView.as_view()),
    path("api-key/", ApiKeyView.as_view()),
    path("staff-exempt/", StaffExemptView.as_view()),
    path("callable-rate/", CallableRateView.as_view()),
    path("dotted-rate/", DottedRateView.as_view()),
    path("default-rate/", DefaultRateView.as_view()),
    path("burst-sustained/", BurstSustainedView.as_view()),
    path("minute-quarter/", MinuteQuarterView.as_view()),
    path("two-scopes/", TwoScopesView.as_view()),
    path("read-write/", ReadWriteView.as_view()),
    path("async/", AsyncView.as_view()),
    path("report-a/", report_a),
    path("report-b/", report_b),
    path("shared-a/", shared_a),
    path("shared-b/", shared_b),
    *router.urls,
]
