"""A purpose-built Django project served by gunicorn for the live throttle tests."""
