"""The key grammar: which client a request counts against.

Resolution order is django-ratelimit's: a callable ``(group, request)``; the
simple keys ``ip``, ``user``, ``user_or_ip``; ``accessor:name`` for
``get``, ``post``, ``header`` and ``data`` (DRF's parsed ``request.data``,
which sees JSON bodies); a dotted path to a callable. A key function may
return ``None`` to exempt a request (nothing is counted), as DRF's
``get_cache_key`` does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from drf_ratelimit import conf
from drf_ratelimit._request.ip import client_ip, settled_client_ip
from drf_ratelimit._spec.loading import import_dotted
from drf_ratelimit._spec.rates import is_dotted_path
from drf_ratelimit.conf import RatelimitSettings

KeyFunc = Callable[[str, Any], object]

_HEADER_META_WITHOUT_PREFIX = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})


def _user(request: Any) -> Any:
    try:
        return request.user
    except AttributeError:
        raise ImproperlyConfigured(
            "Ratelimit key 'user' needs request.user: add "
            "'django.contrib.auth.middleware.AuthenticationMiddleware' to MIDDLEWARE"
        ) from None


def user_key(group: str, request: Any) -> str:
    """``str(pk)``; every anonymous request shares the ``'None'`` bucket, as upstream."""
    return str(getattr(_user(request), "pk", None))


def user_or_ip_key(group: str, request: Any) -> str:
    return _user_or_ip(conf.snapshot(), group, request)


def ip_key(group: str, request: Any) -> str:
    return client_ip(request)


def _get(request: Any, name: str) -> object:
    return request.GET.get(name, "")


def _post(request: Any, name: str) -> object:
    return request.POST.get(name, "")


def _header(request: Any, name: str) -> object:
    meta_name = name.upper().replace("-", "_")
    if meta_name not in _HEADER_META_WITHOUT_PREFIX:
        meta_name = "HTTP_" + meta_name
    return request.META.get(meta_name, "")


def _data(request: Any, name: str) -> object:
    """DRF's parsed body (JSON, form or multipart); plain Django requests use POST."""
    data = getattr(request, "data", None)
    if data is None:
        data = request.POST
    try:
        value = data.get(name, "")
    except AttributeError:  # a JSON list or scalar body has no fields
        return ""
    if isinstance(value, dict | list):
        # The client shapes a JSON body: a nested value is one more key value, not a 500.
        return json.dumps(value, sort_keys=True, default=str)
    return value


SIMPLE_KEYS: dict[str, KeyFunc] = {"ip": ip_key, "user": user_key, "user_or_ip": user_or_ip_key}
ACCESSORS: dict[str, Callable[[Any, str], object]] = {
    "get": _get,
    "post": _post,
    "header": _header,
    "data": _data,
}


def key_function(key: object) -> KeyFunc:
    """The callable behind a key spec; raises ImproperlyConfigured for a bad spec.

    Cheap and free of I/O, so it can validate keys when a decorator or throttle
    is declared.
    """
    if callable(key):
        return key
    if not isinstance(key, str) or not key:
        raise ImproperlyConfigured(f"Ratelimit key must be specified, got {key!r}")
    if key in SIMPLE_KEYS:
        return SIMPLE_KEYS[key]
    if ":" in key:
        return _accessor_key(key)
    if is_dotted_path(key):
        return _dotted_key(key)
    raise ImproperlyConfigured(f"Could not understand ratelimit key: {key!r}")


def compile_key(key: object, current: RatelimitSettings) -> KeyFunc:
    """:func:`key_function`, with the client-address keys bound to ``current``
    (a plan compiles its key once per settings, so a check reads none)."""
    func = key_function(key)
    if func is ip_key:
        return partial(_ip, current)
    if func is user_or_ip_key:
        return partial(_user_or_ip, current)
    return func


def _ip(current: RatelimitSettings, group: str, request: Any) -> str:
    return settled_client_ip(request, current)


def _user_or_ip(current: RatelimitSettings, group: str, request: Any) -> str:
    user = _user(request)
    if user is not None and user.is_authenticated:
        return str(user.pk)
    return settled_client_ip(request, current)


def _accessor_key(key: str) -> KeyFunc:
    accessor, _, name = key.partition(":")
    if accessor not in ACCESSORS:
        raise ImproperlyConfigured(
            f"Unknown ratelimit key: {key!r} (accessors are {', '.join(sorted(ACCESSORS))})"
        )
    read = ACCESSORS[accessor]
    return lambda group, request: read(request, name)


def _dotted_key(path: str) -> KeyFunc:
    def call(group: str, request: Any) -> object:
        func = import_dotted(path, "key")
        if not callable(func):
            raise ImproperlyConfigured(f"Ratelimit key {path!r} is not callable")
        return func(group, request)

    return call


def key_value(key: object, group: str, request: Any) -> str | None:
    """The client's bucket name for this request, or None to exempt it."""
    return normalise_value(key_function(key)(group, request), key)


def normalise_value(value: object, key: object = None) -> str | None:
    """Key values become text; bytes and numbers are accepted, not a TypeError."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, int | float):
        return str(value)
    raise ImproperlyConfigured(
        f"Ratelimit key {key!r} returned {value!r}; a key must give a str (or None to exempt)"
    )
