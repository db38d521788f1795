"""Metrics and alerts from drf_ratelimit's signals (docs/operations.md)."""

# --8<-- [start:receivers]
import logging
from collections import Counter

from django.apps import AppConfig

from drf_ratelimit.signals import fail_policy_used, request_limited

logger = logging.getLogger("myproject.ratelimit")
LIMITED: Counter[str] = Counter()  # stands for your metrics client, e.g. a Prometheus counter


def count_limited(sender, request, view, group, usages, **kwargs):
    """One more limited request for this group (or throttle policy)."""
    LIMITED[group] += 1


def alert_on_cache_failure(sender, exception, fail_open, **kwargs):
    """The counters are unavailable: every request is now allowed or denied."""
    outcome = "allowing" if fail_open else "denying"
    logger.error("Rate-limit cache failed, %s requests: %s", outcome, exception)


class MetricsConfig(AppConfig):
    name = "myproject.metrics"

    def ready(self):
        request_limited.connect(count_limited)
        fail_policy_used.connect(alert_on_cache_failure)


# --8<-- [end:receivers]
