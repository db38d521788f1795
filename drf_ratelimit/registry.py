"""Declared limits, recorded when a decorator or throttle class is defined,
so the system checks can validate every one of them at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drf_ratelimit.algorithms import FIXED_WINDOW


@dataclass(frozen=True)
class Declaration:
    where: str
    key: Any
    rate: Any
    #: The algorithm it names, or the default of its kind when it names none.
    algorithm: str
    #: True when ``algorithm`` came from the declaration itself, not a default;
    #: the system checks then resolve ``RATELIMIT_ALGORITHM`` for it.
    explicit: bool = True


DECLARATIONS: list[Declaration] = []


def declare(
    where: str, key: Any, rate: Any, algorithm: str = FIXED_WINDOW, explicit: bool = False
) -> None:
    DECLARATIONS.append(Declaration(where, key, rate, algorithm, explicit))
