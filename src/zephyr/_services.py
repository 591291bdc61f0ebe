"""What a request is handed and holds beside its messages: the app's services, its
client's address and its state namespace.

``RequestServices`` is what an app gives each of its requests (the body limits,
the session opener, the URL builder, the templates), so that ``zephyr.requests``
needs to know nothing of the app, the route or security.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from zephyr._forms import BodyLimits
from zephyr.datastructures import Session

__all__ = ["Address", "DisconnectWatch", "RequestServices", "SessionOpener", "State"]

_DEFAULT_LIMITS = BodyLimits()


class SessionOpener(Protocol):
    """Opens the session of a request (``zephyr.security.sessions.SessionManager`` does)."""

    def open_now(self, request: Any) -> Session: ...

    async def open(self, request: Any) -> Session: ...


class DisconnectWatch(Protocol):
    """What the request tells the watcher of its client (``zephyr._disconnect``)."""

    @property
    def disconnected(self) -> bool: ...

    @property
    def waiting_for_body(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


class RequestServices:
    """What an application hands each of its requests, built once when it starts serving.

    PERF: a plain slotted class (read on every request; a dataclass costs ~0.6 ms at import).
    """

    __slots__ = ("app", "limits", "sessions", "static_url", "templates", "url_for")

    def __init__(self, *, app: Any = None, limits: BodyLimits = _DEFAULT_LIMITS,
                 sessions: SessionOpener | None = None,
                 url_for: Callable[..., str] | None = None,
                 templates: Callable[[], Any] | None = None,
                 static_url: Callable[..., str] | None = None) -> None:
        """``app`` is what ``request.app`` gives; ``url_for(name, _query=..., **params)``
        builds the path of a named route, ``static_url(filename, folder=...)`` the hashed
        path of a static file; ``templates()`` gives the app's templates
        (``zephyr.templating.Templates``), built on first use."""
        self.app = app
        self.limits = limits
        self.sessions = sessions
        self.url_for = url_for
        self.templates = templates
        self.static_url = static_url


NO_SERVICES = RequestServices()


class Address(NamedTuple):
    """The client's host and port, as the server saw them."""

    host: str
    port: int


class State:
    """An attribute namespace: ``request.state.user = ...``, ``app.state.db = ...``."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        object.__setattr__(self, "_data", {} if data is None else data)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"state has no attribute {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._data[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self._data[name]
        except KeyError:
            raise AttributeError(name) from None

    def __contains__(self, name: str) -> bool:
        return name in self._data

    def get(self, name: str, default: Any = None) -> Any:
        """The value of ``name``, or ``default``."""
        return self._data.get(name, default)
