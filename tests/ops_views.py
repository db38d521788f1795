"""Views for the lookup, testing-helper, management-command, signal and OpenAPI tests.

Served with ``@pytest.mark.urls("tests.ops_views")``.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views import View
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import api_view, throttle_classes
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from drf_ratelimit.decorators import ratelimit
from drf_ratelimit.throttles import (
    AnonRateThrottle,
    RatelimitThrottle,
    ScopedRateThrottle,
    UserRateThrottle,
)


@ratelimit(key="ip", rate="2/m")
def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse("hello")


@ratelimit(key="ip", rate="1/m", block=False)
def soft(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"limited={request.limited}")  # type: ignore[attr-defined]


@ratelimit(key="ip", rate="5/m")
@ratelimit(key="get:q", rate="2/m", method="GET")
def search(request: HttpRequest) -> HttpResponse:
    return HttpResponse("search")


@ratelimit(group="login", key="post:username", rate="3/m", method="POST")
def form_login(request: HttpRequest) -> HttpResponse:
    return HttpResponse("form login")


class Plain(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("plain")


wrapped_plain = ratelimit(key="ip", rate="1/m")(Plain.as_view())


def unlimited(request: HttpRequest) -> HttpResponse:
    return HttpResponse("unlimited")


class LoginThrottle(RatelimitThrottle):
    key = "data:username"
    rate = ("2/m", "10/h")
    method = "POST"
    scope = "login"


class Login(APIView):
    authentication_classes = ()
    throttle_classes = (LoginThrottle,)

    def get(self, request: Request) -> Response:
        return Response({"form": "login"})

    def post(self, request: Request) -> Response:
        return Response({"user": request.data.get("username")})


class Items(APIView):
    authentication_classes = (SessionAuthentication,)
    throttle_classes = (AnonRateThrottle, UserRateThrottle)

    def get(self, request: Request) -> Response:
        return Response({"items": []})


class Uploads(APIView):
    authentication_classes = ()
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "uploads"

    def post(self, request: Request) -> Response:
        return Response({"ok": True})


class Unthrottled(APIView):
    authentication_classes = ()
    throttle_classes = ()

    def get(self, request: Request) -> Response:
        return Response({})


class ReportThrottle(RatelimitThrottle):
    key = "ip"
    rate = "1/m"


@api_view(["GET"])
@throttle_classes([ReportThrottle])
def report(request: Request) -> Response:
    return Response({"report": True})


urlpatterns = [
    path("hello/", hello),
    path("soft/", soft),
    path("search/", search),
    path("form-login/", form_login),
    path("plain/", wrapped_plain),
    path("unlimited/", unlimited),
    path("login/", Login.as_view()),
    path("items/", Items.as_view()),
    path("uploads/", Uploads.as_view()),
    path("unthrottled/", Unthrottled.as_view()),
    path("report/", report),
]
