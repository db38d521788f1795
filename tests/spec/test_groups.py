"""Automatic group names (django-ratelimit's scheme, minus its as_view collision)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.utils.decorators import method_decorator
from django.views import View
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from drf_ratelimit._spec.groups import group_for, view_class_name

rf = RequestFactory()
captured: list[str] = []


def capture_group(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A decorator that records the group of what it is given, as @ratelimit would."""
    captured.append(group_for(fn))
    return fn


def f(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


class Holder:
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")


@method_decorator(capture_group, name="get")
class DecoratedView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")


class SomeView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("some")


class OtherView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("other")


class SomeAPIView(APIView):
    def get(self, request: Request) -> Response:
        return Response("api")


@api_view(["GET"])
def my_api_function(request: Request) -> Response:
    return Response("a")


@api_view(["GET", "POST"])
def another_api_function(request: Request) -> Response:
    return Response("b")


def test_plain_function() -> None:
    assert group_for(f) == "tests.spec.test_groups.f"


def test_partial_of_a_function_is_unwrapped() -> None:
    assert group_for(functools.partial(f)) == "tests.spec.test_groups.f"


def test_partial_of_a_bound_method_repeats_the_class() -> None:
    """What method_decorator passes: module.Class.Class.get (upstream's quirk)."""
    bound = functools.partial(Holder().get)
    assert group_for(bound) == "tests.spec.test_groups.Holder.Holder.get"


def test_real_method_decorator() -> None:
    captured.clear()
    response = DecoratedView.as_view()(rf.get("/"))
    assert response.status_code == 200
    assert captured == ["tests.spec.test_groups.DecoratedView.DecoratedView.get"]


def test_bound_method() -> None:
    assert group_for(Holder().get) == "tests.spec.test_groups.Holder.Holder.get"


def test_unbound_method_uses_the_qualname() -> None:
    assert group_for(Holder.get) == "tests.spec.test_groups.Holder.get"


def test_nested_function_keeps_its_qualname() -> None:
    def inner(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    group = group_for(inner)
    assert group == "tests.spec.test_groups.test_nested_function_keeps_its_qualname.<locals>.inner"


def test_as_view_is_named_after_the_view_class() -> None:
    assert group_for(SomeView.as_view()) == "tests.spec.test_groups.SomeView.as_view"


def test_two_views_in_one_module_get_different_groups() -> None:
    some, other = group_for(SomeView.as_view()), group_for(OtherView.as_view())
    assert some != other
    assert other == "tests.spec.test_groups.OtherView.as_view"


def test_as_view_is_stable_across_calls() -> None:
    assert group_for(SomeView.as_view()) == group_for(SomeView.as_view())


def test_drf_apiview_as_view() -> None:
    assert group_for(SomeAPIView.as_view()) == "tests.spec.test_groups.SomeAPIView.as_view"


def test_drf_api_view_function_contains_its_name() -> None:
    group = group_for(my_api_function)
    assert "my_api_function" in group
    assert group.startswith("tests.spec.test_groups.")
    assert "<locals>" not in group


def test_two_api_view_functions_get_different_groups() -> None:
    assert group_for(my_api_function) != group_for(another_api_function)


def test_drf_api_view_function_exact_group() -> None:
    assert group_for(my_api_function) == "tests.spec.test_groups.my_api_function.as_view"


def test_view_class_defined_in_a_function_uses_its_name() -> None:
    class LocalView(View):
        def get(self, request: HttpRequest) -> HttpResponse:
            return HttpResponse("local")

    assert group_for(LocalView.as_view()) == "tests.spec.test_groups.LocalView.as_view"


def test_nested_view_class_keeps_its_qualname() -> None:
    assert group_for(Outer.InnerView.as_view()) == "tests.spec.test_groups.Outer.InnerView.as_view"


class Outer:
    class InnerView(View):
        def get(self, request: HttpRequest) -> HttpResponse:
            return HttpResponse("inner")


# --- view_class_name: the throttles' default group -----------------------------------


def test_view_class_name_of_a_view_class() -> None:
    assert view_class_name(SomeAPIView) == "tests.spec.test_groups.SomeAPIView"
    assert view_class_name(SomeView) == "tests.spec.test_groups.SomeView"


def test_view_class_name_of_an_api_view_function() -> None:
    """``@api_view`` builds a class whose qualname is "WrappedAPIView" for every
    function; the function's name is what tells them apart."""
    cls = my_api_function.cls  # type: ignore[attr-defined]
    assert cls.__qualname__ != "my_api_function"
    assert view_class_name(cls) == "tests.spec.test_groups.my_api_function"
    other = another_api_function.cls  # type: ignore[attr-defined]
    assert view_class_name(other) == "tests.spec.test_groups.another_api_function"


def test_view_class_name_of_a_nested_class_keeps_the_qualname() -> None:
    assert view_class_name(Outer.InnerView) == "tests.spec.test_groups.Outer.InnerView"


def test_view_class_name_of_a_local_class_uses_its_name() -> None:
    class LocalAPIView(APIView):
        pass

    assert "<locals>" in LocalAPIView.__qualname__
    assert view_class_name(LocalAPIView) == "tests.spec.test_groups.LocalAPIView"


def test_view_class_name_of_a_local_api_view_function() -> None:
    @api_view(["GET"])
    def local_function(request: Request) -> Response:
        return Response("local")

    cls = local_function.cls  # type: ignore[attr-defined]
    assert view_class_name(cls) == "tests.spec.test_groups.local_function"


def test_view_class_name_of_a_renamed_class_uses_its_name() -> None:
    """A class whose ``__name__`` was changed after creation (as @api_view does)."""
    renamed = type("Original", (APIView,), {"__module__": "myapp.views"})
    renamed.__name__ = "Renamed"
    assert view_class_name(renamed) == "myapp.views.Renamed"


def test_view_class_name_matches_group_for_as_view() -> None:
    """The decorator's group of ``as_view()`` is the class name plus ``.as_view``."""
    for cls in (SomeAPIView, Outer.InnerView, my_api_function.cls):  # type: ignore[attr-defined]
        assert group_for(cls.as_view()) == f"{view_class_name(cls)}.as_view"
