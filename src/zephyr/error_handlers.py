"""How exceptions become responses: registered handlers, problem+json, error pages.

Lookup goes from the innermost group out to the app; in each, an HTTP status
code handler is tried before exception-class handlers, and among classes the
most specific (first in the exception's MRO) wins. Without a handler, clients
that ask for HTML get a page and everyone else ``application/problem+json``
(RFC 9457), whose ``instance`` names the request (``urn:zephyr:request:<id>``).
Outside debug mode nothing but the status, title and the ``detail`` of an
``HTTPException`` leaves the process, and no detail quotes the request; debug
mode adds what the request sent (``HTTPException.received``).
"""

from __future__ import annotations

import inspect
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from zephyr.errors import ClientDisconnect, HTTPException, SetupError
from zephyr.middleware import accepted_shape
from zephyr.responses import HTMLResponse, JSONResponse, Response, to_response

if TYPE_CHECKING:
    from zephyr.requests import Request

__all__ = [
    "DebugRenderer",
    "ErrorHandlerMap",
    "default_response",
    "handle_exception",
    "wants_html",
]

logger = logging.getLogger("zephyr.error")

ErrorHandler = Callable[..., Any]
ErrorKey = int | type[BaseException]


class DebugRenderer(Protocol):
    """Renders an unhandled exception in full (debug mode: ``zephyr.dev.debug_page``)."""

    def __call__(self, request: Request, exc: BaseException, request_id: str, *,
                 wants_html: bool) -> Response: ...

_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class ErrorHandlerMap:
    """The error handlers one app or group registered, by status code or exception class."""

    __slots__ = ("_by_class", "_by_status")

    def __init__(self) -> None:
        self._by_status: dict[int, tuple[ErrorHandler, bool]] = {}
        self._by_class: dict[type[BaseException], tuple[ErrorHandler, bool]] = {}

    def add(self, key: ErrorKey, handler: ErrorHandler) -> None:
        """Register ``handler`` for a status code or an exception class."""
        takes_request = _takes_request(handler)
        if isinstance(key, int) and not isinstance(key, bool):
            if not 400 <= key <= 599:
                raise SetupError(f"errorhandler({key!r}): only 4xx and 5xx codes can be handled")
            self._by_status[key] = (handler, takes_request)
        elif isinstance(key, type) and issubclass(key, BaseException):
            self._by_class[key] = (handler, takes_request)
        else:
            raise SetupError(
                f"errorhandler() takes an HTTP status code or an exception class, not {key!r}"
            )

    def find(self, exc: BaseException) -> tuple[ErrorHandler, bool] | None:
        """The handler for ``exc`` registered here, if any."""
        if isinstance(exc, HTTPException) and exc.status_code in self._by_status:
            return self._by_status[exc.status_code]
        if not isinstance(exc, HTTPException) and 500 in self._by_status:
            found = self._find_class(exc)
            return found or self._by_status[500]
        return self._find_class(exc)

    def _find_class(self, exc: BaseException) -> tuple[ErrorHandler, bool] | None:
        for cls in type(exc).__mro__:
            if cls in self._by_class:
                return self._by_class[cls]
        return None

    def __bool__(self) -> bool:
        return bool(self._by_status or self._by_class)


def _takes_request(handler: ErrorHandler) -> bool:
    """Handlers are ``fn(exc)`` (Flask) or ``fn(request, exc)`` (Starlette)."""
    shapes = {1: "(exc)", 2: "(request, exc)"}
    return accepted_shape(handler, "error handler", shapes, unknown=1) == 2


async def handle_exception(
    request: Request, exc: Exception, handler_maps: Iterable[ErrorHandlerMap], *,
    debug: DebugRenderer | None,
) -> Response:
    """The response for ``exc``: from a registered handler, else the default page.

    ``debug`` (debug mode) renders unhandled exceptions in full and shows what the request
    sent for HTTP errors; ``None`` keeps both inside.

    :class:`~zephyr.errors.ClientDisconnect` is raised again: nobody is left to
    answer, so no handler runs and the app sends nothing.
    """
    if isinstance(exc, ClientDisconnect):
        raise exc
    for handlers in handler_maps:
        found = handlers.find(exc)
        if found is None:
            continue
        handler, takes_request = found
        try:
            result = handler(request, exc) if takes_request else handler(exc)
            if inspect.isawaitable(result):
                result = await result
            response = to_response(result, _status_of(exc), handler)
            if isinstance(exc, HTTPException) and exc.headers:
                # WWW-Authenticate, Allow, Retry-After... belong to the error, whatever body
                # the handler chose; a header the handler set itself wins.
                headers = response.headers
                for name, value in exc.headers.items():
                    headers.setdefault(name, value)
                if "Connection" in exc.headers:
                    # SECURITY: a refusal that closes the connection (doubtful framing, headers
                    # over the limits, a slow body) still closes it when a handler answers it.
                    headers["connection"] = exc.headers["Connection"]
            return response
        except Exception as handler_exc:
            if isinstance(handler_exc, HTTPException) and handler_exc is not exc:
                return default_response(request, handler_exc, debug=debug)
            logger.exception(
                "error handler %r failed while handling %r",
                getattr(handler, "__qualname__", handler), exc,
            )
            return default_response(request, handler_exc, debug=debug)
    return default_response(request, exc, debug=debug)


def _status_of(exc: BaseException) -> int:
    return exc.status_code if isinstance(exc, HTTPException) else 500


def default_response(request: Request, exc: BaseException, *,
                     debug: DebugRenderer | None) -> Response:
    """Zephyr's own answer to ``exc``: problem+json or an HTML page."""
    if isinstance(exc, HTTPException):
        extra = exc.problem_fields()
        if debug is not None and exc.received:
            # SECURITY: request input reaches an error body in debug mode only.
            extra = {**extra, "received": exc.received}
        response = _render(request, exc.status_code, exc.title, exc.detail, extra)
        if exc.headers:
            response.headers.update(exc.headers)
        return response
    request_id = request_id_of(request)
    # Teardown hooks receive the exception that went unhandled (see Zephyr.__call__).
    request.scope["zephyr.exception"] = exc
    logger.error(
        "unhandled %s in %s %s (request id %s)",
        type(exc).__name__, request.scope.get("method"), request.scope.get("path"), request_id,
        exc_info=exc,
    )
    if debug is not None:
        response = debug(request, exc, request_id, wants_html=wants_html(request))
    else:
        detail = f"The server failed to handle this request. Request id: {request_id}."
        response = _render(
            request, 500, "Internal Server Error", detail, {"request_id": request_id}, request_id
        )
    response.headers["x-request-id"] = request_id
    return response


def _render(
    request: Request, status: int, title: str, detail: str | None, extra: dict[str, Any],
    request_id: str | None = None,
) -> Response:
    """The page or problem document; its ``instance`` names ``request_id`` (else the id
    :func:`request_id_of` gives)."""
    if wants_html(request):
        page = error_page(status, title, detail, extra.get("errors"), nonce=request.csp_nonce,
                          received=extra.get("received"))
        return HTMLResponse(page, status)
    problem = {"type": "about:blank", "title": title, "status": status}
    if detail:
        problem["detail"] = detail
    problem["instance"] = instance_of(request_id or request_id_of(request))
    problem.update(extra)
    response = JSONResponse(problem, status)
    response.headers["content-type"] = "application/problem+json"
    return response


def wants_html(request: Request) -> bool:
    """Whether the client prefers an HTML page to JSON (browsers do).

    ``text/html`` must be accepted with a quality above zero and at least
    that of any JSON type the client lists.
    """
    weights = _accept_weights(request.headers.get("accept", ""))
    html_weight = weights.get("text/html", 0.0)
    json_weight = max(
        (q for kind, q in weights.items() if kind.endswith("json")), default=0.0
    )
    return html_weight > 0 and html_weight >= json_weight


def _accept_weights(accept: str) -> dict[str, float]:
    """Media types of an ``Accept`` header with their ``q`` values (RFC 9110 §12.5.1)."""
    weights: dict[str, float] = {}
    for item in accept.split(","):
        kind, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if kind:
            weights[kind.lower()] = quality
    return weights


def instance_of(request_id: str) -> str:
    """The problem's ``instance``: a URI for this occurrence, named by the request id.

    Not the path: that is request input, which no error body echoes outside debug mode.
    """
    return f"urn:zephyr:request:{request_id}"


def request_id_of(request: Request) -> str:
    """The client's ``X-Request-ID`` if it is sane, else a new random one."""
    given: str = request.headers.get("x-request-id", "")
    if _SAFE_REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def error_page(
    status: int, title: str, detail: str | None, errors: list[dict[str, Any]] | None = None,
    *, nonce: str | None = None, received: dict[str, str] | None = None,
) -> str:
    """A small, self-contained HTML error page (every value escaped).

    ``errors`` (validation problems) are listed as ``field: message``, never with the
    submitted value; ``received`` (debug mode) as ``name: 'value'``.
    """
    body = f"<p>{_escape(detail)}</p>" if detail else ""
    if errors:
        items = "".join(
            f"<li><code>{_escape(str(e.get('field', '')))}</code> "
            f"({_escape(str(e.get('location', '')))}): {_escape(str(e.get('message')))}"
            "</li>"
            for e in errors
        )
        body += f"<ul>{items}</ul>"
    if received:
        items = "".join(f"<li><code>{_escape(name)}</code>: {_escape(repr(value))}</li>"
                        for name, value in received.items())
        body += f"<p>The request sent (shown in debug mode only):</p><ul>{items}</ul>"
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>{status} {_escape(title)}</title>"
        f"<style{nonce_attribute(nonce)}>"
        "body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;"
        "padding:0 1rem;color:#222}h1{font-size:1.6rem}small{color:#777}</style>"
        f"<h1>{status} {_escape(title)}</h1>{body}<small>Zephyr</small></html>"
    )



def nonce_attribute(nonce: str | None) -> str:
    """`` nonce="..."`` so the Content-Security-Policy lets an inline style or script run."""
    return f' nonce="{_escape(nonce)}"' if nonce else ""


def _escape(text: str) -> str:
    # NOTE: html (with html.entities) loads with the first error page, not with Zephyr.
    from html import escape

    return escape(text)
