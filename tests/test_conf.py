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
    assert conf.cache_prefix() == "rl:"
    assert conf.hash_function() is hashlib.sha256
    assert conf.fail_open() is False
    assert conf.enabled() is True
    assert conf.ip_masks() == (32, 64)
    assert conf.trusted_proxies() == ()
    assert conf.proxy_count() is None


def test_settings_are_read_at_call_time() -> None:
    assert conf.cache_prefix() == "rl:"
    with override_settings(RATELIMIT_CACHE_PREFIX="other:", RATELIMIT_FAIL_OPEN=True):
        assert conf.cache_prefix() == "other:"
        assert conf.fail_open() is True
    assert conf.cache_prefix() == "rl:"


def test_dotted_paths_are_imported(settings: Any) -> None:
    settings.RATELIMIT_HASH_ALGORITHM = "hashlib.md5"
    settings.RATELIMIT_EXCEPTION_CLASS = "django.core.exceptions.PermissionDenied"
    from django.core.exceptions import PermissionDenied

    assert conf.hash_function() is hashlib.md5
    assert conf.exception_class() is PermissionDenied


@pytest.mark.parametrize(
    ("setting", "value", "read"),
    [
        ("RATELIMIT_USE_CACHE", 3, conf.cache_alias),
        ("RATELIMIT_CACHE_PREFIX", b"rl:", conf.cache_prefix),
        ("RATELIMIT_HASH_ALGORITHM", 42, conf.hash_function),
        ("RATELIMIT_HASH_ALGORITHM", "hashlib.nope", conf.hash_function),
        ("RATELIMIT_EXCEPTION_CLASS", "json.dumps", conf.exception_class),
        ("RATELIMIT_EXCEPTION_CLASS", 7, conf.exception_class),
        ("RATELIMIT_VIEW", None, conf.ratelimit_view),
        ("RATELIMIT_VIEW", "json.__name__", conf.ratelimit_view),
        ("RATELIMIT_IPV4_MASK", 33, conf.ip_masks),
        ("RATELIMIT_IPV6_MASK", "64", conf.ip_masks),
        ("RATELIMIT_TRUSTED_PROXIES", "10.0.0.0/8", conf.trusted_proxies),
        ("RATELIMIT_TRUSTED_PROXIES", ["not-a-network"], conf.trusted_proxies),
        ("RATELIMIT_PROXY_COUNT", -1, conf.proxy_count),
    ],
)
def test_a_bad_value_is_improperly_configured_naming_the_setting(
    settings: Any, setting: str, value: Any, read: Any
) -> None:
    setattr(settings, setting, value)
    with pytest.raises(ImproperlyConfigured, match=setting):
        read()
