"""Exceptions.

PermissionDenied
 └── Ratelimited            raised by @ratelimit when a view is over its limit
ImproperlyConfigured
 └── InvalidRate            a rate that does not parse (the message quotes it)
CounterUnavailable          a cache backend failed; resolved by RATELIMIT_FAIL_OPEN
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured, PermissionDenied


class Ratelimited(PermissionDenied):
    """A request was over its limit. A PermissionDenied, so Django answers 403
    unless ``RatelimitMiddleware`` with ``RATELIMIT_VIEW`` turns it into a 429."""


class InvalidRate(ImproperlyConfigured):
    """A rate string, tuple or callable result that is not a valid rate."""


class CounterUnavailable(Exception):
    """The cache could not count a request (connection refused, timeout, eviction)."""
