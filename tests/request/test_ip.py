"""Client IP: REMOTE_ADDR by default, masks, the META-key escape hatch, proxies."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.test import RequestFactory

from drf_ratelimit._request.ip import client_ip, mask_ip, raw_client_ip
from drf_ratelimit._request.keys import key_value

rf = RequestFactory()


def real_ip_from_header(request: HttpRequest) -> str:
    """Referred to as 'tests.request.test_ip.real_ip_from_header'."""
    return str(request.META.get("HTTP_X_REAL_IP", "0.0.0.0"))


def _request(remote: str | None = "203.0.113.7", xff: str | None = None, **meta: str) -> Any:
    request = rf.get("/")
    request.META.update(meta)
    if remote is None:
        del request.META["REMOTE_ADDR"]
    else:
        request.META["REMOTE_ADDR"] = remote
    if xff is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = xff
    return request


# ------------------------------------------------------------------ defaults


def test_remote_addr_is_the_default() -> None:
    assert client_ip(_request("203.0.113.7")) == "203.0.113.7"
    assert key_value("ip", "g", _request("198.51.100.1")) == "198.51.100.1"


@pytest.mark.parametrize("xff", ["1.1.1.1", "1.1.1.1, 2.2.2.2", "", "garbage", "::1"])
def test_x_forwarded_for_is_ignored_by_default(xff: str) -> None:
    assert client_ip(_request("203.0.113.7", xff=xff)) == "203.0.113.7"


def test_spoofed_header_does_not_change_the_bucket() -> None:
    plain = key_value("ip", "g", _request("203.0.113.7"))
    spoofed = key_value("ip", "g", _request("203.0.113.7", xff="9.9.9.9"))
    assert plain == spoofed == "203.0.113.7"


@pytest.mark.parametrize("remote", ["", None])
def test_empty_or_missing_remote_addr(remote: str | None) -> None:
    with pytest.raises(ImproperlyConfigured, match="REMOTE_ADDR is empty"):
        client_ip(_request(remote))


# ------------------------------------------------------------------ RATELIMIT_IP_META_KEY


def test_meta_key_literal_present(settings: Any) -> None:
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_REAL_IP"
    request = _request("10.0.0.1", HTTP_X_REAL_IP="198.51.100.9")
    assert client_ip(request) == "198.51.100.9"


def test_meta_key_literal_value_is_stripped(settings: Any) -> None:
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_REAL_IP"
    assert client_ip(_request("10.0.0.1", HTTP_X_REAL_IP=" 198.51.100.9 ")) == "198.51.100.9"


@pytest.mark.parametrize("meta", [{}, {"HTTP_X_REAL_IP": ""}])
def test_meta_key_literal_absent_falls_back_to_remote_addr(
    settings: Any, meta: dict[str, str]
) -> None:
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_REAL_IP"
    assert client_ip(_request("10.0.0.1", **meta)) == "10.0.0.1"


def test_meta_key_callable(settings: Any) -> None:
    seen: list[Any] = []

    def pick(request: Any) -> str:
        seen.append(request)
        return "192.0.2.44"

    settings.RATELIMIT_IP_META_KEY = pick
    request = _request("10.0.0.1")
    assert client_ip(request) == "192.0.2.44"
    assert seen == [request]


def test_meta_key_callable_result_is_masked(settings: Any) -> None:
    settings.RATELIMIT_IP_META_KEY = lambda request: "192.0.2.44"
    settings.RATELIMIT_IPV4_MASK = 24
    assert client_ip(_request("10.0.0.1")) == "192.0.2.0"
    assert raw_client_ip(_request("10.0.0.1")) == "192.0.2.44"


def test_meta_key_dotted_path(settings: Any) -> None:
    settings.RATELIMIT_IP_META_KEY = "tests.request.test_ip.real_ip_from_header"
    assert client_ip(_request("10.0.0.1", HTTP_X_REAL_IP="198.51.100.3")) == "198.51.100.3"


def test_meta_key_dotted_path_that_does_not_import(settings: Any) -> None:
    settings.RATELIMIT_IP_META_KEY = "tests.request.test_ip.nope"
    with pytest.raises(ImproperlyConfigured, match="RATELIMIT_IP_META_KEY"):
        client_ip(_request())


def test_meta_key_callable_returning_none_falls_back(settings: Any) -> None:
    settings.RATELIMIT_IP_META_KEY = lambda request: None
    assert client_ip(_request("10.0.0.1")) == "10.0.0.1"


# ------------------------------------------------------------------ masks


@pytest.mark.parametrize(
    ("address", "v4", "v6", "expected"),
    [
        ("1.2.3.4", 32, 64, "1.2.3.4"),
        ("1.2.3.4", 24, 64, "1.2.3.0"),
        ("1.2.3.4", 16, 64, "1.2.0.0"),
        ("1.2.3.4", 0, 64, "0.0.0.0"),
        ("2001:db8:1:2:3:4:5:6", 32, 64, "2001:db8:1:2::"),
        ("2001:db8:1:2:3:4:5:6", 32, 128, "2001:db8:1:2:3:4:5:6"),
        ("2001:db8:1:2:3:4:5:6", 32, 48, "2001:db8:1::"),
        ("::ffff:1.2.3.4", 32, 64, "1.2.3.4"),
        ("::ffff:1.2.3.4", 24, 64, "1.2.3.0"),
        ("::ffff:1.2.3.4", 32, 128, "1.2.3.4"),
        ("not-an-ip", 24, 64, "not-an-ip"),
        ("", 32, 64, ""),
        ("1.2.3.4, 5.6.7.8", 32, 64, "1.2.3.4, 5.6.7.8"),
        ("unix:/run/gunicorn.sock", 32, 64, "unix:/run/gunicorn.sock"),
    ],
)
def test_mask_ip(address: str, v4: int, v6: int, expected: str) -> None:
    assert mask_ip(address, v4, v6) == expected


def test_ipv4_mapped_addresses_do_not_collapse(settings: Any) -> None:
    a = client_ip(_request("::ffff:1.2.3.4"))
    b = client_ip(_request("::ffff:5.6.7.8"))
    assert (a, b) == ("1.2.3.4", "5.6.7.8")
    assert a != "::"


@pytest.mark.parametrize(
    ("v4", "v6", "remote", "expected"),
    [
        (32, 64, "1.2.3.4", "1.2.3.4"),
        (24, 64, "1.2.3.4", "1.2.3.0"),
        (16, 64, "1.2.3.4", "1.2.0.0"),
        (32, 64, "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::"),
        (32, 128, "2001:db8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5:6"),
    ],
)
def test_mask_settings(settings: Any, v4: int, v6: int, remote: str, expected: str) -> None:
    settings.RATELIMIT_IPV4_MASK = v4
    settings.RATELIMIT_IPV6_MASK = v6
    assert client_ip(_request(remote)) == expected


def test_non_ip_remote_addr_is_returned_unchanged() -> None:
    assert client_ip(_request("not-an-ip")) == "not-an-ip"


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("RATELIMIT_IPV4_MASK", 33),
        ("RATELIMIT_IPV4_MASK", -1),
        ("RATELIMIT_IPV4_MASK", "24"),
        ("RATELIMIT_IPV4_MASK", 24.0),
        ("RATELIMIT_IPV4_MASK", True),
        ("RATELIMIT_IPV4_MASK", None),
        ("RATELIMIT_IPV6_MASK", 129),
        ("RATELIMIT_IPV6_MASK", -1),
        ("RATELIMIT_IPV6_MASK", "64"),
    ],
)
def test_invalid_mask_settings(settings: Any, setting: str, value: object) -> None:
    setattr(settings, setting, value)
    with pytest.raises(ImproperlyConfigured, match=setting):
        client_ip(_request("1.2.3.4"))


# ------------------------------------------------------------------ RATELIMIT_TRUSTED_PROXIES


@pytest.mark.parametrize(
    ("remote", "xff", "expected"),
    [
        # REMOTE_ADDR not a trusted proxy: the header is the client's own words.
        ("203.0.113.7", "1.1.1.1", "203.0.113.7"),
        ("203.0.113.7", "10.0.0.5", "203.0.113.7"),
        # trusted: the right-most hop that is not a trusted proxy
        ("10.0.0.1", "198.51.100.2", "198.51.100.2"),
        ("10.0.0.1", "6.6.6.6, 198.51.100.2", "198.51.100.2"),
        ("10.0.0.1", "6.6.6.6, 198.51.100.2, 10.0.0.9", "198.51.100.2"),
        ("10.0.0.1", "6.6.6.6,198.51.100.2 , 10.0.0.9", "198.51.100.2"),
        ("::1", "198.51.100.2", "198.51.100.2"),
        ("::ffff:10.0.0.1", "198.51.100.2", "198.51.100.2"),
        # every hop trusted: the left-most
        ("10.0.0.1", "10.0.0.7, 10.0.0.8", "10.0.0.7"),
        # a garbage hop to the right of the proxies is the "client"
        ("10.0.0.1", "1.1.1.1, garbage", "garbage"),
        # no header at all
        ("10.0.0.1", "", "10.0.0.1"),
    ],
)
def test_trusted_proxies(settings: Any, remote: str, xff: str, expected: str) -> None:
    settings.RATELIMIT_TRUSTED_PROXIES = ["10.0.0.0/8", "::1"]
    assert client_ip(_request(remote, xff=xff)) == expected


def test_trusted_proxies_accept_a_tuple(settings: Any) -> None:
    settings.RATELIMIT_TRUSTED_PROXIES = ("10.0.0.0/8",)
    assert client_ip(_request("10.0.0.1", xff="198.51.100.2")) == "198.51.100.2"


def test_trusted_proxies_result_is_masked(settings: Any) -> None:
    settings.RATELIMIT_TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.RATELIMIT_IPV4_MASK = 24
    assert client_ip(_request("10.0.0.1", xff="198.51.100.2")) == "198.51.100.0"


@pytest.mark.parametrize("value", [["10.0.0.0/33"], ["not-a-network"], ["10.0.0.0/8", "x"]])
def test_bad_trusted_proxy_network(settings: Any, value: list[str]) -> None:
    settings.RATELIMIT_TRUSTED_PROXIES = value
    with pytest.raises(ImproperlyConfigured, match="RATELIMIT_TRUSTED_PROXIES"):
        client_ip(_request("10.0.0.1", xff="1.1.1.1"))


@pytest.mark.parametrize("value", ["10.0.0.0/8", 10])
def test_trusted_proxies_must_be_a_list(settings: Any, value: object) -> None:
    settings.RATELIMIT_TRUSTED_PROXIES = value
    with pytest.raises(ImproperlyConfigured, match="RATELIMIT_TRUSTED_PROXIES"):
        client_ip(_request("10.0.0.1", xff="1.1.1.1"))


# ------------------------------------------------------------------ RATELIMIT_PROXY_COUNT


@pytest.mark.parametrize(
    ("count", "xff", "expected"),
    [
        (1, "198.51.100.2", "198.51.100.2"),
        (1, "6.6.6.6, 198.51.100.2", "198.51.100.2"),
        (2, "6.6.6.6, 198.51.100.2, 10.0.0.9", "198.51.100.2"),
        (2, "198.51.100.2, 10.0.0.9", "198.51.100.2"),
        (3, "5.5.5.5, 6.6.6.6, 198.51.100.2, 10.0.0.9, 10.0.0.8", "198.51.100.2"),
        # fewer hops than proxies: the header is not trustworthy
        (2, "198.51.100.2", "10.0.0.1"),
        (3, "6.6.6.6, 10.0.0.9", "10.0.0.1"),
        # no proxies, or no header
        (0, "6.6.6.6", "10.0.0.1"),
        (1, "", "10.0.0.1"),
    ],
)
def test_proxy_count(settings: Any, count: int, xff: str, expected: str) -> None:
    settings.RATELIMIT_PROXY_COUNT = count
    assert client_ip(_request("10.0.0.1", xff=xff)) == expected


@pytest.mark.parametrize("value", [-1, "1", 1.0, True])
def test_invalid_proxy_count(settings: Any, value: object) -> None:
    settings.RATELIMIT_PROXY_COUNT = value
    with pytest.raises(ImproperlyConfigured, match="RATELIMIT_PROXY_COUNT"):
        client_ip(_request("10.0.0.1", xff="1.1.1.1"))
