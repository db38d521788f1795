"""Settings for the test suite. Server-backed caches are added per test by the
``backend`` fixture once the session's redis-server / memcached are running."""

SECRET_KEY = "drf-ratelimit-tests"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.urls"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_ratelimit",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
RATELIMIT_USE_CACHE = "default"
SILENCED_SYSTEM_CHECKS = ["drf_ratelimit.W001"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
