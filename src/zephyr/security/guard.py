"""The checks every request passes before routing, in one pass over its headers.

The HTTP version (505) and the request target (400), header count and size
(431), message framing the server let through but the app must not trust
(400), trusted-proxy rewriting, then the Host allow-list (400). Nothing here
runs a handler, so a refused request never reaches one.
"""

from __future__ import annotations

from typing import Any, NoReturn

from zephyr.audit import log_refusal
from zephyr.errors import BadRequest, HTTPException, RequestHeaderFieldsTooLarge
from zephyr.security.hosts import HostValidator
from zephyr.security.proxies import ProxyResolver

__all__ = ["RequestGuard"]

_WATCHED = frozenset({b"host", b"content-length", b"content-type", b"transfer-encoding"})
# NOTE: the ASGI HTTP spec (2.5) defines "1.0", "1.1" and "2"; it already speaks of HTTP/3,
# and the servers that speak it (Hypercorn, uvicorn) send "3".
_HTTP_VERSIONS = frozenset({"1.0", "1.1", "2", "3", None})


def _closing(detail: str, status: int = 400, **received: str) -> HTTPException:
    """A refusal after which the connection closes: where the body ends, or what the rest of
    the connection means, is unknown (RFC 9112 §6.3)."""
    return HTTPException(status, detail, headers={"Connection": "close"}, received=received)


class RequestGuard:
    """Built once from the settings; ``check(scope)`` raises the refusal or returns."""

    __slots__ = ("_hosts", "_known_hosts", "_max_count", "_max_size", "_proxies")

    def __init__(self, *, hosts: HostValidator, proxies: ProxyResolver | None,
                 max_count: int, max_size: int) -> None:
        self._hosts = hosts
        self._known_hosts = hosts.known
        self._proxies = proxies
        self._max_count = max_count
        self._max_size = max_size

    def check(self, scope: dict[str, Any]) -> None:  # noqa: C901 - PERF: every check in one frame
        """Refuse ``scope`` (raising an HTTP error) unless it passes every check."""
        # PERF: one set lookup (None: a scope built by hand, which may leave the version out).
        if scope.get("http_version") not in _HTTP_VERSIONS:
            # SECURITY: a version no ASGI server should report is a request line nobody parsed
            # the way it was meant (h11 passes 'HTTP/1.2', 'HTTP/2.0', 'HTTP/0.9' through).
            self._refuse(scope, "http-version", _closing(
                "the request's HTTP version is not one this app serves (1.0, 1.1, 2 or 3)", 505,
                http_version=str(scope.get("http_version"))[:20]))
        # PERF: the target is checked by its first byte (47 is '/'), read without a slice;
        # raw_path is what the client sent.
        target = scope.get("raw_path") or scope["path"].encode()
        if not target or target[0] != 47:
            self._check_target(scope, target)
        headers = scope["headers"]
        if len(headers) > self._max_count:
            self._refuse(scope, "too-many-headers", RequestHeaderFieldsTooLarge(
                f"the request has {len(headers)} headers; at most {self._max_count} are allowed"
            ))
        size = hosts = lengths = types = 0
        host: bytes | None = None
        chunked = False
        # PERF: one pass sums the sizes and counts the few headers the checks read.
        for name, value in headers:
            size += len(name) + len(value)
            if name in _WATCHED:
                if name == b"host":
                    hosts += 1
                    host = value
                elif name == b"content-length":
                    lengths += 1
                elif name == b"content-type":
                    types += 1
                else:
                    chunked = True
        if size > self._max_size:
            self._refuse(scope, "headers-too-large", RequestHeaderFieldsTooLarge(
                f"the request headers take {size} bytes; at most {self._max_size} are allowed"
            ))
        if hosts > 1 or lengths > 1 or types > 1 or (chunked and lengths):
            self._refuse_framing(scope, hosts, lengths, types)
        if self._proxies is not None:
            forwarded = self._proxies.apply(scope, headers)
            if forwarded is not None:
                self._check_host(scope, forwarded)
                # The app builds URLs from the Host header: make it the checked, forwarded one.
                scope["headers"] = [(n, v) for n, v in headers if n != b"host"]
                scope["headers"].append((b"host", forwarded))
                return
        if host not in self._known_hosts:
            self._check_host(scope, host)

    def _check_target(self, scope: dict[str, Any], target: bytes) -> None:
        """Refuse a target that is not a path, unless it is ``OPTIONS *``."""
        if target == b"*" and scope["method"] == "OPTIONS":
            return  # NOTE: RFC 9110 §9.3.7: 'OPTIONS *' asks about the server as a whole.
        # SECURITY: RFC 9112 §3.2: only the origin form ('/path?query') names a resource of
        # this app, and '*' only with OPTIONS. An absolute-form target names its own host,
        # which the Host allow-list never saw (uvicorn's h11 passes it on as the path).
        self._refuse(scope, "request-target", _closing(
            "the request target is not a path; send one that starts with '/' (or '*' with "
            "OPTIONS)", target=target[:100].decode("latin-1")))

    def _refuse_framing(self, scope: dict[str, Any], hosts: int, lengths: int,
                        types: int) -> NoReturn:
        """Refuse a repeated Host, length or content type, or a body framed two ways."""
        if hosts > 1:
            # SECURITY: two Host headers: caches and the app may each pick another.
            self._refuse(scope, "duplicate-host", _closing(
                "the request has more than one Host header"))
        if lengths > 1:
            # SECURITY: RFC 9112 §6.3: repeated lengths are a smuggling vector.
            self._refuse(scope, "duplicate-content-length", _closing(
                "the request has more than one Content-Length header"))
        if types > 1:
            # SECURITY: the size limit and the parser must read the body as one media type.
            self._refuse(scope, "duplicate-content-type", _closing(
                "the request has more than one Content-Type header; send one"))
        # SECURITY: RFC 9112 §6.1: both framings at once is request smuggling.
        self._refuse(scope, "ambiguous-framing", _closing(
            "the request has both Content-Length and Transfer-Encoding; send one of them"))

    def _check_host(self, scope: dict[str, Any], host: bytes | None) -> None:
        if host is None:
            self._refuse(scope, "missing-host", BadRequest(
                "the request has no Host header; send one naming this site"))
        if not self._hosts.is_allowed(host):
            shown = host[:100].decode("latin-1")
            # SECURITY: a forged Host would poison absolute URLs, redirects and caches.
            self._refuse(scope, "disallowed-host", BadRequest(
                "the host is not served here; if it should be, add it to ALLOWED_HOSTS",
                received={"host": shown}))

    @staticmethod
    def _refuse(scope: dict[str, Any], reason: str, error: HTTPException) -> NoReturn:
        """Log the refusal, with what the request sent, and raise it."""
        log_refusal("request-refused", scope, reason, received=error.received)
        raise error
