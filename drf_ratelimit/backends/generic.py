"""``add`` then ``incr`` through Django's cache API.

Atomic wherever ``add`` and ``incr`` are (LocMemCache within one process);
the system checks warn about backends where they are not.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.cache.backends.base import BaseCache

from drf_ratelimit.backends.base import WindowHit
from drf_ratelimit.backends.errors import as_count, unavailable_on_error


class DjangoCacheCounter:
    """Counts key by key through Django's cache API; subclasses say how."""

    name = "django-cache"

    def __init__(self, cache: BaseCache) -> None:
        self.cache = cache

    def count(self, hits: Sequence[WindowHit]) -> list[int]:
        with unavailable_on_error(self.name):
            return [self._count_one(hit) if hit.delta >= 0 else self._refund(hit) for hit in hits]

    def _count_one(self, hit: WindowHit) -> int:
        raise NotImplementedError

    def _refund(self, hit: WindowHit) -> int:
        """Give back an earlier hit; a key that has gone meanwhile has nothing to give back."""
        try:
            return as_count(self.cache.decr(hit.key, -hit.delta))
        except ValueError:
            return 0


class AddIncrCounter(DjangoCacheCounter):
    name = "add+incr"

    def _count_one(self, hit: WindowHit) -> int:
        if hit.delta == 0:
            return as_count(self.cache.get(hit.key, 0))
        if self.cache.add(hit.key, hit.delta, hit.timeout):
            return hit.delta
        # A ValueError here means the key vanished between add and incr (eviction).
        return as_count(self.cache.incr(hit.key, hit.delta))
