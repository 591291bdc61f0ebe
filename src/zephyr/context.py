"""Context globals: ``request``, ``g``, ``current_app`` and ``current_user``, on context variables.

They work in handlers, middleware, hooks and in plain ``def`` handlers running
in the thread pool (the context is carried over). Outside a request they
raise :class:`~zephyr.errors.ContextError` saying so.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from zephyr.errors import ContextError

if TYPE_CHECKING:
    from zephyr.app import Zephyr
    from zephyr.requests import Request, State

__all__ = ["current_app", "current_user", "g", "request"]

T = TypeVar("T")

request_var: ContextVar[Request] = ContextVar("zephyr.request")
# Set while the lifespan runs, so startup code can use ``current_app`` too.
app_var: ContextVar[Zephyr] = ContextVar("zephyr.app")


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


def _current_app() -> Zephyr:
    try:
        app = request_var.get().app
    except LookupError:
        app = None
    if app is None:
        try:
            return app_var.get()
        except LookupError:
            raise ContextError(
                "'current_app' is only available while a request or the app's lifespan "
                "runs; import your app object instead"
            ) from None
    return app


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
    return app.executor if app is not None else None


class _Proxy(Generic[T]):
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


request = cast("Request", _Proxy(_current_request, "request"))
g = cast("State", _Proxy(_current_g, "g"))
current_app = cast("Zephyr", _Proxy(_current_app, "current_app"))
#: The user of the current request (``request.user``): falsy when anonymous.
current_user: Any = _Proxy(_current_user, "current_user")
