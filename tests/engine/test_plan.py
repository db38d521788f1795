"""Plans: a declaration compiled once, again when the settings or the
declaration change, and nothing but real cache failures mistaken for one."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.test import RequestFactory
from django.utils.decorators import method_decorator
from django.views import View
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from drf_ratelimit._algorithms.base import MEMO_SIZE, KeyScope
from drf_ratelimit._engine import DECLARED, DECORATOR, Declaration, plan_for
from drf_ratelimit.clock import FakeClock
from drf_ratelimit.core import get_usage, is_ratelimited
from drf_ratelimit.decorators import ratelimit
from drf_ratelimit.signals import fail_policy_used
from drf_ratelimit.throttles import RatelimitThrottle

rf = RequestFactory()


@pytest.fixture(autouse=True)
def _declarations() -> Iterator[None]:
    saved = list(DECLARED)
    yield
    DECLARED[:] = saved


def declaration(**options: Any) -> Declaration:
    return Declaration(DECORATOR, "a test", "ip", "5/m", **options)


def test_a_plan_is_compiled_once_per_settings(settings: Any) -> None:
    declared = declaration()
    first = plan_for(declared, "g")
    assert plan_for(declared, "g") is first
    settings.RATELIMIT_CACHE_PREFIX = "other:"
    second = plan_for(declared, "g")
    assert second is not first
    assert second.generation != first.generation
    assert second.scope.prefix == "other:"
    assert plan_for(declared, "g") is second


def test_a_settings_change_reaches_a_plan_already_compiled(clock: FakeClock, settings: Any) -> None:
    request = rf.get("/", REMOTE_ADDR="10.0.0.1")
    arguments = {"group": "g", "key": "ip", "rate": "1/m", "increment": True}
    assert [is_ratelimited(request, **arguments) for _ in range(2)] == [False, True]
    settings.RATELIMIT_ENABLE = False
    assert is_ratelimited(request, **arguments) is False
    del settings.RATELIMIT_ENABLE  # pytest-django sends no signal: the holder changed
    assert is_ratelimited(request, **arguments) is True


def test_a_throttle_attribute_changed_at_run_time_is_compiled_again(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Changing(RatelimitThrottle):
        key = "ip"
        rate = "1/m"

    class Items(APIView):
        throttle_classes = (Changing,)

    request = APIRequestFactory().get("/", REMOTE_ADDR="10.0.0.2")
    view = Items()
    assert [Changing().allow_request(view.initialize_request(request), view) for _ in range(2)] == [
        True,
        False,
    ]
    monkeypatch.setattr(Changing, "rate", "5/m")  # a new rate: a new counter
    assert Changing().allow_request(view.initialize_request(request), view) is True
    assert len(Changing._drf_ratelimit_plans) == 2


def test_get_usage_with_an_unhashable_argument_is_compiled_each_time(clock: FakeClock) -> None:
    request = rf.post("/", REMOTE_ADDR="10.0.0.3")
    arguments: dict[str, Any] = {"group": "g", "key": "ip", "rate": "2/m", "method": {"POST"}}
    counts = [get_usage(request, increment=True, **arguments) for _ in range(3)]
    assert [usage.count for usage in counts if usage] == [1, 2, 3]


def test_a_method_decorator_declares_its_view_once(clock: FakeClock) -> None:
    """method_decorator applies the decorator anew on every request; the
    system checks' registry must not grow with the traffic."""

    class Hello(View):
        @method_decorator(ratelimit(key="ip", rate="100/m"))
        def get(self, request: Any) -> Any:
            from django.http import HttpResponse

            return HttpResponse("ok")

    before = len(DECLARED)
    for _ in range(5):
        Hello.as_view()(rf.get("/", REMOTE_ADDR="10.0.0.4"))
    assert len(DECLARED) == before + 1


def test_recent_client_keys_are_remembered_and_the_memory_is_bounded() -> None:
    scope = KeyScope("rl:", hashlib.sha256, "g")
    for n in range(MEMO_SIZE + 10):
        scope.remember(f"client-{n}", "key")
    assert 0 < len(scope.memo) <= MEMO_SIZE


class Buggy(LocMemCache):
    """A cache whose methods fail the way a bug would, not the way a server does."""

    def add(self, *args: Any, **kwargs: Any) -> bool:
        raise TypeError("a bug, not an outage")


class Down(LocMemCache):
    """A cache whose server is gone."""

    def add(self, *args: Any, **kwargs: Any) -> bool:
        raise ConnectionRefusedError("connection refused")


@pytest.mark.parametrize("fail_open", [True, False])
def test_a_bug_surfaces_instead_of_passing_for_an_outage(
    settings: Any, caplog: pytest.LogCaptureFixture, fail_open: bool
) -> None:
    settings.CACHES = {"default": {"BACKEND": "tests.engine.test_plan.Buggy", "LOCATION": "b"}}
    settings.RATELIMIT_FAIL_OPEN = fail_open
    sent: list[Any] = []
    fail_policy_used.connect(lambda **kwargs: sent.append(kwargs), weak=False, dispatch_uid="t")
    try:
        with pytest.raises(TypeError, match="a bug"):
            is_ratelimited(
                rf.get("/", REMOTE_ADDR="10.0.0.5"), group="g", key="ip", rate="5/m", increment=True
            )
    finally:
        fail_policy_used.disconnect(dispatch_uid="t")
    assert sent == []
    assert not [r for r in caplog.records if r.name == "drf_ratelimit"]


@pytest.mark.parametrize(("fail_open", "limited"), [(True, False), (False, True)])
def test_a_server_error_is_resolved_by_the_fail_policy(
    settings: Any, caplog: pytest.LogCaptureFixture, fail_open: bool, limited: bool
) -> None:
    """The control for the test above: the same failure from a socket is an outage."""
    settings.CACHES = {"default": {"BACKEND": "tests.engine.test_plan.Down", "LOCATION": "d"}}
    settings.RATELIMIT_FAIL_OPEN = fail_open
    caplog.set_level(logging.WARNING, logger="drf_ratelimit")
    request = rf.get("/", REMOTE_ADDR="10.0.0.6")
    assert is_ratelimited(request, group="g", key="ip", rate="5/m", increment=True) is limited
    assert [r.name for r in caplog.records] == ["drf_ratelimit"]
