"""Trusted proxies: believe ``X-Forwarded-*`` and ``Forwarded`` only from configured addresses.

A request from a trusted proxy gets its ``client``, ``scheme`` and host from
the forwarding headers; from anywhere else those headers are ignored, so a
client cannot claim another address, https or another host.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from zephyr.errors import ConfigError

__all__ = ["Forwarded", "ProxyResolver"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Forwarded:
    """What the forwarding headers of one request say (``None`` where they say nothing)."""

    __slots__ = ("client", "host", "scheme")

    def __init__(self) -> None:
        self.client: str | None = None
        self.scheme: str | None = None
        self.host: bytes | None = None


class ProxyResolver:
    """Rewrites the scope of requests that came through a trusted proxy."""

    __slots__ = ("_networks", "_standard")

    def __init__(self, trusted: Iterable[str], *, headers: str = "x-forwarded") -> None:
        """Trust ``trusted`` addresses, reading ``headers``: ``"x-forwarded"`` or ``"forwarded"``.

        Only that family is read: a client could add the other one, which a
        proxy setting only its own would pass along untouched.
        """
        self._standard = headers == "forwarded"
        networks: list[Network] = []
        for entry in trusted:
            try:
                networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
            except ValueError:
                raise ConfigError(
                    f"TRUSTED_PROXIES entry {entry!r} is not an address or network; use "
                    "addresses like '10.0.0.5' or networks like '10.0.0.0/8'"
                ) from None
        self._networks = tuple(networks)

    def is_trusted(self, address: str | None) -> bool:
        """Whether ``address`` is one of the trusted proxies."""
        if not address:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def apply(self, scope: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> bytes | None:
        """Rewrite ``scope`` from the forwarding headers; the forwarded host, if any.

        Does nothing unless the direct peer is a trusted proxy. The client is
        the right-most address in the chain that is not itself a trusted proxy.
        """
        peer = scope.get("client")
        if not peer or not self.is_trusted(peer[0]):
            return None
        forwarded = self._read(headers)
        if forwarded.client is not None:
            scope["client"] = (forwarded.client, 0)
        if forwarded.scheme in ("http", "https"):
            scope["scheme"] = forwarded.scheme
        return forwarded.host

    def _read(self, headers: list[tuple[bytes, bytes]]) -> Forwarded:
        result = Forwarded()
        chain: list[str] = []
        for name, value in headers:
            if self._standard:
                if name == b"forwarded":
                    _read_forwarded(value.decode("latin-1"), result, chain)
            elif name == b"x-forwarded-for":
                chain.extend(part.strip() for part in value.decode("latin-1").split(","))
            elif name == b"x-forwarded-proto":
                result.scheme = value.decode("latin-1").split(",")[-1].strip().lower()
            elif name == b"x-forwarded-host":
                result.host = value.split(b",")[-1].strip()
        # SECURITY: the left of the chain is whatever the client wrote; walk from the right.
        for address in reversed(chain):
            if not self.is_trusted(address):
                result.client = address if _is_ip(address) else None
                break
        return result


def _read_forwarded(value: str, result: Forwarded, chain: list[str]) -> None:
    """RFC 7239 ``Forwarded: for=1.2.3.4;proto=https;host=example.com, for=...``."""
    for element in value.split(","):
        for pair in element.split(";"):
            key, _, raw = pair.partition("=")
            key, raw = key.strip().lower(), raw.strip().strip('"')
            if key == "for":
                # NOTE: RFC 7239 §6: IPv6 as "[2001:db8::1]:port"; strip brackets and port.
                chain.append(raw[1:].partition("]")[0] if raw.startswith("[")
                             else raw.partition(":")[0])
            elif key == "proto":
                result.scheme = raw.lower()
            elif key == "host":
                result.host = raw.encode("latin-1")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
