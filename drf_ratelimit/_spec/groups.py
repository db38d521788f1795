"""Automatic group names for decorated views (django-ratelimit's scheme)."""

from __future__ import annotations

import functools
from typing import Any


def group_for(fn: Any) -> str:
    """``module[.SelfClass].qualname`` of the view function.

    ``functools.partial`` (what ``method_decorator`` passes) is unwrapped first.
    Kept identical to django-ratelimit so counters carry over, except where it
    collides: every ``as_view()`` function (and every ``@api_view``) of a module
    has the qualname ``...as_view.<locals>.view``, so such views are named
    after their view class instead and no longer share one counter.
    """
    if isinstance(fn, functools.partial):
        fn = fn.func
    view_class = getattr(fn, "view_class", None)
    if view_class is not None and fn.__qualname__.endswith("as_view.<locals>.view"):
        return f"{view_class_name(view_class)}.as_view"
    parts = [fn.__module__]
    if hasattr(fn, "__self__"):
        parts.append(type(fn.__self__).__name__)
    parts.append(fn.__qualname__)
    return ".".join(parts)


def view_class_name(view_class: type) -> str:
    """``module.Class`` of a view class: the throttles' default group.

    DRF's ``@api_view`` class carries the function's ``__name__`` only: its
    ``__qualname__`` is "WrappedAPIView" (DRF >= 3.15, built with ``type()``) or
    "...<locals>..." (older), so two function views would share one name.
    """
    name = view_class.__qualname__
    if "<locals>" in name or name.rpartition(".")[2] != view_class.__name__:
        name = view_class.__name__
    return f"{view_class.__module__}.{name}"
