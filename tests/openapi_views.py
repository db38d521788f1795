"""Views for tests/test_openapi.py (imported only when drf-spectacular is installed)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle as DrfScopedRateThrottle
from rest_framework.throttling import UserRateThrottle as DrfUserRateThrottle
from rest_framework.views import APIView

from drf_ratelimit.openapi import RatelimitAutoSchema
from drf_ratelimit.throttles import AnonRateThrottle, ScopedRateThrottle
from tests.ops_views import LoginThrottle


class ThingSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField()


class Base(APIView):
    serializer_class = ThingSerializer
    authentication_classes = ()

    def get(self, request: Request) -> Response:
        return Response({"name": "thing"})


class Login(Base):
    throttle_classes = (LoginThrottle,)  # POST only

    def post(self, request: Request) -> Response:
        return Response({"name": "thing"})


class Anon(Base):
    throttle_classes = (AnonRateThrottle,)


class Scoped(Base):
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "uploads"


class ScopeMissing(Base):
    throttle_classes = (DrfScopedRateThrottle,)


class DrfOwn(Base):
    throttle_classes = (DrfUserRateThrottle,)


class Unthrottled(Base):
    throttle_classes = ()


class Documented(Base):
    throttle_classes = (AnonRateThrottle,)

    @extend_schema(responses={200: ThingSerializer, 429: OpenApiResponse(description="Slow down")})
    def get(self, request: Request) -> Response:
        return Response({"name": "thing"})


class PerView(Base):
    """The one-line opt-in for a project whose schema class is drf-spectacular's own."""

    throttle_classes = (AnonRateThrottle,)
    schema = RatelimitAutoSchema()


urlpatterns = [
    path("login/", Login.as_view()),
    path("anon/", Anon.as_view()),
    path("scoped/", Scoped.as_view()),
    path("scope-missing/", ScopeMissing.as_view()),
    path("drf-own/", DrfOwn.as_view()),
    path("unthrottled/", Unthrottled.as_view()),
    path("documented/", Documented.as_view()),
    path("per-view/", PerView.as_view()),
]
