"""The end-to-end benchmark's project: one DRF endpoint per throttle, and one without.

``BENCH_CACHE`` (JSON) is the ``default`` cache, which both this package and
DRF's throttles use. Clients are told apart by the ``X-Forwarded-For`` the load
generator sends (one trusted proxy hop, for both packages); the rate is high
enough that nothing is refused, so the numbers are the cost of allowed requests.
"""

from __future__ import annotations

import json
import os

RATE = "1000000/h"

SECRET_KEY = "drf-ratelimit-benchmark"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["127.0.0.1"]
ROOT_URLCONF = "benchmarks.project.urls"
WSGI_APPLICATION = "benchmarks.project.wsgi.application"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "drf_ratelimit",
]
MIDDLEWARE: list[str] = []
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
CACHES = {"default": json.loads(os.environ["BENCH_CACHE"])}
RATELIMIT_USE_CACHE = "default"
RATELIMIT_PROXY_COUNT = 1
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_THROTTLE_RATES": {"anon": RATE, "drf_anon": RATE},
    "NUM_PROXIES": 1,
}
