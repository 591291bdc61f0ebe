"""Context globals: ``request``, ``g`` and ``current_user``, on context variables.

They work in handlers, middleware, hooks and in plain ``def`` handlers running
in the thread pool (the context is carried over). Outside a request they
raise :class:`~zephyr.errors.ContextError` saying so. ``current_app`` is
made the same way beside the app (:mod:`zephyr.app`).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from zephyr.concurrency import use_pool_finder
from zephyr.errors import ContextError

if TYPE_CHECKING:
    from zephyr.requests import Request, State

__all__ = [
    "ContextProxy",
    "csp_nonce",
    "current_request",
    "current_user",
    "g",
    "request",
    "static_url",
]

T = TypeVar("T")

request_var: ContextVar[Request] = ContextVar("zephyr.request")


def _current_request() -> Request:
    try:
        return request_var.get()
    except LookupError:
        raise ContextError(
            "'request' is only available while a request is being handled (in a handler, "
            "middleware or hook); outside one, pass the request object explicitly"
        ) from None


def _current_g() -> State:
    try:
        return request_var.get().state
    except LookupError:
        raise ContextError(
            "'g' is only available while a request is being handled; it is the "
            "per-request namespace (request.state)"
        ) from None


def _current_user() -> Any:
    try:
        return request_var.get().user
    except LookupError:
        raise ContextError(
            "'current_user' is only available while a request is being handled; "
            "outside one there is no user"
        ) from None


def current_executor() -> Executor | None:
    """The thread pool of the app handling the current request, if any."""
    try:
        app = request_var.get().app
    except LookupError:
        return None
    executor: Executor | None = getattr(app, "executor", None)
    return executor


# The thread pool belongs to the app of the current request: hand run_sync the way to find it.
use_pool_finder(current_executor)


def current_request(what: str, hint: str = "") -> Request:
    """The request being handled; outside one, a ContextError says ``what`` needs one."""
    request = request_var.get(None)
    if request is None:
        raise ContextError(f"{what} needs a request; call it while handling one{hint}")
    return request


def csp_nonce(request: Request | None = None) -> str:
    """This request's CSP nonce (made on first use): ``<script nonce="{{ csp_nonce() }}">``.

    The Content-Security-Policy of the response then allows scripts and
    styles carrying it.
    """
    return (request or current_request("csp_nonce()")).csp_nonce


def static_url(filename: str, /, *, folder: str | None = None) -> str:
    """The hashed URL of a static file for the current request: ``static_url("app.css")``.

    ``/static/app.3f2a9c1e.css``, under the request's ``root_path``; ``folder``
    names another static folder (see ``app.static``).
    """
    request = request_var.get(None)
    if request is None:
        raise ContextError("static_url() needs a request; outside one, call "
                           "app.static_url(filename) on your app")
    return request.static_url(filename, folder=folder)


class ContextProxy(Generic[T]):
    """Forwards attribute access to the object a context lookup returns."""

    __slots__ = ("_lookup", "_name")

    def __init__(self, lookup: Callable[[], T], name: str) -> None:
        object.__setattr__(self, "_lookup", lookup)
        object.__setattr__(self, "_name", name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lookup(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._lookup(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._lookup(), name)

    def __contains__(self, item: object) -> bool:
        return item in self._lookup()

    def __bool__(self) -> bool:
        return bool(self._lookup())

    def __repr__(self) -> str:
        try:
            return f"<{self._name} proxy for {self._lookup()!r}>"
        except ContextError:
            return f"<{self._name} proxy, unbound>"


request = cast("Request", ContextProxy(_current_request, "request"))
g = cast("State", ContextProxy(_current_g, "g"))
#: The user of the current request (``request.user``): falsy when anonymous.
current_user: Any = ContextProxy(_current_user, "current_user")
