from __future__ import annotations

from django.apps import AppConfig


class DrfRatelimitConfig(AppConfig):
    name = "drf_ratelimit"
    verbose_name = "DRF ratelimit"
    default = True

    def ready(self) -> None:
        from drf_ratelimit._ops import checks  # noqa: F401  (registers the system checks)
