"""drf_ratelimit.openapi: throttled operations document their 429 and headers."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("drf_spectacular")

from drf_spectacular.generators import SchemaGenerator

RATES = {"anon": "10/m", "user": "10/m", "uploads": "1/m"}


def schema(settings: Any, *, headers: bool = True, project_wide: bool = True) -> dict[str, Any]:
    settings.RATELIMIT_HEADERS = headers
    settings.REST_FRAMEWORK = {
        "DEFAULT_THROTTLE_RATES": RATES,
        "DEFAULT_SCHEMA_CLASS": "drf_ratelimit.openapi.RatelimitAutoSchema"
        if project_wide
        else "drf_spectacular.openapi.AutoSchema",
    }
    generated: dict[str, Any] = SchemaGenerator(urlconf="tests.openapi_views").get_schema(
        request=None, public=True
    )
    return generated


def responses(generated: dict[str, Any], path: str, method: str = "get") -> dict[str, Any]:
    result: dict[str, Any] = generated["paths"][path][method]["responses"]
    return result


def test_a_throttled_operation_documents_429_retry_after_and_ratelimit_headers(
    settings: Any,
) -> None:
    generated = schema(settings)
    anon = responses(generated, "/anon/")
    assert sorted(anon) == ["200", "429"]
    assert sorted(anon["429"]["headers"]) == ["RateLimit", "RateLimit-Policy", "Retry-After"]
    assert anon["429"]["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}
    assert anon["429"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Throttled"
    }
    assert sorted(anon["200"]["headers"]) == ["RateLimit", "RateLimit-Policy"]
    assert generated["components"]["schemas"]["Throttled"]["required"] == ["detail"]


def test_without_ratelimit_headers_only_retry_after_is_documented(settings: Any) -> None:
    anon = responses(schema(settings, headers=False), "/anon/")
    assert sorted(anon["429"]["headers"]) == ["Retry-After"]
    assert "headers" not in anon["200"]


def test_operations_no_throttle_can_deny_have_no_429(settings: Any) -> None:
    generated = schema(settings)
    assert "429" in responses(generated, "/login/", "post")
    assert "429" not in responses(generated, "/login/")  # LoginThrottle counts POSTs only
    assert "429" not in responses(generated, "/unthrottled/")
    assert "429" not in responses(generated, "/scope-missing/")  # no throttle_scope
    assert "429" in responses(generated, "/scoped/")


def test_drfs_own_throttles_get_a_429_without_ratelimit_headers(settings: Any) -> None:
    own = responses(schema(settings), "/drf-own/")
    assert sorted(own["429"]["headers"]) == ["Retry-After"]


def test_a_429_the_view_documents_itself_is_kept(settings: Any) -> None:
    documented = responses(schema(settings), "/documented/")
    assert documented["429"]["description"] == "Slow down"


def test_one_line_per_view_opt_in(settings: Any) -> None:
    generated = schema(settings, project_wide=False)
    assert "429" in responses(generated, "/per-view/")
    assert "429" not in responses(generated, "/anon/")
