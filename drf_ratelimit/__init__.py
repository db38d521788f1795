"""Atomic, django-ratelimit compatible rate limiting for Django and DRF.

The public names mirror django-ratelimit 4.1: ``ALL`` and ``UNSAFE`` live here,
``ratelimit`` in :mod:`drf_ratelimit.decorators`, ``is_ratelimited`` and
``get_usage`` in :mod:`drf_ratelimit.core`, ``Ratelimited`` in
:mod:`drf_ratelimit.exceptions`. Nothing is imported eagerly so that importing
the package never touches Django settings or DRF.
"""

from drf_ratelimit._spec.methods import ALL, UNSAFE

__version__ = "0.1.0"
VERSION = (0, 1, 0)

__all__ = ["ALL", "UNSAFE", "VERSION", "__version__"]
