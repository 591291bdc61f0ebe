"""The shapes every layer shares: ASGI's scope, messages and callables, and a matched route.

They live at the bottom so that a module can name them without importing the
module that produces them (``Endpoint`` names ``Request`` and ``Response``, so
it lives with the middleware protocol in :mod:`zephyr.middleware`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

__all__ = ["ASGIApp", "Message", "Receive", "RouteInfo", "Scope", "Send"]

#: The ASGI connection scope (ASGI 3: a dict, mutable so servers and middleware can extend it).
Scope = dict[str, Any]
#: One ASGI event, received or sent.
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: An ASGI 3 application: ``await app(scope, receive, send)``.
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class RouteInfo(Protocol):
    """What a request tells about the route it matched (``request.route``)."""

    @property
    def name(self) -> str: ...

    @property
    def path(self) -> str: ...

    @property
    def methods(self) -> frozenset[str]: ...
