"""Signals for metrics and alerts.

``request_limited``
    A counted request was over a limit. Sent by ``@ratelimit`` (also with
    ``block=False``) and by the drf_ratelimit throttles, once per denying
    decorator or throttle. ``is_ratelimited`` and ``get_usage`` called by your
    own code send nothing: the caller already holds the answer. Arguments:

    * ``sender``: the throttle class, or :func:`drf_ratelimit.decorators.ratelimit`;
    * ``request``: the request (DRF's ``Request`` in a throttle);
    * ``view``: the DRF view instance, or the function ``@ratelimit`` wraps;
    * ``group``: the decorator's group, or the throttle's policy name (its
      ``scope``), as in the RateLimit headers;
    * ``usages``: a :class:`~drf_ratelimit.usage.Usage` per rate checked.

``fail_policy_used``
    The cache failed and ``RATELIMIT_FAIL_OPEN`` decided. Sent once per failed
    check from the engine. Arguments: ``sender`` (the ``CounterUnavailable``
    class), ``exception`` (the ``CounterUnavailable`` raised) and ``fail_open``
    (``True``: the request was allowed; ``False``: it was limited).

Both are sent with ``send_robust``: a receiver that raises is logged by Django
on the ``django.dispatch`` logger and never turns a request into a 500, since
metrics must not take the site down.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.dispatch import Signal

from drf_ratelimit.exceptions import CounterUnavailable
from drf_ratelimit.usage import Usage

__all__ = ["fail_policy_used", "request_limited"]

request_limited = Signal()
fail_policy_used = Signal()


def send_request_limited(
    sender: Any, *, request: Any, view: Any, group: str, usages: Sequence[Usage]
) -> None:
    """Tell receivers a request was limited (skipped cheaply when nobody listens)."""
    if request_limited.has_listeners(sender):
        request_limited.send_robust(
            sender, request=request, view=view, group=group, usages=list(usages)
        )


def send_fail_policy_used(exception: Exception, *, fail_open: bool) -> None:
    """Tell receivers the cache failed and which way the policy went."""
    if fail_policy_used.has_listeners(CounterUnavailable):
        fail_policy_used.send_robust(CounterUnavailable, exception=exception, fail_open=fail_open)
