"""The ``ratelimits`` pytest fixture, registered through the ``pytest11`` entry point.

Importing this module touches neither Django settings nor the cache, so the
plugin is harmless in test runs that never use the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drf_ratelimit.testing import Ratelimits, reset_ratelimits


@pytest.fixture
def ratelimits() -> Iterator[Ratelimits]:
    """Fresh counters for the test; ``ratelimits.disable()`` / ``.override(limit=1)``
    last until its end, and the counters are cleared again after it."""
    reset_ratelimits()
    helper = Ratelimits()
    try:
        yield helper
    finally:
        helper.close()
        reset_ratelimits()
