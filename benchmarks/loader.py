"""The load generator's process body. Standard library only: spawned load
processes import this module and nothing that needs Django settings."""

from __future__ import annotations

import http.client
import time
from collections import Counter

#: Distinct client addresses the load is spread over (sent as X-Forwarded-For).
CLIENTS = 1000


def client_address(number: int) -> str:
    number %= CLIENTS
    return f"10.200.{number // 250}.{number % 250 + 1}"


def load(port: int, path: str, start_at: float, seconds: float, first: int) -> dict[int, int]:
    """Back-to-back requests on one keep-alive connection from ``start_at`` for ``seconds``.

    Returns how many responses of each status came back (-1 counts failed requests).
    """
    statuses: Counter[int] = Counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    number = first
    time.sleep(max(0.0, start_at - time.time()))
    deadline = start_at + seconds
    while time.time() < deadline:
        number += 1
        try:
            connection.request("GET", path, headers={"X-Forwarded-For": client_address(number)})
            response = connection.getresponse()
            response.read()
            statuses[response.status] += 1
        except (OSError, http.client.HTTPException):
            statuses[-1] += 1
            connection.close()
    connection.close()
    return dict(statuses)
