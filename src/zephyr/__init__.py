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

from zephyr import errors as _errors
from zephyr.app import Zephyr, current_app
from zephyr.background import BackgroundTasks
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
    from zephyr.components import render_component
    from zephyr.flash_messages import flash, get_flashed_messages
    from zephyr.security import csrf_token, limit, login_user, logout_user, redirect
    from zephyr.templating import render_template, render_template_string, stream_template

__version__ = "0.1.0.dev0"

__all__ = [
    "BackgroundTasks",
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
    "flash",
    "g",
    "get_flashed_messages",
    "limit",
    "login_user",
    "logout_user",
    "redirect",
    "render_component",
    "render_template",
    "render_template_string",
    "request",
    "static_url",
    "stream_template",
]

# Where the names that are not imported above live. The security, template and flash ones
# load their feature on first use (so that `import zephyr` stays light: no Jinja2); the
# others are every exception, and the names `zephyr` exported before its __all__ was
# trimmed to the daily ones.
_ELSEWHERE = {
    **dict.fromkeys(("csrf_token", "limit", "login_user", "logout_user", "redirect"),
                    "zephyr.security"),
    **dict.fromkeys(("render_template", "render_template_string", "stream_template"),
                    "zephyr.templating"),
    **dict.fromkeys(("flash", "get_flashed_messages"), "zephyr.flash_messages"),
    "render_component": "zephyr.components",
    **dict.fromkeys(_errors.__all__, "zephyr.errors"),
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
