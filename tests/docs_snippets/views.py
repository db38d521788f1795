"""Views and throttles shown in the docs (decorator, throttles, OpenAPI pages)."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

# --8<-- [start:signature]
from drf_ratelimit.decorators import ratelimit


@ratelimit(group=None, key=None, rate=None, method=ratelimit.ALL, block=True)
def view(request): ...


# --8<-- [end:signature]


# --8<-- [start:class-based]
@method_decorator(ratelimit(key="ip", rate="10/m"), name="post")
class Login(View):
    def post(self, request):
        return HttpResponse("logged in")


# --8<-- [end:class-based]


# --8<-- [start:get-usage]
from drf_ratelimit.core import get_usage


def login(request):
    usage = get_usage(request, group="login", key="post:username", rate="5/m", increment=True)
    if usage is not None and usage["should_limit"]:
        return HttpResponse("Too many attempts for this account; wait a minute.", status=429)
    return HttpResponse("checking the password")


# --8<-- [end:get-usage]


# --8<-- [start:login-throttle]
from drf_ratelimit.throttles import RatelimitThrottle


class LoginThrottle(RatelimitThrottle):
    key = "data:username"  # the username in the JSON body
    rate = ("5/m", "20/h")  # a burst and a sustained rate, both enforced
    method = "POST"  # only POSTs are counted
    scope = "login"  # the name of the policy in the RateLimit headers


class LoginView(APIView):
    throttle_classes = (LoginThrottle,)

    def post(self, request: Request) -> Response:
        return Response({"detail": "checking the password"})


# --8<-- [end:login-throttle]
