"""CSRF protection for unsafe methods: the browser's verdict first, then a signed token.

1. ``Sec-Fetch-Site``: ``same-origin`` and ``none`` (typed URL, bookmark) pass;
   ``same-site`` and ``cross-site`` pass only from a trusted origin.
2. Else ``Origin``: it must be the request's own origin or a trusted one.
3. Else (no browser verdict: old browsers, some proxies, non-browser
   clients) a token bound to the session must come back in the
   ``csrf_token`` form field or the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import msgspec
from itsdangerous import BadData, URLSafeTimedSerializer

from zephyr.audit import log_refusal
from zephyr.context import request_var
from zephyr.datastructures import CSRF_KEY
from zephyr.errors import ContextError, Forbidden

if TYPE_CHECKING:
    from markupsafe import Markup

    from zephyr.requests import Request

__all__ = ["CSRFError", "CSRFProtection", "csrf_token", "htmx_csrf_headers"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FIELD_NAME = "csrf_token"
HEADER_NAME = "x-csrf-token"
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
# What may not stay as it is inside a single-quoted HTML attribute value.
_ATTRIBUTE_ESCAPES = str.maketrans({"&": "&amp;", "'": "&#39;", "<": "&lt;", ">": "&gt;"})


class CSRFError(Forbidden):
    """403: an unsafe request failed the CSRF check named by ``reason``."""


class CSRFProtection:
    """The CSRF check of one app, and the tokens it hands out."""

    __slots__ = ("_serializer", "max_age", "trusted_origins")

    def __init__(self, secret_keys: Sequence[str], *, trusted_origins: Iterable[str],
                 max_age: int) -> None:
        # NOTE: itsdangerous signs with the last key and verifies with all of them.
        self._serializer = URLSafeTimedSerializer(list(reversed(secret_keys)),
                                                  salt="zephyr.csrf")
        self.trusted_origins = frozenset(o.rstrip("/").lower() for o in trusted_origins)
        self.max_age = max_age

    def token(self, request: Request) -> str:
        """A new token for ``request``'s session (masked: it differs on every call)."""
        session = request.session
        secret = session.get(CSRF_KEY)
        if secret is None:
            secret = session[CSRF_KEY] = secrets.token_urlsafe(32)
        # SECURITY: a random salt per token keeps the page's bytes from repeating (BREACH).
        return self._serializer.dumps([secret, secrets.token_urlsafe(8)])

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
                         f"the browser says this request came from another site "
                         f"(Sec-Fetch-Site: {site[:20]}); add its origin to "
                         "CSRF_TRUSTED_ORIGINS if it is yours")
        if origin is not None:
            if origin.lower() in (request.base_origin.lower(), *self.trusted_origins):
                return
            self._refuse(request, "origin",
                         f"the request's Origin {origin[:100]!r} is not this site; add it to "
                         "CSRF_TRUSTED_ORIGINS if it is yours")
        await self._check_token(request)

    async def _check_token(self, request: Request) -> None:
        submitted = await _submitted_token(request)
        if not submitted:
            self._refuse(request, "token-missing",
                         "the CSRF token is missing; send the csrf_token form field or the "
                         "X-CSRF-Token header (from csrf_token())")
        session = await request.load_session()
        expected = session.get(CSRF_KEY)
        try:
            secret, _ = self._serializer.loads(submitted, max_age=self.max_age)
        except (BadData, ValueError, TypeError):
            secret = None
        # SECURITY: constant-time comparison; a token of another session fails too.
        if not (isinstance(secret, str) and isinstance(expected, str)
                and hmac.compare_digest(secret, expected)):
            self._refuse(request, "token-invalid",
                         "the CSRF token is not valid for this session; reload the page and "
                         "submit again")

    @staticmethod
    def _refuse(request: Request, reason: str, detail: str) -> NoReturn:
        log_refusal("csrf-refused", request.scope, reason)
        raise CSRFError(f"CSRF check failed: {detail}", reason=f"csrf-{reason}")


async def _submitted_token(request: Request) -> str | None:
    header: str | None = request.headers.get(HEADER_NAME)
    if header is not None:
        return header
    if request.content_type in _FORM_TYPES:
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
