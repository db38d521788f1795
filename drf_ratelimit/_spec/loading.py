"""Dotted-path imports with errors that name the value and where it came from."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


@lru_cache(maxsize=512)
def import_dotted(path: str, source: str) -> Any:
    """Import ``path`` once; a failure is an ImproperlyConfigured naming ``source``."""
    try:
        return import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"{source}={path!r} could not be imported: {exc}") from exc
