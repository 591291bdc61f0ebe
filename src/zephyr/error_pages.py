"""The HTML pages of errors: the app's error templates, Zephyr's built-in page, and the
debug page handed in for debug mode.

The app hands :class:`ErrorPages` what it has at startup: the way to render its
templates (``errors/404.html``, then ``errors/4xx.html``) and, in debug mode, the
debug page. A template that fails falls back to the built-in page: an error page
never fails a request a second time.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from zephyr.requests import Request
    from zephyr.responses import Response

__all__ = [
    "DebugRenderer",
    "ErrorPages",
    "ErrorTemplates",
    "builtin_page",
    "nonce_attribute",
    "request_id_of",
]

logger = logging.getLogger("zephyr.error")

#: One line for each status saying, in general terms, what went wrong.
MESSAGES = {
    400: "The request was malformed, so it could not be handled.",
    401: "You need to log in to see this page.",
    403: "You are not allowed to see this page.",
    404: "The page you asked for does not exist.",
    405: "This page does not accept that kind of request.",
    408: "The request took too long to arrive.",
    413: "What you sent is larger than this site accepts.",
    415: "What you sent is in a format this page does not accept.",
    422: "Some of the values you sent are not valid.",
    429: "You sent too many requests; wait a moment and try again.",
    431: "The request had too many headers, or too large ones.",
    500: "The server failed to handle this request.",
    503: "The site is unavailable for a moment; try again later.",
}
_CLIENT_ERROR = "The request could not be handled."
_SERVER_ERROR = "The server could not complete the request."
# Distinct template failures logged; past this many the record starts again (bounded memory).
_REPORTED_MAX = 64
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

_STYLE = (
    "body{font:16px/1.55 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#f6f6f8}"
    "main{max-width:34rem;margin:12vh auto;padding:2rem 2.2rem;background:#fff;"
    "border-radius:10px;box-shadow:0 1px 3px #0002}"
    "h1{font-size:1.5rem;margin:0 0 .6rem}h1 span{color:#8a8a8e;font-weight:400;margin-right:.4rem}"
    ".lead{font-size:1.1rem}ul{padding-left:1.2rem}code{font-size:.95em}"
    "a{color:#0b5cad}.id{color:#6e6e73;font-size:.85rem}"
)


class DebugRenderer(Protocol):
    """Shows an unhandled exception in full (debug mode: ``zephyr.dev.debug_page.DebugPage``)."""

    def refusal(self, request: Request) -> str | None:
        """Why this request's client may not see debug details (``None``: it may)."""

    def __call__(self, request: Request, exc: BaseException, request_id: str, *,
                 wants_html: bool) -> Response:
        """The 500 response that shows ``exc``."""


class ErrorTemplates(Protocol):
    """Renders the first of ``names`` that exists, or gives ``None`` when none does
    (``zephyr.templating.Templates.render_first``)."""

    def __call__(self, names: Sequence[str], /, **context: Any) -> str | None: ...


class ErrorPages:
    """How an app's errors look: its error templates, else Zephyr's page; the debug page.

    Built by the app at startup; the default (no templates, no debug page) is Zephyr's page.
    """

    __slots__ = ("_reported", "debug", "templates")

    def __init__(self, *, templates: ErrorTemplates | None = None,
                 debug: DebugRenderer | None = None) -> None:
        #: Renders the app's ``errors/*.html`` templates (``None``: the app has none).
        self.templates = templates
        #: Renders the debug page (debug mode only).
        self.debug = debug
        self._reported: set[tuple[int, str]] = set()

    def shows_debug_to(self, request: Request) -> bool:
        """Whether debug details (tracebacks, what the request sent) may reach this client."""
        return self.debug is not None and self.debug.refusal(request) is None

    def page(self, request: Request, status: int, title: str, detail: str | None, *,
             errors: Sequence[Mapping[str, Any]] | None = None,
             received: Mapping[str, str] | None = None, request_id: str | None = None) -> str:
        """The HTML page of an error: the app's template for ``status``, else Zephyr's own.

        ``errors`` (a 422's problems) reach the page as field, location and message, never
        with the value sent; ``received`` (debug mode) only Zephyr's own page. The request
        id (:func:`request_id_of` unless given) is made only for a page that shows it.
        """
        message = MESSAGES.get(status) or (_SERVER_ERROR if status >= 500 else _CLIENT_ERROR)
        # SECURITY: the value a 422 refused never reaches an HTML page (only the JSON list).
        fields = [{key: e.get(key) for key in ("field", "location", "message")}
                  for e in errors or ()]
        if self.templates is not None or status >= 500:
            request_id = request_id or request_id_of(request)
        if self.templates is not None:
            names = (f"errors/{status}.html", f"errors/{status // 100}xx.html")
            try:
                page = self.templates(names, status=status, title=title, message=message,
                                      detail=detail, errors=fields, request_id=request_id)
            except Exception as exc:  # a broken template must not fail the request again
                self._report(status, exc)
            else:
                if page is not None:
                    return page
        return builtin_page(
            status, title, message, detail, fields, received=received,
            request_id=request_id if status >= 500 else None,
            home=request.scope.get("root_path", "") + "/", nonce=request.csp_nonce,
        )

    def _report(self, status: int, exc: Exception) -> None:
        """Log a failed error template, once for each distinct failure."""
        key = (status, f"{type(exc).__name__}: {exc}")
        if key in self._reported:
            return
        if len(self._reported) >= _REPORTED_MAX:
            self._reported.clear()
        self._reported.add(key)
        logger.error("the error page template for %d failed to render; Zephyr's own page was "
                     "sent instead (this is logged once)", status, exc_info=exc)


def builtin_page(
    status: int, title: str, message: str, detail: str | None = None,
    errors: Sequence[Mapping[str, Any]] = (), *, received: Mapping[str, str] | None = None,
    request_id: str | None = None, home: str = "/", nonce: str | None = None,
) -> str:
    """Zephyr's own error page: self-contained, every value escaped.

    ``errors`` (validation problems) are listed as ``field (location): message``;
    ``received`` (debug mode) as ``name: 'value'``.
    """
    body = f"<p>{_escape(detail)}</p>" if detail else ""
    if errors:
        items = "".join(
            f"<li><code>{_escape(str(e.get('field', '')))}</code> "
            f"({_escape(str(e.get('location', '')))}): {_escape(str(e.get('message')))}</li>"
            for e in errors
        )
        body += f"<ul>{items}</ul>"
    if received:
        items = "".join(f"<li><code>{_escape(name)}</code>: {_escape(repr(value))}</li>"
                        for name, value in received.items())
        body += f"<p>The request sent (shown in debug mode only):</p><ul>{items}</ul>"
    body += f'<p><a href="{_escape(home)}">Go to the home page</a></p>'
    if request_id:
        body += f"<p class=id>Request id: {_escape(request_id)}.</p>"
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{status} {_escape(title)}</title><style{nonce_attribute(nonce)}>{_STYLE}</style>"
        f"<main><h1><span>{status}</span> {_escape(title)}</h1><p class=lead>{_escape(message)}"
        f"</p>{body}</main></html>"
    )


def request_id_of(request: Request) -> str:
    """The client's ``X-Request-ID`` if it is sane, else a new random one."""
    given: str = request.headers.get("x-request-id", "")
    if _SAFE_REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def nonce_attribute(nonce: str | None) -> str:
    """`` nonce="..."`` so the Content-Security-Policy lets an inline style or script run."""
    return f' nonce="{_escape(nonce)}"' if nonce else ""


def _escape(text: str) -> str:
    # NOTE: html (with html.entities) loads with the first error page, not with Zephyr.
    from html import escape

    return escape(text)
