"""Settings are read when a request is checked, and bad values name the setting."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from drf_ratelimit import conf


def test_defaults_apply_when_a_setting_is_absent(settings: Any) -> None:
    del settings.RATELIMIT_USE_CACHE
    assert conf.cache_alias() == "default"
    assert conf.snapshot().cache_prefix == "rl:"
    assert conf.snapshot().hasher is hashlib.sha256
    assert conf.snapshot().fail_open is False
    assert conf.snapshot().enabled is True
    assert (conf.snapshot().ipv4_mask, conf.snapshot().ipv6_mask) == (32, 64)
    assert conf.snapshot().trusted_proxies == ()
    assert conf.snapshot().proxy_count is None


def test_settings_are_read_at_call_time() -> None:
    assert conf.snapshot().cache_prefix == "rl:"
    with override_settings(RATELIMIT_CACHE_PREFIX="other:", RATELIMIT_FAIL_OPEN=True):
        assert conf.snapshot().cache_prefix == "other:"
        assert conf.snapshot().fail_open is True
    assert conf.snapshot().cache_prefix == "rl:"


def test_dotted_paths_are_imported(settings: Any) -> None:
    settings.RATELIMIT_HASH_ALGORITHM = "hashlib.md5"
    settings.RATELIMIT_EXCEPTION_CLASS = "django.core.exceptions.PermissionDenied"
    from django.core.exceptions import PermissionDenied

    assert conf.snapshot().hasher is hashlib.md5
    assert conf.exception_class() is PermissionDenied


@pytest.mark.parametrize(
    ("setting", "value", "read"),
    [
        ("RATELIMIT_USE_CACHE", 3, "cache_alias"),
        ("RATELIMIT_CACHE_PREFIX", b"rl:", "cache_prefix"),
        ("RATELIMIT_HASH_ALGORITHM", 42, "hasher"),
        ("RATELIMIT_HASH_ALGORITHM", "hashlib.nope", "hasher"),
        ("RATELIMIT_EXCEPTION_CLASS", "json.dumps", conf.exception_class),
        ("RATELIMIT_EXCEPTION_CLASS", 7, conf.exception_class),
        ("RATELIMIT_VIEW", None, conf.ratelimit_view),
        ("RATELIMIT_VIEW", "json.__name__", conf.ratelimit_view),
        ("RATELIMIT_IPV4_MASK", 33, "ipv4_mask"),
        ("RATELIMIT_IPV6_MASK", "64", "ipv6_mask"),
        ("RATELIMIT_TRUSTED_PROXIES", "10.0.0.0/8", "trusted_proxies"),
        ("RATELIMIT_TRUSTED_PROXIES", ["not-a-network"], "trusted_proxies"),
        ("RATELIMIT_PROXY_COUNT", -1, "proxy_count"),
    ],
)
def test_a_bad_value_is_improperly_configured_naming_the_setting(
    settings: Any, setting: str, value: Any, read: Any
) -> None:
    """A field of the snapshot (named) or an accessor (called) raises, naming the setting."""
    setattr(settings, setting, value)
    with pytest.raises(ImproperlyConfigured, match=setting):
        read() if callable(read) else getattr(conf.snapshot(), read)


# --- DRF settings read live ------------------------------------------------------------


def test_headers_are_off_by_default(settings: Any) -> None:
    assert not hasattr(settings, "RATELIMIT_HEADERS")
    assert conf.headers_enabled() is False


@pytest.mark.parametrize(("value", "expected"), [(True, True), (1, True), (False, False)])
def test_headers_enabled(settings: Any, value: Any, expected: bool) -> None:
    settings.RATELIMIT_HEADERS = value
    assert conf.headers_enabled() is expected


def test_throttle_rates_default_is_drfs(settings: Any) -> None:
    assert not hasattr(settings, "REST_FRAMEWORK")
    assert dict(conf.throttle_rates()) == {"user": None, "anon": None}
    settings.REST_FRAMEWORK = {"NUM_PROXIES": 1}
    assert dict(conf.throttle_rates()) == {"user": None, "anon": None}


def test_throttle_rates_are_read_at_call_time(settings: Any) -> None:
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"anon": "5/m"}}
    assert dict(conf.throttle_rates()) == {"anon": "5/m"}
    with override_settings(REST_FRAMEWORK={"DEFAULT_THROTTLE_RATES": {"login": "1/s"}}):
        assert dict(conf.throttle_rates()) == {"login": "1/s"}
    assert dict(conf.throttle_rates()) == {"anon": "5/m"}


@pytest.mark.parametrize("rates", [["5/m"], "5/m", None, ("anon", "5/m")], ids=repr)
def test_throttle_rates_bad_type(settings: Any, rates: Any) -> None:
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": rates}
    with pytest.raises(ImproperlyConfigured) as excinfo:
        dict(conf.throttle_rates())
    message = str(excinfo.value)
    assert "REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']" in message
    assert repr(rates) in message


def test_drf_setting_reads_a_key_with_a_default(settings: Any) -> None:
    assert conf.drf_setting("NUM_PROXIES") is None
    assert conf.drf_setting("NUM_PROXIES", 7) == 7
    settings.REST_FRAMEWORK = {"NUM_PROXIES": 2}
    assert conf.drf_setting("NUM_PROXIES", 7) == 2
    settings.REST_FRAMEWORK = None
    assert conf.drf_setting("NUM_PROXIES", 7) == 7


@pytest.mark.parametrize("value", [["NUM_PROXIES"], "NUM_PROXIES", ("a", "b"), 3], ids=repr)
def test_drf_setting_with_a_non_dict_rest_framework(settings: Any, value: Any) -> None:
    settings.REST_FRAMEWORK = value
    with pytest.raises(ImproperlyConfigured, match=r"^REST_FRAMEWORK=.* must be a dict$"):
        conf.drf_setting("NUM_PROXIES")
    with pytest.raises(ImproperlyConfigured, match="REST_FRAMEWORK="):
        dict(conf.throttle_rates())
    with pytest.raises(ImproperlyConfigured, match="REST_FRAMEWORK="):
        conf.snapshot()


# --- proxy_count: RATELIMIT_PROXY_COUNT, else DRF's NUM_PROXIES ------------------------


@pytest.mark.parametrize("num_proxies", [0, 1, 2, 5])
def test_proxy_count_falls_back_to_num_proxies(settings: Any, num_proxies: int) -> None:
    settings.REST_FRAMEWORK = {"NUM_PROXIES": num_proxies}
    assert conf.snapshot().proxy_count == num_proxies


def test_num_proxies_none_is_not_followed(settings: Any) -> None:
    """DRF's default ``None`` trusts the whole X-Forwarded-For header; the
    fallback leaves the drop-ins on REMOTE_ADDR instead."""
    settings.REST_FRAMEWORK = {"NUM_PROXIES": None}
    assert conf.snapshot().proxy_count is None


@pytest.mark.parametrize("num_proxies", [True, 1.0, "1"], ids=repr)
def test_num_proxies_that_is_not_an_int_names_the_drf_setting(
    settings: Any, num_proxies: Any
) -> None:
    settings.REST_FRAMEWORK = {"NUM_PROXIES": num_proxies}
    with pytest.raises(ImproperlyConfigured, match=r"^REST_FRAMEWORK\['NUM_PROXIES'\]="):
        conf.snapshot()


@pytest.mark.parametrize(("ours", "drfs"), [(1, 2), (0, 2), (3, 0), (2, None), (1, -1)])
def test_ratelimit_proxy_count_takes_precedence(settings: Any, ours: int, drfs: Any) -> None:
    settings.REST_FRAMEWORK = {"NUM_PROXIES": drfs}
    settings.RATELIMIT_PROXY_COUNT = ours
    assert conf.snapshot().proxy_count == ours


def test_negative_num_proxies_names_the_drf_setting(settings: Any) -> None:
    settings.REST_FRAMEWORK = {"NUM_PROXIES": -1}
    with pytest.raises(ImproperlyConfigured) as excinfo:
        conf.snapshot()
    message = str(excinfo.value)
    assert message == ("REST_FRAMEWORK['NUM_PROXIES']=-1 must be None or a non-negative integer")
    assert "RATELIMIT_PROXY_COUNT" not in message


@pytest.mark.parametrize("value", [True, "1", 1.0], ids=repr)
def test_bad_ratelimit_proxy_count_names_our_setting(settings: Any, value: Any) -> None:
    settings.REST_FRAMEWORK = {"NUM_PROXIES": 1}
    settings.RATELIMIT_PROXY_COUNT = value
    with pytest.raises(ImproperlyConfigured, match=r"^RATELIMIT_PROXY_COUNT="):
        conf.snapshot()


@pytest.mark.parametrize("value", [[], ""], ids=repr)
def test_an_empty_non_dict_rest_framework_is_still_an_error(settings: Any, value: Any) -> None:
    settings.REST_FRAMEWORK = value
    with pytest.raises(ImproperlyConfigured, match=r"^REST_FRAMEWORK=.* must be a dict$"):
        conf.drf_setting("NUM_PROXIES")


def test_changing_a_copy_of_the_throttle_rates_changes_nothing() -> None:
    copy = dict(conf.throttle_rates())
    copy["anon"] = "1/s"
    assert dict(conf.throttle_rates()) == {"user": None, "anon": None}


# --- the snapshot -------------------------------------------------------------------------


def test_the_snapshot_is_parsed_once_and_rebuilt_when_a_setting_changes(settings: Any) -> None:
    first = conf.snapshot()
    assert conf.snapshot() is first
    settings.RATELIMIT_IPV4_MASK = 24
    second = conf.snapshot()
    assert second is not first and second.generation != first.generation
    assert second.ipv4_mask == 24
    assert conf.snapshot() is second


def test_a_change_without_a_signal_is_seen_by_the_settings_holder(settings: Any) -> None:
    """pytest-django deletes a setting without sending setting_changed; every
    override installs a new settings holder, which the snapshot notices."""
    settings.RATELIMIT_FAIL_OPEN = True
    assert conf.snapshot().fail_open is True
    del settings.RATELIMIT_FAIL_OPEN
    assert conf.snapshot().fail_open is False


def test_an_invalid_snapshot_is_never_kept(settings: Any) -> None:
    settings.RATELIMIT_IPV6_MASK = 129
    for _ in range(2):
        with pytest.raises(ImproperlyConfigured, match="RATELIMIT_IPV6_MASK=129"):
            conf.snapshot()
    settings.RATELIMIT_IPV6_MASK = 48
    assert conf.snapshot().ipv6_mask == 48


def test_problem_names_each_invalid_field_alone(settings: Any) -> None:
    """The system checks ask field by field, so one bad setting does not hide another."""
    settings.RATELIMIT_CACHE_PREFIX = 7
    settings.RATELIMIT_TRUSTED_PROXIES = ["nope"]
    assert "RATELIMIT_CACHE_PREFIX=7" in (conf.problem("cache_prefix") or "")
    assert "RATELIMIT_TRUSTED_PROXIES" in (conf.problem("trusted_proxies") or "")
    assert conf.problem("ipv4_mask") is None
    assert set(conf.FIELDS) >= {"cache_prefix", "trusted_proxies", "exception_class"}


def test_the_throttle_rates_of_the_snapshot_cannot_be_changed(settings: Any) -> None:
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"anon": "5/m"}}
    with pytest.raises(TypeError):
        conf.throttle_rates()["anon"] = "1/s"  # type: ignore[index]


def test_override_ratelimit_limit_is_part_of_the_snapshot() -> None:
    before = conf.snapshot()
    with conf.overridden_limit(3):
        inside = conf.snapshot()
        assert inside.limit_override == 3 and inside.generation != before.generation
    assert conf.snapshot().limit_override is None
    with pytest.raises(ValueError, match="limit=-1"), conf.overridden_limit(-1):
        pass
