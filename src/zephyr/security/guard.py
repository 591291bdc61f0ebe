"""The checks every request passes before routing, in one pass over its headers.

Header count and size (431), message framing the server let through but the
app must not trust (400), trusted-proxy rewriting, then the Host allow-list
(400). Nothing here runs a handler, so a refused request never reaches one.
"""

from __future__ import annotations

from typing import Any, NoReturn

from zephyr.errors import BadRequest, RequestHeaderFieldsTooLarge
from zephyr.security.audit import log_refusal
from zephyr.security.hosts import HostValidator
from zephyr.security.proxies import ProxyResolver

__all__ = ["RequestGuard"]


class RequestGuard:
    """Built once from the settings; ``check(scope)`` raises the refusal or returns."""

    __slots__ = ("_hosts", "_max_count", "_max_size", "_proxies")

    def __init__(self, *, hosts: HostValidator | None, proxies: ProxyResolver | None,
                 max_count: int, max_size: int) -> None:
        self._hosts = hosts
        self._proxies = proxies
        self._max_count = max_count
        self._max_size = max_size

    def check(self, scope: dict[str, Any]) -> None:
        """Refuse ``scope`` (raising an HTTP error) unless it passes every check."""
        headers = scope["headers"]
        if len(headers) > self._max_count:
            self._refuse(scope, "too-many-headers", RequestHeaderFieldsTooLarge(
                f"the request has {len(headers)} headers; at most {self._max_count} are allowed"
            ))
        host: bytes | None = None
        length: bytes | None = None
        chunked = False
        size = 0
        # PERF: one loop finds everything the checks need.
        for name, value in headers:
            size += len(name) + len(value)
            if name == b"host":
                if host is not None:
                    # SECURITY: two Host headers: caches and the app may each pick another.
                    self._refuse(scope, "duplicate-host", BadRequest(
                        "the request has more than one Host header"))
                host = value
            elif name == b"content-length":
                if length is not None:
                    # SECURITY: RFC 9112 §6.3: repeated lengths are a smuggling vector.
                    self._refuse(scope, "duplicate-content-length", BadRequest(
                        "the request has more than one Content-Length header"))
                length = value
            elif name == b"transfer-encoding":
                chunked = True
        if size > self._max_size:
            self._refuse(scope, "headers-too-large", RequestHeaderFieldsTooLarge(
                f"the request headers take {size} bytes; at most {self._max_size} are allowed"
            ))
        if chunked and length is not None:
            # SECURITY: RFC 9112 §6.1: both framings at once is request smuggling.
            self._refuse(scope, "ambiguous-framing", BadRequest(
                "the request has both Content-Length and Transfer-Encoding; send one of them"))
        if self._proxies is not None:
            host = self._proxies.apply(scope, headers) or host
        if self._hosts is not None:
            self._check_host(scope, self._hosts, host)

    def _check_host(self, scope: dict[str, Any], hosts: HostValidator, host: bytes | None) -> None:
        if host is None:
            self._refuse(scope, "missing-host", BadRequest(
                "the request has no Host header; HTTP/1.1 requires one"))
        if not hosts.is_allowed(host):
            shown = host[:100].decode("latin-1")
            # SECURITY: a forged Host would poison absolute URLs, redirects and caches.
            self._refuse(scope, "disallowed-host", BadRequest(
                f"the host {shown!r} is not served here; if it should be, add it to "
                "ALLOWED_HOSTS"), host=shown)

    @staticmethod
    def _refuse(scope: dict[str, Any], reason: str, error: Exception, **fields: Any) -> NoReturn:
        log_refusal("request-refused", scope, reason, **fields)
        raise error
