"""``manage.py ratelimit usage|reset``: a client's counters of one view or group.

Support work ("unlock this user") without reading hashes out of the cache.
The counters are found the way a request finds them (see
:mod:`drf_ratelimit._ops.lookup`), so describe the client as its requests look::

    manage.py ratelimit usage --view /api/login/ --method POST --data username=alice
    manage.py ratelimit reset --view example.views.ItemList --ip 203.0.113.7
    manage.py ratelimit reset --group login --rate 5/m --value alice
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.core.cache.backends.locmem import LocMemCache
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test import RequestFactory

from drf_ratelimit._engine import ratelimit_cache
from drf_ratelimit._ops.lookup import Counter, UnknownView, counters, group_counter, read, reset
from drf_ratelimit._spec.methods import ALL, MethodSpec
from drf_ratelimit.usage import Usage


class Command(BaseCommand):
    help = "Show or reset one client's rate-limit counters for a view or a group."
    requires_system_checks = ()  # a support tool: the servers run the checks

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["usage", "reset"])
        target = parser.add_argument_group("what is limited (one of)")
        target.add_argument("--view", help="dotted path of the view, or its URL path")
        target.add_argument("--group", help="a @ratelimit(group=...) or get_usage group")
        client = parser.add_argument_group("who: the client, as its requests look")
        client.add_argument("--ip", help="the client address (REMOTE_ADDR)")
        client.add_argument("--user", help="the user's primary key or username")
        client.add_argument(
            "--method",
            help="the request method (default GET); with --group, the group's method "
            "argument as written, comma-separated for a list (default: every method)",
        )
        for name, where in (("data", "form body"), ("get", "query string"), ("header", "header")):
            client.add_argument(
                f"--{name}", action="append", default=[], metavar="NAME=VALUE", help=where
            )
        group = parser.add_argument_group("with --group")
        group.add_argument("--rate", help="the group's rate, e.g. 5/m")
        group.add_argument("--value", help="the key value: a username, a user's pk, an IP")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            found = self._counters(options)
        except (UnknownView, ImproperlyConfigured, ValueError) as exc:
            hint = " Pass --ip to name the client." if "REMOTE_ADDR" in str(exc) else ""
            raise CommandError(f"{exc}{hint}") from exc
        if isinstance(ratelimit_cache(), LocMemCache):
            self.stderr.write(
                "Note: the counters are in local memory (LocMemCache), which this process "
                "does not share with the server: it sees none of the server's counts."
            )
        if not found:
            self.stdout.write("No limit of this view counts such a request.")
            return
        if options["action"] == "reset":
            reset(found)
            for counter in found:
                self.stdout.write(f"reset  {counter.describe()}")
            return
        for counter, usage in zip(found, read(found), strict=True):
            self.stdout.write(f"{counter.describe()}: {_describe_usage(usage)}")

    def _counters(self, options: dict[str, Any]) -> list[Counter]:
        if bool(options["view"]) == bool(options["group"]):
            raise CommandError("Give exactly one of --view or --group.")
        if options["group"]:
            if not options["rate"] or options["value"] is None:
                raise CommandError("--group needs --rate and --value.")
            method = _method_spec(options["method"])
            return [group_counter(options["group"], options["rate"], options["value"], method)]
        user = _user(options["user"]) if options["user"] else None
        request = _request(options)
        return counters(options["view"], request, user=user)


def _describe_usage(usage: Usage | None) -> str:
    if usage is None:
        return "unknown: the cache failed (see the drf_ratelimit log)"
    if usage.retry_after > 0:  # the client's next request would be denied
        state = f"LIMITED for {math.ceil(usage.retry_after)}s"
    else:
        state = f"{usage.remaining} remaining"
    return f"{usage.count} counted, {state}, resets in {math.ceil(usage.reset_after)}s"


def _method_spec(value: str | None) -> MethodSpec:
    """``--method`` for a group: the decorator's ``method`` argument, which is part
    of the cache key as written (a bare string keeps its case)."""
    if value is None:
        return ALL
    return value.split(",") if "," in value else value


def _pairs(values: list[str], option: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name:
            raise CommandError(f"--{option} {value!r} must look like NAME=VALUE")
        pairs.append((name, text))
    return pairs


def _request(options: dict[str, Any]) -> Any:
    """A request that looks like the client's (no REMOTE_ADDR unless --ip)."""
    query = urlencode(_pairs(options["get"], "get"))
    request = RequestFactory().generic(
        (options["method"] or "GET").upper(),
        "/" + (f"?{query}" if query else ""),
        data=urlencode(_pairs(options["data"], "data")),
        content_type="application/x-www-form-urlencoded",
        headers=dict(_pairs(options["header"], "header")),
    )
    request.META["REMOTE_ADDR"] = options["ip"] or ""
    return request


def _user(value: str) -> Any:
    """The user whose username (USERNAME_FIELD) or primary key is ``value``."""
    model = get_user_model()
    user = model._default_manager.filter(**{model.USERNAME_FIELD: value}).first()
    if user is None and value.isdigit():
        user = model._default_manager.filter(pk=int(value)).first()
    if user is None:
        raise CommandError(f"No user with {model.USERNAME_FIELD} or primary key {value!r}.")
    return user
