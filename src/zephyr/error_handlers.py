"""How exceptions become responses: registered handlers, problem+json, error pages.

Lookup goes from the innermost group out to the app; in each, an HTTP status
code handler is tried before exception-class handlers, and among classes the
most specific (first in the exception's MRO) wins. Without a handler, clients
that ask for HTML get a page and everyone else ``application/problem+json``
(RFC 9457), whose ``instance`` names the request (``urn:zephyr:request:<id>``).
The page is the app's error template or Zephyr's own (:mod:`zephyr.error_pages`).
Outside debug mode nothing but the status, title and the ``detail`` of an
``HTTPException`` leaves the process, and no detail quotes the request; debug
mode adds what the request sent (``HTTPException.received``) for a client on
this machine.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from zephyr.error_pages import ErrorPages, request_id_of
from zephyr.errors import ClientDisconnect, HTTPException, SetupError
from zephyr.middleware import accepted_shape
from zephyr.responses import HTMLResponse, JSONResponse, Response, to_response

if TYPE_CHECKING:
    from zephyr.requests import Request

__all__ = [
    "ErrorHandlerMap",
    "default_response",
    "handle_exception",
    "wants_html",
]

logger = logging.getLogger("zephyr.error")

ErrorHandler = Callable[..., Any]
ErrorKey = int | type[BaseException]


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
    pages: ErrorPages,
) -> Response:
    """The response for ``exc``: from a registered handler, else the default page.

    ``pages`` are the app's error pages; with a debug renderer (debug mode) unhandled
    exceptions are shown in full, and HTTP errors show what the request sent, to a client
    on this machine.

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
                return default_response(request, handler_exc, pages=pages)
            logger.exception(
                "error handler %r failed while handling %r",
                getattr(handler, "__qualname__", handler), exc,
            )
            return default_response(request, handler_exc, pages=pages)
    return default_response(request, exc, pages=pages)


def _status_of(exc: BaseException) -> int:
    return exc.status_code if isinstance(exc, HTTPException) else 500


def default_response(request: Request, exc: BaseException, *, pages: ErrorPages) -> Response:
    """Zephyr's own answer to ``exc``: problem+json or an HTML page."""
    if isinstance(exc, HTTPException):
        extra = exc.problem_fields()
        if exc.received and pages.shows_debug_to(request):
            # SECURITY: request input reaches an error body in debug mode only, and only for
            # a client on this machine.
            extra = {**extra, "received": exc.received}
        response = _render(request, pages, exc.status_code, exc.title, exc.detail, extra)
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
    debug = pages.debug
    refusal = None if debug is None else debug.refusal(request)
    if debug is not None and refusal is None:
        response = debug(request, exc, request_id, wants_html=wants_html(request))
    else:
        if refusal is not None:
            logger.warning("debug page not shown for request id %s: %s; the plain 500 page was "
                           "sent (the debug page is for clients on this machine only)",
                           request_id, refusal)
        title = "Internal Server Error"
        if wants_html(request):
            response = HTMLResponse(pages.page(request, 500, title, None, request_id=request_id),
                                    500)
        else:
            detail = f"The server failed to handle this request. Request id: {request_id}."
            response = _problem(500, title, detail, {"request_id": request_id}, request_id)
    response.headers["x-request-id"] = request_id
    return response


def _render(request: Request, pages: ErrorPages, status: int, title: str, detail: str | None,
            extra: dict[str, Any]) -> Response:
    """The page or the problem document of an HTTP error."""
    if wants_html(request):
        page = pages.page(request, status, title, detail, errors=extra.get("errors"),
                          received=extra.get("received"))
        return HTMLResponse(page, status)
    return _problem(status, title, detail, extra, request_id_of(request))


def _problem(status: int, title: str, detail: str | None, extra: dict[str, Any],
             request_id: str) -> Response:
    """An ``application/problem+json`` response (RFC 9457) whose instance names the request."""
    problem = {"type": "about:blank", "title": title, "status": status}
    if detail:
        problem["detail"] = detail
    problem["instance"] = instance_of(request_id)
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
