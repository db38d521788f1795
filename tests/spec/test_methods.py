"""HTTP method selectors: matching, and their (django-ratelimit compatible) key part."""

from __future__ import annotations

from typing import Any

import pytest

from drf_ratelimit._spec.methods import ALL, UNSAFE, method_key_part, method_matches

METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]


def test_constants() -> None:
    assert ALL == (None,)
    assert sorted(UNSAFE) == ["DELETE", "PATCH", "POST", "PUT"]


@pytest.mark.parametrize("request_method", [*METHODS, "get", "", None])
@pytest.mark.parametrize("spec", [ALL, None, (None,), [None]], ids=repr)
def test_all_matches_every_method(spec: Any, request_method: str | None) -> None:
    assert method_matches(spec, request_method) is True


@pytest.mark.parametrize(
    ("spec", "request_method", "expected"),
    [
        (UNSAFE, "POST", True),
        (UNSAFE, "PUT", True),
        (UNSAFE, "PATCH", True),
        (UNSAFE, "DELETE", True),
        (UNSAFE, "GET", False),
        (UNSAFE, "HEAD", False),
        (UNSAFE, "OPTIONS", False),
        ("POST", "POST", True),
        ("POST", "GET", False),
        ("post", "POST", True),
        ("post", "GET", False),
        ("Post", "POST", True),
        ("POST", "post", True),
        (["post", "get"], "GET", True),
        (["post", "get"], "POST", True),
        (["post", "get"], "PUT", False),
        (("GET",), "GET", True),
        (("GET",), "POST", False),
        (("get", "head"), "HEAD", True),
        ({"PUT"}, "PUT", True),
        ([], "GET", False),
        ((), "GET", False),
        ("POST", None, False),
        ("POST", "", False),
        ([None, "GET"], "GET", True),
        ([None, "GET"], "POST", False),
    ],
    ids=repr,
)
def test_method_matches(spec: Any, request_method: str | None, expected: bool) -> None:
    assert method_matches(spec, request_method) is expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (ALL, ""),
        (None, ""),
        ((None,), ""),
        ([None], ""),
        (UNSAFE, "DELETEPATCHPOSTPUT"),
        ("POST", "POST"),
        ("GET", "GET"),
        (["post", "get"], "GETPOST"),
        (["POST", "GET"], "GETPOST"),
        (["GET", "POST"], "GETPOST"),
        (("post", "get"), "GETPOST"),
        (("get",), "GET"),
        (["put", "Delete"], "DELETEPUT"),
        ([], ""),
        ([None, "post"], "POST"),
    ],
    ids=repr,
)
def test_method_key_part(spec: Any, expected: str) -> None:
    assert method_key_part(spec) == expected


@pytest.mark.parametrize(("spec", "expected"), [("post", "post"), ("Post", "Post")])
def test_bare_string_key_part_keeps_its_case(spec: str, expected: str) -> None:
    """Compatibility quirk: django-ratelimit appends a bare string as written, so
    'post' and 'POST' give different cache keys though both match POST requests."""
    assert method_key_part(spec) == expected
    assert method_key_part(spec) != method_key_part("POST")
    assert method_matches(spec, "POST") is True


def test_list_and_tuple_give_the_same_key_part() -> None:
    assert method_key_part(["GET", "POST"]) == method_key_part(("POST", "GET"))
    assert method_key_part(["post"]) == method_key_part("POST") == "POST"


def test_unsafe_list_is_not_mutated() -> None:
    before = list(UNSAFE)
    method_key_part(UNSAFE)
    method_matches(UNSAFE, "POST")
    assert before == UNSAFE
