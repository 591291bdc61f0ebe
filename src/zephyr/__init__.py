"""Zephyr: a fast ASGI web framework with Flask's ergonomics and safe defaults.

``zephyr`` offers the names a web app uses daily. The rest lives in its module,
imported from there: the exceptions in ``zephyr.errors``, ``Config`` and
``Setting`` in ``zephyr.config``, ``Converter`` in ``zephyr.converters``, the
data structures (``Headers``, ``MultiDict``, ``URL``...) in
``zephyr.datastructures``, ``Mount`` in ``zephyr.routing``, security in
``zephyr.security``, the test clients in ``zephyr.testing`` (docs/index.md has
the full table). Those names still resolve as ``zephyr.NAME`` for code written
before they moved out of ``__all__``.
"""

import importlib
from typing import TYPE_CHECKING, Any

from zephyr.app import Zephyr, current_app
from zephyr.context import csp_nonce, current_user, g, request, static_url
from zephyr.di import Depends
from zephyr.errors import HTTPException, NotFound, abort
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
from zephyr.routing import Route
from zephyr.scaffold import Group

if TYPE_CHECKING:
    from zephyr.security import csrf_token, limit, login_user, logout_user, redirect

__version__ = "0.1.0.dev0"

__all__ = [
    "Body",
    "Cookie",
    "Depends",
    "File",
    "FileResponse",
    "Form",
    "Group",
    "HTMLResponse",
    "HTTPException",
    "Header",
    "JSONResponse",
    "NotFound",
    "Path",
    "PlainTextResponse",
    "Query",
    "RedirectResponse",
    "Request",
    "Response",
    "Route",
    "StreamingResponse",
    "UploadFile",
    "Zephyr",
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
    "static_url",
]

# Where the names that are not imported above live. The security ones load the security
# package on first use (so that `import zephyr` stays light); the others are names that
# `zephyr` exported before its __all__ was trimmed to the daily ones.
_ELSEWHERE = {
    **dict.fromkeys(("csrf_token", "limit", "login_user", "logout_user", "redirect"),
                    "zephyr.security"),
    **dict.fromkeys(("BadRequest", "ClientDisconnect", "ConfigError", "ContextError",
                     "Forbidden", "MethodNotAllowed", "PayloadTooLarge", "RequestTimeout",
                     "RequestValidationError", "ResponseValidationError", "RouteConflictError",
                     "SetupError", "TooManyRequests", "URLBuildError", "UnsupportedMediaType",
                     "ZephyrError"), "zephyr.errors"),
    **dict.fromkeys(("URL", "Headers", "MultiDict", "MutableHeaders", "QueryParams"),
                    "zephyr.datastructures"),
    "Config": "zephyr.config",
    "Setting": "zephyr.config",
    "Converter": "zephyr.converters",
    "Mount": "zephyr.routing",
}


def __getattr__(name: str) -> Any:
    # NOTE: PEP 562: called only for names not defined above.
    module = _ELSEWHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'zephyr' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
