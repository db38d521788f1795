"""Settings shown in the docs, one section each; tests apply them with override_settings."""

# --8<-- [start:drop-ins]
REST_FRAMEWORK = {
    "DEFAULT_THROTTLE_CLASSES": [
        "drf_ratelimit.throttles.AnonRateThrottle",
        "drf_ratelimit.throttles.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {"anon": "100/15m", "user": "1000/day"},
}
# --8<-- [end:drop-ins]

# --8<-- [start:trusted-proxies]
# The networks your proxies connect from.
RATELIMIT_TRUSTED_PROXIES = ["10.0.0.0/8", "fd00::/8"]
# --8<-- [end:trusted-proxies]

# --8<-- [start:proxy-count]
RATELIMIT_PROXY_COUNT = 1  # e.g. one nginx in front of Django
# --8<-- [end:proxy-count]

# --8<-- [start:middleware]
MIDDLEWARE = [
    # ... Django's middleware ...
    "drf_ratelimit.middleware.RatelimitMiddleware",
]
RATELIMIT_VIEW = "example.views.too_many_requests"  # view(request, exception) -> 429
# --8<-- [end:middleware]

# --8<-- [start:headers]
RATELIMIT_HEADERS = True  # RateLimit-Policy and RateLimit on every throttled response
# --8<-- [end:headers]

# --8<-- [start:cluster-cache]
CLUSTER_CACHES = {
    "ratelimit": {
        "BACKEND": "drf_ratelimit.cluster.RedisClusterCache",
        "LOCATION": ["redis://10.0.0.1:6379", "redis://10.0.0.2:6379"],
        "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
    },
}
RATELIMIT_USE_CACHE = "ratelimit"
# --8<-- [end:cluster-cache]

# --8<-- [start:cluster-django-redis]
CLUSTER_DJANGO_REDIS_CACHES = {
    "ratelimit": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://10.0.0.1:6379,redis://10.0.0.2:6379",
        "OPTIONS": {
            "CLIENT_CLASS": "drf_ratelimit.cluster.RedisClusterClient",
            "SOCKET_TIMEOUT": 0.5,
            "SOCKET_CONNECT_TIMEOUT": 0.5,
        },
    },
}
# --8<-- [end:cluster-django-redis]
