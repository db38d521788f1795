"""drf-spectacular integration: throttled operations document their 429.

drf-spectacular documents only success responses; a throttled endpoint's 429,
its ``Retry-After`` and (with ``RATELIMIT_HEADERS``) the ``RateLimit`` fields
are invisible to API clients unless every view repeats them by hand. This
schema class adds them to each operation that a throttle can deny:

* for the whole project, one setting::

      REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "drf_ratelimit.openapi.RatelimitAutoSchema"

* for one view, one line in its class: ``schema = RatelimitAutoSchema()``.

A project with an AutoSchema of its own subclasses this one instead, or calls
:func:`document_throttling` from its ``get_operation``. This module is the
only one that imports drf-spectacular; import it only where that is installed.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent

from drf_ratelimit import conf
from drf_ratelimit._spec.methods import method_matches, normalise_method
from drf_ratelimit.headers import POLICY_HEADER, STATUS_HEADER
from drf_ratelimit.throttles import BaseRatelimitThrottle, RatelimitThrottle

__all__ = ["RatelimitAutoSchema", "document_throttling"]

THROTTLED_COMPONENT = "Throttled"

_RETRY_AFTER = {
    "schema": {"type": "integer", "minimum": 1},
    "description": "Seconds to wait before retrying. Absent when the rate-limit cache is down.",
}
_RATELIMIT_HEADERS = {
    POLICY_HEADER: {
        "schema": {"type": "string"},
        "description": 'The quotas that apply, e.g. `"login-60s";q=5;w=60` '
        "(q requests per w seconds; IETF draft-ietf-httpapi-ratelimit-headers).",
    },
    STATUS_HEADER: {
        "schema": {"type": "string"},
        "description": 'The most restrictive quota now, e.g. `"login-60s";r=0;t=40` '
        "(r requests remaining, quota back in t seconds).",
    },
}
_BODY_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string", "readOnly": True}},
    "required": ["detail"],
}


class RatelimitAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus the 429 (and headers) of throttled operations."""

    def get_operation(
        self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any
    ) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is not None:
            document_throttling(self, operation)
        return operation


def document_throttling(schema: AutoSchema, operation: dict[str, Any]) -> None:
    """Add the 429 response and rate-limit headers to ``operation`` when it is throttled.

    A 429 the view documents itself (``@extend_schema(responses={429: ...})``)
    is left alone.
    """
    throttles = [t for t in schema.view.get_throttles() if _can_deny(t, schema.view, schema.method)]
    if not throttles:
        return
    responses = operation.setdefault("responses", {})
    headers = (
        any(isinstance(t, BaseRatelimitThrottle) for t in throttles) and conf.headers_enabled()
    )
    if "429" not in responses:
        responses["429"] = _throttled_response(schema, headers)
    if headers:
        for code, response in responses.items():
            if code.startswith("2"):
                response.setdefault("headers", {}).update(_RATELIMIT_HEADERS)


def _can_deny(throttle: Any, view: Any, method: str) -> bool:
    """False for throttles that never count this operation's requests."""
    scope_attr = getattr(throttle, "scope_attr", None)  # DRF's and our ScopedRateThrottle
    if scope_attr is not None and not getattr(view, scope_attr, None):
        return False
    if isinstance(throttle, RatelimitThrottle):
        return method_matches(normalise_method(throttle.method), method)
    return True


def _throttled_response(schema: AutoSchema, ratelimit_headers: bool) -> dict[str, Any]:
    component = ResolvedComponent(  # type: ignore[no-untyped-call]
        name=THROTTLED_COMPONENT,
        type=ResolvedComponent.SCHEMA,
        object=THROTTLED_COMPONENT,
        schema=_BODY_SCHEMA,
    )
    schema.registry.register_on_missing(component)
    headers = {"Retry-After": _RETRY_AFTER, **(_RATELIMIT_HEADERS if ratelimit_headers else {})}
    return {
        "description": "Too many requests: a rate limit was exceeded.",
        "headers": headers,
        "content": {
            media_type: {"schema": component.ref}
            for media_type in schema.map_renderers("media_type")
        },
    }
