"""Example project settings.

The counters live in local memory by default (no server needed). Set
``REDIS_URL`` (e.g. ``redis://127.0.0.1:6379/0``) to count in Redis instead,
which is what a deployment with several worker processes needs.
"""

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

if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

RATELIMIT_USE_CACHE = "default"
RATELIMIT_VIEW = "example.views.too_many_requests"
RATELIMIT_HEADERS = True
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    # Every DRF view without its own throttle_classes: 100 requests per 15 minutes per IP.
    "DEFAULT_THROTTLE_CLASSES": ["drf_ratelimit.throttles.AnonRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"anon": "100/15m"},
}
