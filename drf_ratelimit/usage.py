"""The result of checking one limit: an object that still reads like
django-ratelimit's ``{'count', 'limit', 'should_limit', 'time_left'}`` dict."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

_FIELDS = ("count", "limit", "should_limit", "time_left")


@dataclass(frozen=True, eq=False)
class Usage(Mapping[str, object]):
    """Usage of one limit by one client.

    ``count`` is the counter after this request (for the sliding window the
    weighted estimate, rounded up; for the token bucket the tokens in use);
    ``should_limit`` is ``count > limit``. ``reset_after`` is the exact seconds
    until the whole quota is back and ``retry_after`` until a request like this
    one would be admitted (0 when it was). ``time_left`` is the whole seconds
    django-ratelimit reports: until the reset, or the retry when limited.
    ``failed`` marks the fail-closed answer given when the cache was down.
    """

    count: int
    limit: int
    should_limit: bool
    time_left: int
    period: int = 0
    failed: bool = False
    reset_after: float = 0.0
    retry_after: float = 0.0

    @property
    def exhausted(self) -> bool:
        """The next request in this window would be limited."""
        return self.failed or self.count >= self.limit

    @property
    def remaining(self) -> int:
        """Requests still allowed in this window."""
        return max(0, self.limit - self.count)

    def __getitem__(self, name: str) -> object:
        if name not in _FIELDS:
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(_FIELDS)

    def __len__(self) -> int:
        return len(_FIELDS)

    def __repr__(self) -> str:
        return f"Usage({dict(self)!r})"


#: What django-ratelimit returns when the cache failed and RATELIMIT_FAIL_OPEN is off.
FAIL_CLOSED = Usage(count=0, limit=0, should_limit=True, time_left=-1, failed=True)
