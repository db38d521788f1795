"""Algorithm options shown on docs/algorithms.md."""

from __future__ import annotations

from django.http import HttpResponse

# --8<-- [start:settings]
# settings.py
RATELIMIT_ALGORITHM = "sliding-window"  # unset: each kind's default (docs/algorithms.md)
RATELIMIT_COUNT_DENIED = None  # unset: only @ratelimit's fixed window charges denied requests
# --8<-- [end:settings]


# --8<-- [start:throttles]
from drf_ratelimit.throttles import RatelimitThrottle


class SearchThrottle(RatelimitThrottle):
    """Bursts of up to 20, then one every 6 seconds: a token bucket."""

    key = "user_or_ip"
    rate = "10/m"  # the steady rate
    algorithm = "token-bucket"
    burst = 20  # how many may arrive at once


class PasswordThrottle(RatelimitThrottle):
    """Brute-force defence: every attempt counts, allowed or not."""

    key = "data:username"
    rate = "5/15m"
    method = "POST"
    count_denied = True


class ExportThrottle(RatelimitThrottle):
    """An export of N rows costs N/1000 of a 100-per-hour budget (at least 1)."""

    key = "user"
    rate = "100/h"

    def cost(request):
        return max(1, int(request.query_params.get("rows", 1000)) // 1000)


# --8<-- [end:throttles]


# --8<-- [start:decorator]
from drf_ratelimit.decorators import ratelimit


@ratelimit(key="ip", rate="30/m", algorithm="sliding-window")
def search(request):
    return HttpResponse("results")


@ratelimit(key="user", rate="50/d", cost=lambda request: len(request.FILES) or 1)
def upload(request):
    return HttpResponse("stored")


# --8<-- [end:decorator]
