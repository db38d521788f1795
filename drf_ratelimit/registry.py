"""Declared limits, recorded when a decorator or throttle class is defined,
so the system checks can validate every one of them at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Declaration:
    where: str
    key: Any
    rate: Any


DECLARATIONS: list[Declaration] = []


def declare(where: str, key: Any, rate: Any) -> None:
    DECLARATIONS.append(Declaration(where, key, rate))
