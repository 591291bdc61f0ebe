"""Every exception Zephyr raises, and ``abort()``.

The hierarchy (the classes of features live in their modules, named on the right)::

    ZephyrError                     root of everything Zephyr raises
    ├── ConfigError                 a setting is unknown or has a bad value
    │   └── InsecureConfigError     refused outside debug mode (security.deploy)
    ├── SetupError                  the app was assembled wrongly (at registration)
    │   └── RouteConflictError      two routes match the same requests
    ├── StatusCodeError             (also ValueError) a number that is no HTTP status
    ├── ApplicationError            (also RuntimeError) a failed lifespan, no response
    ├── URLBuildError               (also LookupError) url_for() cannot build the URL
    ├── ContextError                (also RuntimeError) a context global outside a request
    ├── HeaderValueError            (also ValueError) a header that would split the response
    ├── ResponseError               (also TypeError) a return value that is no response
    │   └── ResponseValidationError a return value that does not fit the response model
    ├── ClientDisconnect            the client went away while we were reading
    ├── PasswordError               (also ValueError) an unusable password (security.passwords)
    ├── InvalidTokenError           a JWT that is malformed, forged or expired (security.jwt)
    ├── UnsafeURLError              (also ValueError) an outbound URL refused (security.ssrf)
    ├── SessionTooLargeError        session data too large for a cookie (security.session_backends)
    ├── SessionBackendError         the session store failed (security.session_backends)
    ├── RateLimitBackendError       the rate-limit store failed (security.ratelimit_backends)
    ├── TemplateError               a template could not be compiled or rendered (templating)
    │   ├── TemplateSyntaxError     not valid Jinja2 (the file and line in the message)
    │   ├── TemplateSecurityError   the template sandbox refused
    │   ├── BlockNotFoundError      a fragment names a block the template lacks
    │   └── ComponentError          a missing component, or bad props (components)
    └── HTTPException               turned into an HTTP error response
        ├── BadRequest              400
        ├── AuthenticationFailed    401 (carries ``WWW-Authenticate``; security.auth)
        │   └── LoginRequired       a permission refused an anonymous request
        │                           (security.permissions; browsers go to LOGIN_URL)
        ├── Forbidden               403 (carries the ``reason`` of a security refusal)
        │   ├── CSRFError           a failed CSRF check (security.csrf)
        │   ├── CORSError           a CORS preflight its route's policy refuses (cors)
        │   └── PermissionDenied    a permission refused the user (security.permissions)
        ├── NotFound                404
        │   ├── SlashRedirect       the path with the slash added or removed has a route
        │   │                       (routing; answered with a redirect, not a 404)
        │   └── TemplateNotFound    the template a handler asked for is in no folder
        │                           (templating)
        ├── MethodNotAllowed        405 (carries ``Allow``)
        ├── RequestTimeout          408 (closes the connection)
        ├── PayloadTooLarge         413
        ├── UnsupportedMediaType    415
        ├── RequestValidationError  422 (carries ``errors``)
        ├── TooManyRequests         429 (carries ``Retry-After``)
        └── RequestHeaderFieldsTooLarge  431 (closes the connection)

How an exception becomes a response lives in :mod:`zephyr.error_handlers`.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

__all__ = [
    "ApplicationError",
    "BadRequest",
    "ClientDisconnect",
    "ConfigError",
    "ContextError",
    "Forbidden",
    "HTTPException",
    "HeaderValueError",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "RequestHeaderFieldsTooLarge",
    "RequestTimeout",
    "RequestValidationError",
    "ResponseError",
    "ResponseValidationError",
    "RouteConflictError",
    "SetupError",
    "StatusCodeError",
    "TooManyRequests",
    "URLBuildError",
    "UnsupportedMediaType",
    "ZephyrError",
    "abort",
]


# NOTE: RFC 9110 §15.5.14 and §15.5.21 renamed these; Python's http module keeps the old names.
_TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}


class ZephyrError(Exception):
    """Root of every exception raised by Zephyr."""


class ConfigError(ZephyrError):
    """A setting is unknown, has the wrong type, or is unsafe."""


class SetupError(ZephyrError):
    """The application was assembled wrongly; raised at registration or startup."""


class RouteConflictError(SetupError):
    """Two routes would answer the same method and path."""


class StatusCodeError(ZephyrError, ValueError):
    """A number given as an HTTP status that is none (``abort(999)``)."""


class ApplicationError(ZephyrError, RuntimeError):
    """The application failed its side of ASGI: its lifespan failed, or it sent no response."""


class URLBuildError(ZephyrError, LookupError):
    """``url_for`` was given an unknown route name or the wrong parameters."""


class ContextError(ZephyrError, RuntimeError):
    """A context global (``request``, ``g``, ``current_app``) used outside its context."""


class HeaderValueError(ZephyrError, ValueError):
    """A header or cookie value that would break the response (CR, LF, NUL...)."""


class ResponseError(ZephyrError, TypeError):
    """A handler returned a value that cannot be turned into a response."""


class ResponseValidationError(ResponseError):
    """A handler's return value does not fit its response model (a 500: the server's fault)."""


class ClientDisconnect(ZephyrError):
    """The client disconnected before the request was fully handled."""


class HTTPException(ZephyrError):
    """An HTTP error response, raised from anywhere in request handling.

    ``detail`` is shown to the client (problem+json ``detail`` or the error
    page); ``headers`` are added to the response. ``received`` names what the
    request sent that the error is about (``{"host": "evil.example"}``): only
    debug mode shows it, so that outside it no error body echoes request input.
    """

    def __init__(
        self,
        status_code: int,
        detail: str | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        received: Mapping[str, str] | None = None,
    ) -> None:
        try:
            self.title = _TITLES.get(status_code) or _phrase(status_code)
        except ValueError:
            raise StatusCodeError(f"{status_code!r} is not an HTTP status code") from None
        self.status_code = status_code
        self.detail = detail
        self.headers = dict(headers) if headers else {}
        #: What the request sent, by name; kept out of the detail (see the class docstring).
        self.received = dict(received) if received else {}
        super().__init__(status_code, detail)

    def problem_fields(self) -> dict[str, Any]:
        """Extra members for the problem+json body (RFC 9457 extensions); none by default."""
        return {}

    def __str__(self) -> str:
        return f"{self.status_code} {self.title}" + (f": {self.detail}" if self.detail else "")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status_code!r}, {self.detail!r})"


class BadRequest(HTTPException):
    """400: the request is malformed (bad encoding, bad JSON, bad form)."""

    def __init__(self, detail: str | None = None, *,
                 received: Mapping[str, str] | None = None) -> None:
        super().__init__(400, detail, received=received)


class Forbidden(HTTPException):
    """403: the request was understood and refused; ``reason`` says which check refused it."""

    def __init__(self, detail: str | None = None, *, reason: str | None = None,
                 received: Mapping[str, str] | None = None) -> None:
        self.reason = reason
        super().__init__(403, detail, received=received)

    def problem_fields(self) -> dict[str, Any]:
        return {"reason": self.reason} if self.reason else {}


class NotFound(HTTPException):
    """404: no route matches the path."""

    def __init__(self, detail: str | None = None, *,
                 received: Mapping[str, str] | None = None) -> None:
        super().__init__(404, detail, received=received)


class MethodNotAllowed(HTTPException):
    """405: the path exists, but not for this method; ``Allow`` lists the ones it has."""

    def __init__(self, allowed: Iterable[str], detail: str | None = None) -> None:
        self.allowed = sorted(set(allowed))
        allow = ", ".join(self.allowed)
        super().__init__(
            405, detail or f"this path answers {allow} only", headers={"Allow": allow}
        )


class RequestTimeout(HTTPException):
    """408: the client was too slow to send its request; the connection is closed after it."""

    def __init__(self, detail: str | None = None) -> None:
        # NOTE: RFC 9110 §15.5.9: the server is expected to close the connection.
        super().__init__(408, detail, headers={"Connection": "close"})


class PayloadTooLarge(HTTPException):
    """413: the request body (or a part of it) exceeds a configured limit."""

    def __init__(self, detail: str | None = None, *,
                 received: Mapping[str, str] | None = None) -> None:
        super().__init__(413, detail, received=received)

    @classmethod
    def too_many(cls, what: str, limit: int, setting: str) -> PayloadTooLarge:
        """413 for a form with more than ``limit`` ``what`` (fields, files), naming the setting."""
        return cls(f"the form has more than {limit} {what}; raise {setting} if this is expected")


class UnsupportedMediaType(HTTPException):
    """415: the body has a content type this operation does not accept."""

    def __init__(self, detail: str | None = None, *,
                 received: Mapping[str, str] | None = None) -> None:
        super().__init__(415, detail, received=received)


class RequestValidationError(HTTPException):
    """422: the request is well-formed but its values do not fit the handler's types.

    ``errors`` lists each problem as ``{"location", "field", "message"}`` plus
    ``"value"`` where the value is not secret.
    """

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        count = len(errors)
        super().__init__(
            422, f"{count} invalid value{'s' if count != 1 else ''} in the request; see 'errors'"
        )

    def problem_fields(self) -> dict[str, Any]:
        return {"errors": self.errors}


class TooManyRequests(HTTPException):
    """429: the client sent too many requests; ``Retry-After`` says when to try again."""

    def __init__(self, detail: str | None = None, *, retry_after: float = 1,
                 headers: Mapping[str, str] | None = None) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(429, detail, headers={"Retry-After": str(self.retry_after),
                                               **(headers or {})})


class RequestHeaderFieldsTooLarge(HTTPException):
    """431: too many request headers, or too large (RFC 6585 §5); the connection is closed
    after it."""

    def __init__(self, detail: str | None = None) -> None:
        # SECURITY: a client that oversteps the header limits gets no further requests served
        # on the connection (whatever it pipelined behind this one included).
        super().__init__(431, detail, headers={"Connection": "close"})


def require_extra(module: str, *, extra: str, feature: str) -> None:
    """Raise :class:`SetupError` unless ``module`` is installed (``feature`` needs ``extra``)."""
    try:
        importlib.import_module(module)
    except ImportError:
        raise SetupError(
            f"{feature} needs the {module!r} package; install it with "
            f"pip install 'zephyr[{extra}]'"
        ) from None


def abort(
    status_code: int, detail: str | None = None, headers: Mapping[str, str] | None = None
) -> NoReturn:
    """Stop handling the request and answer with ``status_code`` (Flask's ``abort``)."""
    raise HTTPException(status_code, detail, headers)


def _phrase(status_code: int) -> str:
    # NOTE: http.HTTPStatus (a large enum) loads with the first uncommon status, not with Zephyr.
    from http import HTTPStatus

    return HTTPStatus(status_code).phrase
