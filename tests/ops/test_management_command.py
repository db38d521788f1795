"""``manage.py ratelimit usage|reset``."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from model_bakery import baker
from rest_framework.test import APIClient

from drf_ratelimit.clock import FakeClock
from tests.conftest import Backend

pytestmark = pytest.mark.urls("tests.ops_views")


@pytest.fixture(autouse=True)
def _fixed_window(settings: Any) -> None:
    """These tests name resets to the second, as the fixed window gives them;
    the helpers work the same under every algorithm."""
    settings.RATELIMIT_ALGORITHM = "fixed-window"


def run(*args: str) -> str:
    out, err = StringIO(), StringIO()
    call_command("ratelimit", *args, stdout=out, stderr=err)
    return out.getvalue()


def test_usage_of_a_decorated_view_for_an_ip(
    backend: Backend, clock: FakeClock, client: Client
) -> None:
    client.get("/hello/")
    output = run("usage", "--view", "/hello/", "--ip", "127.0.0.1")
    assert output.startswith("@ratelimit(key='ip') on tests.ops_views.hello 2/60s: 1 counted, ")
    assert "1 remaining" in output
    assert run("usage", "--view", "tests.ops_views.hello", "--ip", "127.0.0.1") == output
    assert "0 counted" in run("usage", "--view", "/hello/", "--ip", "10.0.0.1")


def test_reset_unlocks_a_username_on_a_drf_login(
    backend: Backend, clock: FakeClock, settings: Any
) -> None:
    settings.RATELIMIT_HEADERS = True
    api = APIClient()
    assert [api.post("/login/", {"username": "alice"}).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    login = ("--view", "/login/", "--method", "POST", "--data", "username=alice")
    assert run("usage", *login) == (
        # The denied third request was charged to neither rate.
        "LoginThrottle 2/60s: 2 counted, LIMITED for 40s, resets in 40s\n"
        "LoginThrottle 10/3600s: 2 counted, 8 remaining, resets in 2800s\n"
    )
    assert run("reset", *login) == "reset  LoginThrottle 2/60s\nreset  LoginThrottle 10/3600s\n"
    assert api.post("/login/", {"username": "alice"}).status_code == 200


def test_a_method_the_throttle_does_not_count_has_no_counter(clock: FakeClock) -> None:
    assert run("usage", "--view", "/login/", "--data", "username=alice") == (
        "No limit of this view counts such a request.\n"
    )


@pytest.mark.django_db
def test_user_by_username_or_pk(clock: FakeClock, settings: Any) -> None:
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"anon": "5/m", "user": "5/m"}}
    user = baker.make(User, username="carol")
    client = Client()
    client.force_login(user)
    client.get("/items/")
    for who in ("carol", str(user.pk)):
        assert run("usage", "--view", "/items/", "--user", who) == (
            "UserRateThrottle 5/60s: 1 counted, 4 remaining, resets in 40s\n"
        )


@pytest.mark.django_db
def test_unknown_user_is_a_command_error() -> None:
    with pytest.raises(CommandError, match="No user with username or primary key 'nobody'"):
        run("usage", "--view", "/items/", "--user", "nobody")


def test_stacked_decorators_outermost_first_with_query_and_header(clock: FakeClock) -> None:
    output = run("usage", "--view", "/search/", "--ip", "1.2.3.4", "--get", "q=cats")
    lines = output.splitlines()
    assert lines[0].startswith("@ratelimit(key='ip') on tests.ops_views.search 5/60s")
    assert lines[1].startswith("@ratelimit(key='get:q') on tests.ops_views.search 2/60s")


def test_scoped_throttle_and_api_view_and_wrapped_class_view(
    clock: FakeClock, settings: Any
) -> None:
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"uploads": ["1/m", "3/d"]}}
    upload = run("usage", "--view", "/uploads/", "--method", "POST", "--ip", "1.2.3.4")
    assert upload.splitlines()[0].startswith("ScopedRateThrottle 1/60s: 0 counted")
    assert upload.splitlines()[1].startswith("ScopedRateThrottle 3/86400s: 0 counted")
    assert run("usage", "--view", "/report/", "--ip", "1.2.3.4").startswith(
        "ReportThrottle 1/60s: 0 counted"
    )
    assert "0 counted" in run("usage", "--view", "/plain/", "--ip", "1.2.3.4")


def test_group_counter_matches_the_decorator(clock: FakeClock, client: Client) -> None:
    for _ in range(4):
        client.post("/form-login/", {"username": "dave"})
    group = ("--group", "login", "--rate", "3/m", "--value", "dave", "--method", "POST")
    assert run("usage", *group).startswith("group 'login' 3/60s: 4 counted, LIMITED for ")
    run("reset", *group)
    assert client.post("/form-login/", {"username": "dave"}).status_code == 200
    assert "0 counted" in run("usage", "--group", "login", "--rate", "3/m", "--value", "dave")
    assert "0 counted" in run("usage", *group[:-2], "--method", "post")  # case is in the key


def test_group_method_lists_match_the_decorators_key(clock: FakeClock) -> None:
    from django.test import RequestFactory

    from drf_ratelimit.core import get_usage

    request = RequestFactory().put("/")
    get_usage(
        request, group="g", key=lambda g, r: "v", rate="5/m", method=["PUT", "POST"], increment=True
    )
    assert "1 counted" in run(
        "usage", "--group", "g", "--rate", "5/m", "--value", "v", "--method", "POST,PUT"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--view", "/nowhere/"], "No URL pattern matches '/nowhere/'"),
        (["--view", "tests.ops_views.nope"], "'tests.ops_views.nope' is not an importable view"),
        (["--view", "/unlimited/"], "has no @ratelimit and no drf_ratelimit throttle"),
        (["--view", "/unthrottled/"], "has no @ratelimit and no drf_ratelimit throttle"),
        ([], "Give exactly one of --view or --group"),
        (["--view", "/hello/", "--group", "x"], "Give exactly one of --view or --group"),
        (["--group", "login"], "--group needs --rate and --value"),
        (["--group", "login", "--rate", "5/M", "--value", "x"], "5/M"),
        (["--view", "/hello/"], "REMOTE_ADDR is empty.*Pass --ip"),
        (["--view", "/search/", "--get", "q"], "--get 'q' must look like NAME=VALUE"),
    ],
)
def test_errors_are_command_errors(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run("usage", *args)


def test_locmem_counters_come_with_a_note(clock: FakeClock) -> None:
    err = StringIO()
    call_command("ratelimit", "usage", "--view", "/hello/", "--ip", "1.2.3.4", stderr=err)
    assert "local memory" in err.getvalue()


def test_a_failed_cache_is_reported_not_raised(clock: FakeClock, settings: Any) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "down": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2},
        },
    }
    settings.RATELIMIT_USE_CACHE = "down"
    output = run("usage", "--view", "/hello/", "--ip", "1.2.3.4")
    assert output.endswith("unknown: the cache failed (see the drf_ratelimit log)\n")
