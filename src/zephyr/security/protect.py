"""Each route's security checks, composed once at startup from the app, its groups and itself.

Before the handler, in this order: the failure throttle, rate limits, CSRF
(unsafe methods only), authentication and permissions; around it, the
handler timeout. A route that needs none of them gets its endpoint back
unchanged, so a plain GET pays nothing here.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zephyr.error_handlers import wants_html
from zephyr.errors import HTTPException, SetupError
from zephyr.security.auth import (
    AuthBackend,
    AuthenticationFailed,
    BasicAuth,
    authenticate,
    challenge_for,
    presents_credentials,
)
from zephyr.security.csrf import SAFE_METHODS, CSRFError, CSRFProtection
from zephyr.security.login import login_redirect
from zephyr.security.permissions import LoginRequired, check_permissions
from zephyr.security.ratelimit import (
    LIMITS_ATTRIBUTE,
    ClientKey,
    FailureThrottle,
    Limit,
    add_rate_limit_headers,
)

if TYPE_CHECKING:
    from zephyr.middleware import Endpoint
    from zephyr.requests import Request
    from zephyr.responses import Response
    from zephyr.routing import Route
    from zephyr.security.ratelimit_backends import RateLimitBackend, RateLimitResult

__all__ = ["ProtectedEndpoint", "RouteSecurity", "protect_route", "resolve"]

OnError = Callable[["Request", Exception], Awaitable["Response"]]
# The CSRF refusals where the browser itself says another site sent the request.
_CROSS_SITE = frozenset({"csrf-sec-fetch-site", "csrf-origin"})
#: Security options of one level (a group or the route itself) and its counter name.
OptionLayer = tuple[Mapping[str, Any], str]


@dataclass(frozen=True, slots=True)
class RouteSecurity:
    """What one route checks, resolved from the app, its groups and its own options."""

    csrf: bool
    limits: tuple[Limit, ...]
    auth: tuple[AuthBackend, ...]
    permissions: tuple[Callable[..., Any], ...]
    timeout: float | None
    headers: dict[str, str | None]


def resolve(route: Route, layers: Sequence[OptionLayer], *, csrf: bool,
            auth: Sequence[AuthBackend], prefix_limits: Sequence[tuple[str, Limit]],
            client: ClientKey) -> RouteSecurity:
    """Merge the security options of ``layers`` (app first, the route last) over the app's
    defaults (``csrf``, ``auth``), adding the ``RATE_LIMITS`` prefixes that cover the route;
    limits without a ``key`` count per ``client``."""
    timeout: float | None = None
    headers: dict[str, str | None] = {}
    limits: list[Limit] = []
    permissions: list[Callable[..., Any]] = []
    for options, counter in layers:
        _check_shapes(route, options)
        csrf = options.get("csrf", csrf)
        auth = options.get("auth", auth) or ()
        timeout = options.get("timeout", timeout)
        headers.update(options.get("security_headers") or {})
        permissions.extend(options.get("permissions", ()))
        limits.extend(lim.bound(counter, client) for lim in options.get("limits", ()))
    limits.extend(lim.bound(route.name, client)
                  for lim in getattr(route.handler, LIMITS_ATTRIBUTE, ()))
    limits.extend(lim for prefix, lim in prefix_limits
                  if route.path == prefix or route.path.startswith(prefix + "/"))
    if permissions and not auth:
        raise SetupError(
            f"route {route.path!r} has permissions but no authentication backend; add "
            "app.auth_backends.append(...) or auth=[...] on the route or its group"
        )
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)
                                or not 0 < timeout < math.inf):
        raise SetupError(f"route {route.path!r}: timeout must be a number of seconds, "
                         f"not {timeout!r}")
    return RouteSecurity(csrf=bool(csrf), limits=tuple(limits), auth=tuple(auth),
                         permissions=tuple(permissions), timeout=timeout, headers=headers)


_SHAPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "limits": (lambda item: isinstance(item, Limit), "limit('5/minute') objects"),
    "auth": (lambda item: isinstance(item, AuthBackend), "AuthBackend instances"),
    "permissions": (lambda item: callable(item), "permissions like IsAuthenticated()"),
}


def _check_shapes(route: Route, options: Mapping[str, Any]) -> None:
    """Refuse ``limits=``, ``auth=`` and ``permissions=`` that are not lists of the right kind."""
    for name, (fits, wanted) in _SHAPES.items():
        value = options.get(name)
        if value is None:
            continue
        if not isinstance(value, list | tuple) or not all(fits(item) for item in value):
            raise SetupError(f"route {route.path!r}: {name}= takes a list of {wanted}, "
                             f"not {value!r}")


def protect_route(route: Route, security: RouteSecurity, endpoint: Endpoint, on_error: OnError,
                  *, csrf: CSRFProtection, throttle: FailureThrottle | None,
                  counter: RateLimitBackend, login_path: str | None = None) -> Endpoint:
    """``endpoint`` behind the route's checks (or unchanged when it has none).

    With ``login_path``, a browser that a permission refuses for not being logged in
    is redirected there instead of getting the 401.
    """
    unsafe = bool(route.methods - SAFE_METHODS)
    checked = csrf if security.csrf and unsafe else None
    if checked is not None and any(isinstance(b, BasicAuth) for b in security.auth):
        checked = csrf.for_basic_auth()
    # Where failures happen (forms, logins, credentials), clients over the limit get 429.
    throttled = throttle if (unsafe or security.auth) else None
    if not (checked or throttled or security.limits or security.auth or security.permissions
            or security.timeout):
        return endpoint  # PERF: nothing to check
    return ProtectedEndpoint(counter, security, checked, throttled, endpoint, on_error,
                             login_path=login_path if security.permissions else None)


class ProtectedEndpoint:
    """A route's endpoint after its security checks, inside its handler timeout."""

    __slots__ = (
        "_challenge",
        "_counter",
        "_csrf",
        "_endpoint",
        "_login_path",
        "_on_error",
        "_only_throttled",
        "_security",
        "_throttle",
    )

    def __init__(self, counter: RateLimitBackend, security: RouteSecurity,
                 csrf: CSRFProtection | None, throttle: FailureThrottle | None,
                 endpoint: Endpoint, on_error: OnError, *,
                 login_path: str | None = None) -> None:
        self._counter = counter
        self._login_path = login_path
        self._security = security
        self._csrf = csrf
        self._throttle = throttle
        self._endpoint = endpoint
        self._on_error = on_error
        self._challenge = challenge_for(security.auth)
        # Only the failure throttle applies (an unsafe route without CSRF, limits or auth).
        self._only_throttled = throttle is not None and not (
            csrf or security.limits or security.auth or security.permissions or security.timeout
        )

    @property
    def security(self) -> RouteSecurity:
        """What the route checks (the OpenAPI document lists the refusals)."""
        return self._security

    @property
    def checks_csrf(self) -> bool:
        """Whether unsafe requests to the route are CSRF-checked."""
        return self._csrf is not None

    @property
    def throttled(self) -> bool:
        """Whether the route answers 429 to clients with too many security failures."""
        return self._throttle is not None

    async def __call__(self, request: Request) -> Response:
        if self._only_throttled and not self._throttle.is_suspect(request):  # type: ignore[union-attr]
            return await self._endpoint(request)  # PERF: a client with a clean record
        try:
            tightest = await self._check(request)
        except Exception as exc:
            if (self._login_path is not None and isinstance(exc, LoginRequired)
                    and wants_html(request)):
                return login_redirect(request, self._login_path)
            return await self._on_error(request, exc)
        timeout = self._security.timeout
        if timeout is None:
            response = await self._endpoint(request)
        else:
            try:
                async with asyncio.timeout(timeout):
                    response = await self._endpoint(request)
            except TimeoutError:
                response = await self._on_error(request, HTTPException(
                    503, f"the handler did not finish within {timeout:g} seconds"))
        if tightest is not None:
            add_rate_limit_headers(response, tightest)
        return response

    async def _check(self, request: Request) -> RateLimitResult | None:
        """Run the checks in order; the rate limit closest to running out, if any."""
        security, throttle = self._security, self._throttle
        # SECURITY: a blocked client is refused where it could be guessing: unsafe requests
        # (logins, forms) and requests presenting a credential the route checks. A safe
        # request without one is a public read, served even to a shared, blocked address.
        if throttle is not None and throttle.is_suspect(request) and (
                request.scope["method"] not in SAFE_METHODS
                or presents_credentials(request, security.auth)):
            await throttle.check(request)
        tightest = None
        for lim in security.limits:
            result = await lim.hit(self._counter, request)
            if tightest is None or result.remaining < tightest.remaining:
                tightest = result
        try:
            if self._csrf is not None and request.scope["method"] not in SAFE_METHODS:
                await self._csrf.check(request)
            if security.auth:
                request.user = await authenticate(request, security.auth)
        except (CSRFError, AuthenticationFailed) as exc:
            # Bad CSRF tokens and wrong credentials count; a visitor who is simply not
            # logged in (refused by a permission below) does not.
            # SECURITY: nor does a request the browser says another site sent: that is an
            # attack *on* this visitor, and counting it would let any page lock them out.
            if throttle is not None and not (isinstance(exc, CSRFError)
                                             and exc.reason in _CROSS_SITE):
                await throttle.record(request, type(exc).__name__)
            raise
        if security.permissions:
            await check_permissions(request, request.user, security.permissions,
                                    challenge=self._challenge)
        return tightest
