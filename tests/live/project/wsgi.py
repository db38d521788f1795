import os
from pathlib import Path

from django.core.wsgi import get_wsgi_application

from drf_ratelimit.clock import FakeClock, use_clock

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.live.project.settings")


class FileClock:
    """The time written in a file, so a test can move every worker's clock at once
    (to put two bursts either side of a window edge) without waiting for it."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def __call__(self) -> float:
        return float(self.path.read_text())


# drf_ratelimit reads this clock for the life of every worker, so a load never
# straddles a window edge by accident and the test never waits for one. DRF's
# own throttle keeps its own timer (time.time). The context manager is kept in
# a module global: if it were garbage collected, its exit would restore the
# real clock.
if os.environ.get("DRF_RATELIMIT_LIVE_CLOCK_FILE"):
    _clock = use_clock(FileClock(os.environ["DRF_RATELIMIT_LIVE_CLOCK_FILE"]))
else:
    _clock = use_clock(FakeClock(float(os.environ.get("DRF_RATELIMIT_LIVE_NOW", "0"))))
_clock.__enter__()

application = get_wsgi_application()
