"""Zephyr: a fast ASGI web framework with Flask's ergonomics and safe defaults.

The names a web app uses daily. Everything else lives in its module
(``zephyr.security``, ``zephyr.responses``, ``zephyr.testing``...); see docs/index.md.
"""

from typing import TYPE_CHECKING, Any

from zephyr.app import Zephyr, current_app
from zephyr.config import Config, Setting
from zephyr.context import csp_nonce, current_user, g, request
from zephyr.converters import Converter
from zephyr.datastructures import URL, Headers, MultiDict, MutableHeaders, QueryParams
from zephyr.di import Depends
from zephyr.errors import (
    BadRequest,
    ClientDisconnect,
    ConfigError,
    ContextError,
    Forbidden,
    HTTPException,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RequestValidationError,
    ResponseValidationError,
    RouteConflictError,
    SetupError,
    TooManyRequests,
    UnsupportedMediaType,
    URLBuildError,
    ZephyrError,
    abort,
)
from zephyr.params import Body, Cookie, File, Form, Header, Path, Query
from zephyr.requests import Request, UploadFile
from zephyr.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from zephyr.routing import Mount, Route
from zephyr.scaffold import Group

if TYPE_CHECKING:
    from zephyr.security import csrf_token, limit, login_user, logout_user, redirect

__version__ = "0.1.0.dev0"

__all__ = [
    "URL",
    "BadRequest",
    "Body",
    "ClientDisconnect",
    "Config",
    "ConfigError",
    "ContextError",
    "Converter",
    "Cookie",
    "Depends",
    "File",
    "FileResponse",
    "Forbidden",
    "Form",
    "Group",
    "HTMLResponse",
    "HTTPException",
    "Header",
    "Headers",
    "JSONResponse",
    "MethodNotAllowed",
    "Mount",
    "MultiDict",
    "MutableHeaders",
    "NotFound",
    "Path",
    "PayloadTooLarge",
    "PlainTextResponse",
    "Query",
    "QueryParams",
    "RedirectResponse",
    "Request",
    "RequestValidationError",
    "Response",
    "ResponseValidationError",
    "Route",
    "RouteConflictError",
    "Setting",
    "SetupError",
    "StreamingResponse",
    "TooManyRequests",
    "URLBuildError",
    "UnsupportedMediaType",
    "UploadFile",
    "Zephyr",
    "ZephyrError",
    "abort",
    "csp_nonce",
    "csrf_token",
    "current_app",
    "current_user",
    "g",
    "limit",
    "login_user",
    "logout_user",
    "redirect",
    "request",
]

# NOTE: these come from the security package, which loads when first asked for (or when an
# app starts serving), so that `import zephyr` stays light.
_FROM_SECURITY = frozenset({"csrf_token", "limit", "login_user", "logout_user", "redirect"})


def __getattr__(name: str) -> Any:
    if name in _FROM_SECURITY:
        import zephyr.security

        return getattr(zephyr.security, name)
    raise AttributeError(f"module 'zephyr' has no attribute {name!r}")
