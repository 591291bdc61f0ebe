"""Zephyr: a fast ASGI web framework with Flask's ergonomics and safe defaults."""

from zephyr.app import Zephyr
from zephyr.config import Config, Setting
from zephyr.context import current_app, g, request
from zephyr.converters import Converter
from zephyr.datastructures import URL, Headers, MultiDict, MutableHeaders, QueryParams
from zephyr.errors import (
    BadRequest,
    ClientDisconnect,
    ConfigError,
    ContextError,
    HTTPException,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RequestValidationError,
    RouteConflictError,
    SetupError,
    UnsupportedMediaType,
    URLBuildError,
    ZephyrError,
    abort,
)
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

__version__ = "0.1.0.dev0"

__all__ = [
    "URL",
    "BadRequest",
    "ClientDisconnect",
    "Config",
    "ConfigError",
    "ContextError",
    "Converter",
    "FileResponse",
    "Group",
    "HTMLResponse",
    "HTTPException",
    "Headers",
    "JSONResponse",
    "MethodNotAllowed",
    "Mount",
    "MultiDict",
    "MutableHeaders",
    "NotFound",
    "PayloadTooLarge",
    "PlainTextResponse",
    "QueryParams",
    "RedirectResponse",
    "Request",
    "RequestValidationError",
    "Response",
    "Route",
    "RouteConflictError",
    "Setting",
    "SetupError",
    "StreamingResponse",
    "URLBuildError",
    "UnsupportedMediaType",
    "UploadFile",
    "Zephyr",
    "ZephyrError",
    "abort",
    "current_app",
    "g",
    "request",
]
