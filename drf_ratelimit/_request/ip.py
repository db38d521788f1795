"""Client IP for the ``ip`` and ``user_or_ip`` keys.

Safe by default: the address is ``REMOTE_ADDR``, the peer that actually
connected. ``X-Forwarded-For`` is read only when the project says which proxies
it trusts (``RATELIMIT_TRUSTED_PROXIES``) or how many append to the header
(``RATELIMIT_PROXY_COUNT``), and then from the right, so a client cannot choose
its own bucket by sending the header. ``RATELIMIT_IP_META_KEY`` keeps
django-ratelimit's escape hatch (a META key, a callable or a dotted path).
"""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from drf_ratelimit import conf
from drf_ratelimit.conf import Network, RatelimitSettings


def client_ip(request: HttpRequest | Any) -> str:
    """The client address, masked to the configured IPv4/IPv6 prefix."""
    return settled_client_ip(request, conf.snapshot())


def settled_client_ip(request: HttpRequest | Any, current: RatelimitSettings) -> str:
    """:func:`client_ip` under settings already read (a compiled plan's)."""
    if current.direct_ip:  # the common case, kept short: it runs on every check
        remote = getattr(request, "_request", request).META.get("REMOTE_ADDR")  # DRF or Django
        if type(remote) is str and 0 < len(remote) <= _LONGEST_ADDRESS:
            return _masked(remote, current.ipv4_mask, current.ipv6_mask)
    return mask_ip(_raw_client_ip(request, current), current.ipv4_mask, current.ipv6_mask)


def raw_client_ip(request: HttpRequest | Any) -> str:
    """The unmasked client address as a string."""
    return _raw_client_ip(request, conf.snapshot())


def _raw_client_ip(request: HttpRequest | Any, current: RatelimitSettings) -> str:
    meta = getattr(request, "_request", request).META
    if current.ip_meta_key:
        from_meta_key = _from_ip_meta_key(request, current.ip_meta_key)
        if from_meta_key:
            return from_meta_key
    remote = meta.get("REMOTE_ADDR")
    if not remote:
        raise ImproperlyConfigured(
            "IP address in REMOTE_ADDR is empty. This happens behind a reverse proxy "
            "talking over a unix socket; set RATELIMIT_IP_META_KEY or "
            "RATELIMIT_TRUSTED_PROXIES (see the docs on client IP)."
        )
    if not (current.trusted_proxies or current.proxy_count):
        return str(remote)
    return _behind_proxies(str(remote), meta.get("HTTP_X_FORWARDED_FOR", ""), current)


def _from_ip_meta_key(request: HttpRequest | Any, setting: Any) -> str | None:
    if isinstance(setting, str) and "." not in setting:
        value = request.META.get(setting)  # absent: the request did not come through the proxy
    else:
        func = conf.resolve(setting, "RATELIMIT_IP_META_KEY")
        if not callable(func):
            raise ImproperlyConfigured(f"RATELIMIT_IP_META_KEY={setting!r} is not callable")
        value = func(request)
    return str(value).strip() if value else None


def _behind_proxies(remote: str, forwarded_for: str, current: RatelimitSettings) -> str:
    networks = current.trusted_proxies
    count = current.proxy_count
    if not forwarded_for:
        return remote
    hops = [hop.strip() for hop in forwarded_for.split(",")]
    if count:
        # [..., client, proxy_1 ... proxy_{n-1}] and REMOTE_ADDR is proxy_n.
        return hops[-count] if len(hops) >= count else remote
    if not _trusted(remote, networks):
        return remote
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop
    return hops[0] or remote


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    parsed = _parse(address)
    return parsed is not None and any(parsed in network for network in networks)


def _parse(address: str) -> IPv4Address | IPv6Address | None:
    try:
        parsed = ip_address(address)
    except ValueError:
        return None
    if isinstance(parsed, IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped
    return parsed


#: Longer than any written IP address (scope id included): no need to parse it.
_LONGEST_ADDRESS = 100


def mask_ip(address: str, ipv4_mask: int, ipv6_mask: int) -> str:
    """The network address of ``address`` under the IPv4 or IPv6 prefix length.

    IPv4-mapped IPv6 addresses (``::ffff:1.2.3.4``) are masked as IPv4, so
    dual-stack servers do not put every IPv4 client into one ``::`` bucket.
    A value that is not an IP at all is returned unchanged: it is hashed into
    the cache key like any other value, never a 500. Pure, so the answers for
    the most recent addresses are kept (a bounded cache: a client sending a
    new address per request only evicts, it cannot grow memory).
    """
    if len(address) > _LONGEST_ADDRESS:
        return address
    return _masked(address, ipv4_mask, ipv6_mask)


@lru_cache(maxsize=4096)
def _masked(address: str, ipv4_mask: int, ipv6_mask: int) -> str:
    parsed = _parse(address)
    if parsed is None:
        return address
    mask = ipv4_mask if isinstance(parsed, IPv4Address) else ipv6_mask
    if mask == parsed.max_prefixlen:
        return str(parsed)
    return str(ip_network(f"{parsed}/{mask}", strict=False).network_address)
