"""The key grammar: which bucket a request counts against."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.test import RequestFactory
from model_bakery import baker
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from drf_ratelimit._request.keys import (
    ip_key,
    key_function,
    key_value,
    normalise_value,
    user_key,
    user_or_ip_key,
)

rf = RequestFactory()
PARSERS = [JSONParser(), FormParser(), MultiPartParser()]


# Helpers referred to by dotted path ("tests.request.test_keys.<name>").
def key_by_group_and_method(group: str, request: HttpRequest) -> str:
    return f"{group}|{request.method}"


def key_exempt(group: str, request: HttpRequest) -> None:
    return None


def key_bytes(group: str, request: HttpRequest) -> bytes:
    return b"raw-bytes"


not_callable = "just a string"


def _drf_json(body: object) -> Request:
    django_request = APIRequestFactory().post("/", body, format="json")
    return Request(django_request, parsers=PARSERS)


# ------------------------------------------------------------------ simple keys


def test_ip_key_is_remote_addr() -> None:
    request = rf.get("/", REMOTE_ADDR="10.1.2.3")
    assert key_value("ip", "g", request) == "10.1.2.3"
    assert key_function("ip") is ip_key


def test_user_key_is_the_primary_key(db: None) -> None:
    user = baker.make(User)
    request = rf.get("/")
    request.user = user
    assert key_value("user", "g", request) == str(user.pk)
    assert key_function("user") is user_key


def test_user_key_anonymous_shares_the_none_bucket() -> None:
    request = rf.get("/")
    request.user = AnonymousUser()
    assert key_value("user", "g", request) == "None"


@pytest.mark.parametrize("key", ["user", "user_or_ip"])
def test_user_keys_without_request_user_name_the_middleware(key: str) -> None:
    request = rf.get("/")
    assert not hasattr(request, "user")
    with pytest.raises(ImproperlyConfigured, match="AuthenticationMiddleware"):
        key_value(key, "g", request)


def test_user_or_ip_authenticated_is_the_primary_key(db: None) -> None:
    user = baker.make(User)
    request = rf.get("/", REMOTE_ADDR="10.1.2.3")
    request.user = user
    assert key_value("user_or_ip", "g", request) == str(user.pk)
    assert key_function("user_or_ip") is user_or_ip_key


def test_user_or_ip_anonymous_is_the_ip() -> None:
    request = rf.get("/", REMOTE_ADDR="10.1.2.3")
    request.user = AnonymousUser()
    assert key_value("user_or_ip", "g", request) == "10.1.2.3"


def test_user_key_on_a_drf_request(db: None) -> None:
    user = baker.make(User)
    request = Request(rf.get("/"))
    request.user = user
    assert key_value("user", "g", request) == str(user.pk)


# ------------------------------------------------------------------ accessors


@pytest.mark.parametrize(
    ("query", "expected"),
    [({"q": "hello"}, "hello"), ({"q": ""}, ""), ({}, ""), ({"other": "x"}, "")],
)
def test_get_accessor(query: dict[str, str], expected: str) -> None:
    assert key_value("get:q", "g", rf.get("/", query)) == expected


def test_get_accessor_reads_the_query_string_of_a_post() -> None:
    request = rf.post("/?q=from-query", {"q": "from-body"})
    assert key_value("get:q", "g", request) == "from-query"


@pytest.mark.parametrize(("body", "expected"), [({"q": "form"}, "form"), ({}, "")])
def test_post_accessor_reads_a_form_body(body: dict[str, str], expected: str) -> None:
    assert key_value("post:q", "g", rf.post("/", body)) == expected


def test_post_accessor_does_not_see_json() -> None:
    request = rf.post("/", {"q": "json"}, content_type="application/json")
    assert key_value("post:q", "g", request) == ""


@pytest.mark.parametrize(
    ("key", "headers", "expected"),
    [
        ("header:x-api-key", {"HTTP_X_API_KEY": "secret"}, "secret"),
        ("header:X-Api-Key", {"HTTP_X_API_KEY": "secret"}, "secret"),
        ("header:x-api-key", {}, ""),
        ("header:user-agent", {"HTTP_USER_AGENT": "curl/8"}, "curl/8"),
    ],
)
def test_header_accessor(key: str, headers: dict[str, str], expected: str) -> None:
    request = rf.get("/")
    request.META.update(headers)
    assert key_value(key, "g", request) == expected


def test_header_accessor_via_headers_argument() -> None:
    request = rf.get("/", headers={"X-Api-Key": "k1"})
    assert key_value("header:x-api-key", "g", request) == "k1"


def test_header_content_type_reaches_content_type() -> None:
    request = rf.post("/", "{}", content_type="application/json")
    assert request.META["CONTENT_TYPE"] == "application/json"
    assert key_value("header:content-type", "g", request) == "application/json"


def test_header_content_length_reaches_content_length() -> None:
    request = rf.post("/", "12345", content_type="text/plain")
    assert key_value("header:content-length", "g", request) == "5"


def test_data_accessor_reads_a_drf_json_body() -> None:
    request = _drf_json({"username": "alice", "password": "x"})
    assert key_value("data:username", "g", request) == "alice"
    assert key_value("data:missing", "g", request) == ""


def test_data_accessor_reads_a_drf_form_body() -> None:
    request = Request(APIRequestFactory().post("/", {"username": "carol"}), parsers=PARSERS)
    assert key_value("data:username", "g", request) == "carol"


def test_data_accessor_on_a_plain_django_request_falls_back_to_post() -> None:
    request = rf.post("/", {"username": "bob"})
    assert key_value("data:username", "g", request) == "bob"
    assert key_value("data:missing", "g", request) == ""


@pytest.mark.parametrize("body", [["alice", "bob"], [{"username": "alice"}], "alice", 5])
def test_data_accessor_on_a_non_object_json_body_is_empty(body: object) -> None:
    assert key_value("data:username", "g", _drf_json(body)) == ""


def test_post_accessor_on_a_drf_request_does_not_see_json() -> None:
    assert key_value("post:username", "g", _drf_json({"username": "alice"})) == ""


# ------------------------------------------------------------------ callables


def test_callable_receives_group_and_request() -> None:
    seen: list[tuple[str, Any]] = []

    def key(group: str, request: Any) -> str:
        seen.append((group, request))
        return "bucket"

    request = rf.get("/")
    assert key_function(key) is key
    assert key_value(key, "my.group", request) == "bucket"
    assert seen == [("my.group", request)]


def test_callable_returning_none_exempts() -> None:
    assert key_value(lambda group, request: None, "g", rf.get("/")) is None


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("tests.request.test_keys.key_by_group_and_method", "grp|PUT"),
        ("tests.request.test_keys.key_exempt", None),
        ("tests.request.test_keys.key_bytes", "raw-bytes"),
    ],
)
def test_dotted_path_key(key: str, expected: str | None) -> None:
    assert key_value(key, "grp", rf.put("/")) == expected


def test_dotted_path_that_does_not_import_names_it() -> None:
    path = "tests.request.test_keys.no_such_function"
    with pytest.raises(ImproperlyConfigured, match=path):
        key_value(path, "g", rf.get("/"))


def test_dotted_path_to_a_missing_module_names_it() -> None:
    path = "no_such_module.anywhere.func"
    with pytest.raises(ImproperlyConfigured, match=path):
        key_value(path, "g", rf.get("/"))


def test_dotted_path_to_a_non_callable() -> None:
    with pytest.raises(ImproperlyConfigured, match="not callable"):
        key_value("tests.request.test_keys.not_callable", "g", rf.get("/"))


# ------------------------------------------------------------------ bad specs


@pytest.mark.parametrize("key", ["field:x", "GET:q", "cookie:sessionid", ":x"])
def test_unknown_accessor(key: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="Unknown ratelimit key") as excinfo:
        key_function(key)
    assert repr(key) in str(excinfo.value)


@pytest.mark.parametrize("key", ["nonsense", "IP", "ip ", "a b"])
def test_not_understood(key: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="Could not understand") as excinfo:
        key_function(key)
    assert repr(key) in str(excinfo.value)


@pytest.mark.parametrize("key", ["", None, 0, 5, b"ip", ["ip"]])
def test_empty_or_non_string_key(key: object) -> None:
    with pytest.raises(ImproperlyConfigured, match="must be specified"):
        key_function(key)


def test_key_function_does_no_io_for_a_dotted_path() -> None:
    # Validating at declaration time must not import (or fail on) the target.
    assert callable(key_function("tests.request.test_keys.no_such_function"))


# ------------------------------------------------------------------ normalise_value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", "text"),
        ("", ""),
        (b"bytes", "bytes"),
        (bytearray(b"ba"), "ba"),
        (b"\xff\xfe", "\\xff\\xfe"),
        ("é".encode(), "é"),
        (42, "42"),
        (0, "0"),
        (1.5, "1.5"),
        (None, None),
    ],
)
def test_normalise_value(value: object, expected: str | None) -> None:
    assert normalise_value(value) == expected


@pytest.mark.parametrize("value", [["a"], ("a",), {"a": 1}, object()])
def test_normalise_value_rejects_other_types(value: object) -> None:
    with pytest.raises(ImproperlyConfigured, match="must give a str") as excinfo:
        normalise_value(value, "my-key")
    assert "'my-key'" in str(excinfo.value)


def test_key_returning_a_list_is_improperly_configured() -> None:
    with pytest.raises(ImproperlyConfigured):
        key_value(lambda group, request: ["a"], "g", rf.get("/"))


def test_key_returning_an_int_is_accepted() -> None:
    assert key_value(lambda group, request: 7, "g", rf.get("/")) == "7"
