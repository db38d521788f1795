"""Example project settings.

The counters live in local memory by default (no server needed). Set
``REDIS_URL`` (e.g. ``redis://127.0.0.1:6379/0``) to count in Redis instead,
which is what a deployment with several worker processes needs.
"""

import importlib.util
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "drf_ratelimit",
    "example",
]
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Turns drf_ratelimit's Ratelimited (a 403 by default) into RATELIMIT_VIEW's 429.
    "drf_ratelimit.middleware.RatelimitMiddleware",
]
ROOT_URLCONF = "example.urls"
WSGI_APPLICATION = "example.wsgi.application"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("EXAMPLE_DATABASE", BASE_DIR / "db.sqlite3"),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
TEMPLATES: list[dict[str, object]] = []

# --8<-- [start:caches]
if os.environ.get("REDIS_URL"):
    # Shared, atomic counters for any number of worker processes.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1},
        }
    }
else:
    # Local memory: fine for runserver; each process counts on its own.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# --8<-- [end:caches]

# --8<-- [start:ratelimit]
RATELIMIT_USE_CACHE = "default"
RATELIMIT_VIEW = "example.views.too_many_requests"
RATELIMIT_HEADERS = True
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    # Every DRF view without its own throttle_classes: 100 requests per 15 minutes per IP.
    "DEFAULT_THROTTLE_CLASSES": ["drf_ratelimit.throttles.AnonRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": "100/15m",
        "uploads": ["3/m", "50/d"],  # ScopedRateThrottle: a burst and a sustained rate
    },
}
# --8<-- [end:ratelimit]

# The OpenAPI schema at /api/schema/ when drf-spectacular is installed (pip install
# -e '.[openapi]'); throttled views document their 429 and headers.
SPECTACULAR = importlib.util.find_spec("drf_spectacular") is not None
if SPECTACULAR:
    INSTALLED_APPS.append("drf_spectacular")
    # --8<-- [start:spectacular]
    REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "drf_ratelimit.openapi.RatelimitAutoSchema"
    # --8<-- [end:spectacular]
