"""The ``ratelimits`` pytest fixture, registered through the ``pytest11`` entry point.

pytest loads this plugin in every run where drf_ratelimit is installed, so it
imports nothing of Django until a test asks for the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from drf_ratelimit.testing import Ratelimits


@pytest.fixture
def ratelimits() -> Iterator[Ratelimits]:
    """Fresh counters for the test; ``ratelimits.disable()`` / ``.override(limit=1)``
    last until its end, and the counters are cleared again after it."""
    from drf_ratelimit.testing import Ratelimits, reset_ratelimits

    reset_ratelimits()
    helper = Ratelimits()
    try:
        yield helper
    finally:
        helper.close()
        reset_ratelimits()
