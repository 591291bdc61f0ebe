"""Zephyr: a fast ASGI web framework with Flask's ergonomics and safe defaults."""

from zephyr.app import Zephyr
from zephyr.config import Config, Setting
from zephyr.context import current_app, current_user, g, request
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
from zephyr.security import (
    csp_nonce,
    csrf_token,
    limit,
    login_user,
    logout_user,
    redirect,
)

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
