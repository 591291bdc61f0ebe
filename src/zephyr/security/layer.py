"""The security features of one app, built from its settings when it starts serving.

``SecurityLayer`` holds what every request may use (the request guard, the
security headers, sessions, CSRF, the rate-limit backend and the failure
throttle). It is built from the settings and the app's authentication
backends, never from the app itself. Per request the app calls it twice:
``guard.check(scope)`` before routing and :meth:`SecurityLayer.finish` before
sending; :meth:`SecurityLayer.protect` composes each route's checks once.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from zephyr.security.csrf import CSRFProtection
from zephyr.security.deploy import InsecureConfigError, require_secret_key, secret_key_problem
from zephyr.security.guard import RequestGuard
from zephyr.security.headers import SecurityHeaders
from zephyr.security.hosts import HostValidator
from zephyr.security.protect import OnError, OptionLayer, protect_route, resolve
from zephyr.security.proxies import ProxyResolver
from zephyr.security.ratelimit import FailureThrottle, Limit, limit
from zephyr.security.ratelimit_backends import (
    MemoryRateLimitBackend,
    Rate,
    RateLimitBackend,
    RedisRateLimitBackend,
)
from zephyr.security.session_backends import (
    CookieSessionBackend,
    MemorySessionBackend,
    RedisSessionBackend,
    SessionBackend,
)
from zephyr.security.sessions import SessionManager

if TYPE_CHECKING:
    from zephyr.datastructures import Session
    from zephyr.middleware import Endpoint
    from zephyr.requests import Request
    from zephyr.responses import Response
    from zephyr.routing import Route
    from zephyr.security.auth import AuthBackend

__all__ = ["SecurityLayer"]

logger = logging.getLogger("zephyr.security")


class SecurityLayer:
    """Everything security-related an app decided at startup."""

    def __init__(self, config: Mapping[str, Any], *,
                 auth_backends: Sequence[AuthBackend] = ()) -> None:
        """Build from ``config`` (refusing an unsafe one); ``auth_backends`` apply app-wide."""
        self._config = config
        #: Tried on every route that does not set its own ``auth=`` (the app's list, live).
        self.auth_backends = auth_backends
        keys = _secret_keys(config)
        # The routes whose security_headers= override the app's, with their headers.
        self._route_headers: dict[object, SecurityHeaders] = {}
        self.guard = RequestGuard(
            hosts=HostValidator(config["ALLOWED_HOSTS"]),
            proxies=ProxyResolver(config["TRUSTED_PROXIES"], headers=config["PROXY_HEADERS"])
            if config["TRUSTED_PROXIES"] else None,
            max_count=config["MAX_HEADER_COUNT"], max_size=config["MAX_HEADER_SIZE"],
        )
        self.headers = SecurityHeaders(config) if config["SECURITY_HEADERS"] else None
        self.sessions = SessionManager(
            _session_backend(config["SESSION_BACKEND"], keys, config["REDIS_URL"]),
            cookie_name=config["SESSION_COOKIE_NAME"], max_age=config["SESSION_MAX_AGE"],
            secure=config["SESSION_COOKIE_SECURE"], on_forged=self._count_forged_session,
        )
        # Built even with CSRF=False: a route may still ask for it with csrf=True.
        self.csrf = CSRFProtection(
            keys, trusted_origins=config["CSRF_TRUSTED_ORIGINS"],
            max_age=config["SESSION_MAX_AGE"], form_limit=config["MAX_FORM_SIZE"],
        )
        self.limits: RateLimitBackend = (
            RedisRateLimitBackend(config["REDIS_URL"])
            if config["RATE_LIMIT_BACKEND"] == "redis" else MemoryRateLimitBackend()
        )
        failures = config["FAILURE_LIMIT"]
        self.throttle = FailureThrottle(self.limits, Rate.parse(failures)) if failures else None
        self.prefix_limits: tuple[tuple[str, Limit], ...] = tuple(
            (prefix.rstrip("/"), limit(rate).bound(f"prefix:{prefix}"))
            for prefix, rate in config["RATE_LIMITS"].items()
        )

    def protect(self, route: Route, layers: Sequence[OptionLayer], endpoint: Endpoint,
                on_error: OnError) -> Endpoint:
        """``endpoint`` behind the route's checks; the route's own headers are kept for it.

        ``layers`` are the security options of the app, the route's groups and the
        route itself (outermost first), each with the name its rate-limit counters use.
        """
        security = resolve(route, layers, csrf=bool(self._config["CSRF"]),
                           auth=self.auth_backends, prefix_limits=self.prefix_limits)
        if security.headers and self.headers is not None:
            self._route_headers[route] = SecurityHeaders(self._config, security.headers)
        return protect_route(route, security, endpoint, on_error, csrf=self.csrf,
                             throttle=self.throttle, counter=self.limits)

    def finish(self, request: Request, response: Response, *,
               saved: bool = False) -> Awaitable[None] | None:
        """Save an opened session (unless ``saved``) and add the security headers (the
        route's own, else the app's) to ``response``.

        PERF: returns an awaitable only when there is a session to save, so a request
        without one makes no coroutine and no further call here.
        """
        if not saved and request.opened_session is not None:
            return self._save_then_finish(request, request.opened_session, response)
        headers = self.headers
        if self._route_headers:
            headers = self._route_headers.get(request.route, headers)
        if headers is not None:
            headers.apply(response, request.scope, request.issued_csp_nonce)
        return None

    async def _save_then_finish(self, request: Request, session: Session,
                                response: Response) -> None:
        await self.sessions.commit(request, session, response)
        self.finish(request, response, saved=True)

    async def _count_forged_session(self, request: Request) -> None:
        if self.throttle is not None:
            await self.throttle.record(request, "bad-session-signature")

    async def close(self) -> None:
        """Release the backends' connections (at shutdown)."""
        await self.limits.close()
        await self.sessions.backend.close()


def _secret_keys(config: Mapping[str, Any]) -> list[str]:
    """The signing key first, then the old keys still accepted (rotation)."""
    debug = bool(config["DEBUG"])
    key = config["SECRET_KEY"]
    problem = secret_key_problem(key)
    if problem is not None:
        if not debug:
            require_secret_key(config, needed_for="signing sessions and CSRF tokens")
        elif not key:
            logger.warning("debug mode: no SECRET_KEY is set, so an ephemeral one signs "
                           "sessions and CSRF tokens until the process stops")
            key = secrets.token_urlsafe(50)
        else:
            logger.warning("debug mode: SECRET_KEY is weak (%s); the app would refuse to "
                           "start with it outside debug mode", problem)
    fallbacks = list(config["SECRET_KEY_FALLBACKS"])
    for index, old in enumerate(fallbacks):
        weakness = secret_key_problem(old)
        if weakness is not None and not debug:
            raise InsecureConfigError(
                f"SECRET_KEY_FALLBACKS[{index}] is weak ({weakness}); an old key still signs "
                "what the app accepts, so remove it or replace it"
            )
    return [key, *fallbacks]


def _session_backend(kind: str, keys: list[str], redis_url: str) -> SessionBackend:
    if kind == "memory":
        return MemorySessionBackend(keys)
    if kind == "redis":
        return RedisSessionBackend(keys, url=redis_url)
    return CookieSessionBackend(keys)

