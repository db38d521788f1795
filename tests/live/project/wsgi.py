import os

from django.core.wsgi import get_wsgi_application

from drf_ratelimit.clock import FakeClock, use_clock

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.live.project.settings")

if os.environ.get("DRF_RATELIMIT_LIVE_NOW"):
    # drf_ratelimit reads this frozen clock for the life of every worker, so a
    # load never straddles a window edge and the test never waits for one.
    # DRF's own throttle keeps its own timer (time.time).
    # Kept in a module global: a context manager nobody refers to is collected at
    # once, and closing its generator would put the real clock back.
    FROZEN_CLOCK = use_clock(FakeClock(float(os.environ["DRF_RATELIMIT_LIVE_NOW"])))
    FROZEN_CLOCK.__enter__()

application = get_wsgi_application()
