"""CSRF protection for unsafe methods: the browser's verdict first, then a signed token.

1. ``Sec-Fetch-Site``: ``same-origin`` and ``none`` (typed URL, bookmark) pass;
   ``same-site`` and ``cross-site`` pass only from a trusted origin.
2. Else ``Origin``: it must be the request's own origin or a trusted one.
3. Else, a request that carries no cookies is no browser carrying ambient
   credentials (curl, httpx, a script) and passes, as with Go's net/http
   ``CrossOriginProtection``; unless its route is authenticated by HTTP Basic,
   which browsers attach by themselves.
4. Else (no browser verdict: old browsers, some proxies, scripts holding
   cookies) a token bound to the visitor must come back in the
   ``csrf_token`` form field or the ``X-CSRF-Token`` header.

The visitor's secret lives in a signed cookie of its own (``CSRF_COOKIE_NAME``,
``__Host-`` over https), not in the session: anonymous page views that show a
form store nothing on the server. Tokens are the secret, masked differently on
every call and signed; a new session identity (login, logout) gets a new secret.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import msgspec
from itsdangerous import BadData, Signer, URLSafeTimedSerializer

from zephyr.audit import log_refusal
from zephyr.context import request_var
from zephyr.errors import ContextError, Forbidden, PayloadTooLarge

if TYPE_CHECKING:
    from markupsafe import Markup

    from zephyr.datastructures import Session
    from zephyr.requests import Request
    from zephyr.responses import Response
    from zephyr.security.site_cookies import SiteCookie

__all__ = ["CSRFError", "CSRFProtection", "csrf_token", "htmx_csrf_headers"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FIELD_NAME = "csrf_token"
HEADER_NAME = "x-csrf-token"
_URLENCODED = "application/x-www-form-urlencoded"
_FORM_TYPES = frozenset({_URLENCODED, "multipart/form-data"})
# A secret is 43 characters and its SHA-256 signature 43 more.
_MAX_COOKIE_LENGTH = 128
# What may not stay as it is inside a single-quoted HTML attribute value.
_ATTRIBUTE_ESCAPES = str.maketrans({"&": "&amp;", "'": "&#39;", "<": "&lt;", ">": "&gt;"})


class CSRFError(Forbidden):
    """403: an unsafe request failed the CSRF check named by ``reason``."""


class CSRFProtection:
    """The CSRF check of one app, and the tokens it hands out."""

    __slots__ = ("_serializer", "_signer", "cookie", "form_limit", "max_age",
                 "token_without_cookies", "trusted_origins")

    def __init__(self, secret_keys: Sequence[str], *, cookie: SiteCookie,
                 trusted_origins: Iterable[str], form_limit: int | None = None) -> None:
        """``secret_keys`` newest first; ``cookie`` holds the visitor's secret and sets how
        long secrets and tokens live; ``form_limit`` (``MAX_FORM_SIZE``) bounds the
        url-encoded form decoded to find the token, whatever a route's own
        ``max_body_size=`` lets in."""
        # NOTE: itsdangerous signs with the last key and verifies with all of them.
        keys = list(reversed(secret_keys))
        self._serializer = URLSafeTimedSerializer(keys, salt="zephyr.csrf")
        self._signer = Signer(keys, salt="zephyr.csrf.secret", digest_method=hashlib.sha256)
        self.cookie = cookie
        self.trusted_origins = frozenset(o.rstrip("/").lower() for o in trusted_origins)
        self.max_age = cookie.max_age
        self.form_limit = form_limit
        #: Whether a request without cookies needs a token too (see :meth:`for_basic_auth`).
        self.token_without_cookies = False

    def for_basic_auth(self) -> CSRFProtection:
        """This check for a route that HTTP Basic authenticates: browsers attach those
        credentials by themselves, so a request without cookies needs a token too."""
        strict = copy.copy(self)
        strict.token_without_cookies = True
        return strict

    def token(self, request: Request) -> str:
        """A new token for the visitor of ``request`` (masked: it differs on every call)."""
        session = request.session
        secret = session.csrf_secret
        if secret is None:
            # SECURITY: a new session identity (login, logout) gets a new secret, so a token
            # an attacker planted before the login is worthless after it.
            secret = None if session.regenerated else self._cookie_secret(request)
            if secret is None:
                secret = secrets.token_urlsafe(32)
                session.csrf_secret_is_new = True
            session.csrf_secret = secret
        # SECURITY: a random salt per token keeps the page's bytes from repeating (BREACH).
        return self._serializer.dumps([secret, secrets.token_urlsafe(8)])

    def save(self, request: Request, session: Session, response: Response) -> None:
        """Send a new secret's cookie with ``response``, or drop the old one after a new
        session identity that asked for no token."""
        if session.csrf_secret_is_new and session.csrf_secret is not None:
            self.cookie.set(request, response,
                            self._signer.sign(session.csrf_secret).decode("ascii"))
        elif session.regenerated and self.cookie.read(request) is not None:
            self.cookie.delete(request, response)

    def _cookie_secret(self, request: Request) -> str | None:
        """The secret in the visitor's CSRF cookie, if it carries one we signed."""
        value = self.cookie.read(request)
        # SECURITY: no cookie we sign is this long; do not spend an HMAC on it.
        if value is None or len(value) > _MAX_COOKIE_LENGTH:
            return None
        try:
            return self._signer.unsign(value).decode("ascii")
        except (BadData, UnicodeDecodeError):
            return None

    async def check(self, request: Request) -> None:
        """Raise :class:`CSRFError` unless the unsafe ``request`` is same-origin or tokened."""
        headers = request.headers
        site = headers.get("sec-fetch-site")
        origin = headers.get("origin")
        if site is not None:
            if site in ("same-origin", "none"):
                return
            if origin is not None and origin.lower() in self.trusted_origins:
                return
            self._refuse(request, "sec-fetch-site",
                         "the browser says this request came from another site "
                         "(Sec-Fetch-Site); add its origin to CSRF_TRUSTED_ORIGINS if it is "
                         "yours", received={"sec-fetch-site": site[:20]})
        if origin is not None:
            if origin.lower() in (request.base_origin.lower(), *self.trusted_origins):
                return
            self._refuse(request, "origin",
                         "the request's Origin is not this site; add it to "
                         "CSRF_TRUSTED_ORIGINS if it is yours", received={"origin": origin[:100]})
        # NOTE: no Sec-Fetch-Site, no Origin and no cookies: not a browser carrying the
        # visitor's credentials (a browser sends Origin on every cross-origin POST), so
        # there is nothing for a forged request to ride on (Go's CrossOriginProtection).
        if not self.token_without_cookies and "cookie" not in headers:
            return
        await self._check_token(request)

    async def _check_token(self, request: Request) -> None:
        submitted = await _submitted_token(request, self.form_limit)
        if not submitted:
            self._refuse(request, "token-missing",
                         "the CSRF token is missing; send the csrf_token form field or the "
                         "X-CSRF-Token header (from csrf_token()). A route that no cookie or "
                         "HTTP Basic authenticates can turn the check off with csrf=False, "
                         "and another site of yours goes in CSRF_TRUSTED_ORIGINS")
        expected = self._cookie_secret(request)
        try:
            secret, _ = self._serializer.loads(submitted, max_age=self.max_age)
        except (BadData, ValueError, TypeError):
            secret = None
        # SECURITY: constant-time comparison; a token of another visitor fails too.
        if not (isinstance(secret, str) and isinstance(expected, str)
                and hmac.compare_digest(secret, expected)):
            self._refuse(request, "token-invalid",
                         "the CSRF token is not valid for this visitor; reload the page and "
                         "submit again")

    @staticmethod
    def _refuse(request: Request, reason: str, detail: str,
                received: dict[str, str] | None = None) -> NoReturn:
        log_refusal("csrf-refused", request.scope, reason, received=received or {})
        raise CSRFError(f"CSRF check failed: {detail}", reason=f"csrf-{reason}",
                        received=received)


async def _submitted_token(request: Request, form_limit: int | None) -> str | None:
    header: str | None = request.headers.get(HEADER_NAME)
    if header is not None:
        return header
    kind = request.content_type
    if kind == _URLENCODED and form_limit is not None and len(await request.body()) > form_limit:
        # SECURITY: decoding a form holds the event loop (~0.5 s per MiB); a route that takes
        # larger bodies must not make every forged request pay that before it is refused.
        raise PayloadTooLarge(
            f"the form is larger than {form_limit} bytes, the most the CSRF check reads to "
            "find its token; send the token in the X-CSRF-Token header, or raise MAX_FORM_SIZE"
        )
    if kind in _FORM_TYPES:
        field: Any = (await request.form()).get(FIELD_NAME)
        return str(field) if isinstance(field, str) else None
    return None


def csrf_token(request: Request | None = None) -> str:
    """A CSRF token for the current request's session: put it in forms as ``csrf_token``.

    ``<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">``
    """
    if request is None:
        request = request_var.get(None)
        if request is None:
            raise ContextError("csrf_token() needs a request; call it while handling one")
    layer: Any = getattr(request.app, "security", None)
    if layer is None:
        raise ContextError("csrf_token() needs a request handled by a Zephyr app")
    token: str = layer.csrf.token(request)
    return token


def htmx_csrf_headers(request: Request | None = None) -> Markup:
    """The ``hx-headers`` attribute that sends a CSRF token with every htmx request below it.

    ``<body {{ htmx_csrf_headers() }}>`` gives
    ``<body hx-headers='{"X-CSRF-Token":"..."}'>`` (JSON, escaped for the attribute).
    """
    # NOTE: markupsafe (Jinja2's) loads with the first page that asks, not with the app.
    from markupsafe import Markup

    value = msgspec.json.encode({"X-CSRF-Token": csrf_token(request)}).decode()
    # SECURITY: escaped for a single-quoted attribute, so the value cannot end it early.
    return Markup(f"hx-headers='{value.translate(_ATTRIBUTE_ESCAPES)}'")  # noqa: S704
