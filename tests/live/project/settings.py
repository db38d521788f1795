"""Settings for the live project, served by gunicorn in ``tests/test_throttles_live.py``.

The test passes the shared cache server in the environment, so one project
serves every backend:

* ``DRF_RATELIMIT_LIVE_CACHE``: JSON of the ``CACHES['default']`` entry. It is
  the ``default`` alias because DRF's own throttles always use that one.
* ``DRF_RATELIMIT_LIVE_LIMIT``: the limit of every throttled endpoint, per hour.

Requests are anonymous (no authentication, no database access). The test
client plays a reverse proxy: each test sends its own ``X-Forwarded-For``
client address, and one trusted proxy hop makes both this package and DRF
key on it, so tests never share a counter.
"""

from __future__ import annotations

import json
import os

LIVE_LIMIT = int(os.environ.get("DRF_RATELIMIT_LIVE_LIMIT", "37"))
_RATE = f"{LIVE_LIMIT}/h"

SECRET_KEY = "drf-ratelimit-live-tests"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.live.project.urls"
WSGI_APPLICATION = "tests.live.project.wsgi.application"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "drf_ratelimit",
]
MIDDLEWARE = ["tests.live.project.views.served_by"]
# Never queried: every request is anonymous and no view touches a model.
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

CACHES = {
    "default": json.loads(
        os.environ.get(
            "DRF_RATELIMIT_LIVE_CACHE",
            '{"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}',
        )
    )
}
RATELIMIT_USE_CACHE = "default"
RATELIMIT_HEADERS = True
RATELIMIT_PROXY_COUNT = 1

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_THROTTLE_CLASSES": ["drf_ratelimit.throttles.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"anon": _RATE, "user": _RATE, "drf_anon": _RATE},
    "NUM_PROXIES": 1,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {
        # 5xx tracebacks and cache failures go to gunicorn's stderr, which the
        # test shows when it fails; 429s (warnings) are not worth a line each.
        "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
        "drf_ratelimit": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
    },
}

# ``DRF_RATELIMIT_LIVE_FAIL_OPEN=1``: allow requests while the cache is down.
RATELIMIT_FAIL_OPEN = os.environ.get("DRF_RATELIMIT_LIVE_FAIL_OPEN") == "1"
#: pylibmc refuses the drop-ins' sliding log (drf_ratelimit.E008): the test picks another.
RATELIMIT_ALGORITHM = os.environ.get("DRF_RATELIMIT_LIVE_ALGORITHM") or None
