"""SSRF guard: photo URLs come from strangers' posts, so a URL that resolves to this machine or
its private network is refused unless the operator allowlisted that host."""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache
from urllib.parse import urlsplit


class Refused(Exception):
    pass


@lru_cache(maxsize=4096)
def _addresses(host: str, port: int) -> tuple[str, ...]:
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return tuple(sorted({info[4][0] for info in infos}))


def _internal(addr: str) -> str | None:
    ip = ipaddress.ip_address(addr.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    for what in ("unspecified", "loopback", "link_local", "private", "reserved", "multicast"):
        if getattr(ip, f"is_{what}"):
            return what.replace("_", "-")
    return None


def check_url(url: str, allowed: frozenset[str]) -> None:
    """Raise Refused if `url`'s host resolves to a non-public address and is not allowlisted."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        raise Refused(f"no host in {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if host in allowed or f"{host}:{port}" in allowed:
        return
    try:
        addresses = _addresses(host, port)
    except (OSError, UnicodeError):
        return  # unresolvable: the download itself fails with the DNS error
    for addr in addresses:
        if kind := _internal(addr):
            raise Refused(
                f"refused by the SSRF guard: {host} resolves to {addr}, a {kind} address "
                "(allow it with crawler.allowed_private_hosts)"
            )
