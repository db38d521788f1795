"""HTTP method selectors: which requests a limit applies to, and how the
selector takes part in the cache key (byte-compatible with django-ratelimit)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeAlias

#: Sentinel meaning "every HTTP method" (the same value django-ratelimit uses).
ALL: tuple[None] = (None,)
#: The methods that change state.
UNSAFE: list[str] = ["DELETE", "PATCH", "POST", "PUT"]

MethodSpec: TypeAlias = "str | Iterable[str | None] | None"


def _is_all(method: MethodSpec) -> bool:
    """``None`` means every method too; django-ratelimit documents it but crashes on it."""
    if method is None:
        return True
    if isinstance(method, str):
        return False
    return tuple(method) == ALL


def normalise_method(method: MethodSpec) -> str | tuple[str | None, ...] | None:
    """Freeze an iterable selector into a tuple so it can be read more than once."""
    if method is None or isinstance(method, str):
        return method
    return tuple(method)


def method_matches(method: MethodSpec, request_method: str | None) -> bool:
    """Return True when a request with ``request_method`` is subject to the limit."""
    if _is_all(method):
        return True
    wanted = [method] if isinstance(method, str) else list(method or ())
    return (request_method or "").upper() in {str(m).upper() for m in wanted if m is not None}


def method_set(method: MethodSpec) -> frozenset[str] | None:
    """The upper-case methods a selector admits, or None for every method:
    what a compiled limit tests each request's method against."""
    if _is_all(method):
        return None
    wanted = [method] if isinstance(method, str) else list(method or ())
    return frozenset(str(m).upper() for m in wanted if m is not None)


def method_key_part(method: MethodSpec) -> str:
    """The method selector's contribution to the cache key.

    Kept byte-identical to django-ratelimit 4.1 so counters carry over a
    migration: nothing for ALL, sorted uppercase names for a list, and a bare
    string exactly as written.
    """
    if _is_all(method):
        return ""
    if isinstance(method, str):
        return method
    return "".join(sorted(str(m).upper() for m in method or () if m is not None))
