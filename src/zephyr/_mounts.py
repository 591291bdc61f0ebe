"""A mounted ASGI app served behind its parent's security, as a route would be.

The request guard first, then the checks a route at the mount's prefix gets
(CSRF for unsafe methods, the ``RATE_LIMITS`` prefixes that cover the path, the
failure throttle); a refusal is answered by the parent's error handlers. The
mounted app's own answer gets the security headers (and rate-limit headers)
it did not set itself.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from zephyr.context import request_var
from zephyr.errors import ClientDisconnect
from zephyr.requests import Request, RequestServices
from zephyr.responses import Response
from zephyr.routing import Mount, route_path

if TYPE_CHECKING:
    from zephyr._types import Message, Receive, Scope, Send
    from zephyr.middleware import Endpoint
    from zephyr.security.layer import SecurityLayer
    from zephyr.security.protect import OnError

__all__ = ["MountEndpoint"]

_RawHeaders = list[tuple[bytes, bytes]]


class _Admitted(Response):
    """What the checks answer when the mounted app may answer: the headers to add to its own."""

    __slots__ = ()


async def _admit(request: Request) -> Response:
    return _Admitted()


class MountEndpoint:
    """A mount compiled for serving, from the app's security layer and error answer."""

    __slots__ = ("_app", "_below", "_checks", "_on_error", "_prefix", "_security")

    def __init__(self, mount: Mount, security: SecurityLayer, on_error: OnError) -> None:
        self._app = mount.app
        self._prefix = mount.prefix
        self._security = security
        self._on_error = on_error
        parts = security.protect_mount(mount, _admit, on_error)
        # The checks under each RATE_LIMITS prefix below the mount's (longest first), and
        # those of the rest of the mount.
        self._below = parts[:-1]
        self._checks = parts[-1][1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send,
                       services: RequestServices) -> None:
        """Serve one HTTP request whose path lies under the mount's prefix."""
        tap = _Tap(receive)
        request = Request(scope, tap, services)
        token = request_var.set(request)
        security = self._security
        try:
            try:
                # SECURITY: a mounted app is behind the same Host, header and framing checks.
                security.guard.check(scope)
                response = await self._checks_for(route_path(scope))(request)
            except ClientDisconnect:
                return
            except Exception as exc:
                response = await self._on_error(request, exc)
            saving = security.finish(request, response)
            if saving is not None:
                await saving
            if response.__class__ is _Admitted:
                child = dict(scope)
                child["root_path"] = scope.get("root_path", "") + self._prefix
                await self._app(child, tap.replay(), _adding(send, response.raw_headers))
            else:
                await response(scope, receive, send)
        finally:
            request_var.reset(token)
            if request.cleanups is not None:
                await request.run_cleanups(None)

    def _checks_for(self, path: str) -> Endpoint:
        for prefix, checks in self._below:
            if path == prefix or path.startswith(prefix + "/"):
                return checks
        return self._checks


class _Tap:
    """The request's ``receive`` while the checks run: what they read (a form with the
    CSRF token) is kept, and handed to the mounted app before the rest of the body."""

    __slots__ = ("_kept", "_receive")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._kept: list[Message] = []

    async def __call__(self) -> Message:
        message = await self._receive()
        self._kept.append(message)
        return message

    def replay(self) -> Receive:
        """``receive`` for the mounted app: what the checks read first, then the rest."""
        if not self._kept:
            return self._receive
        kept, receive = deque(self._kept), self._receive

        async def replaying() -> Message:
            return kept.popleft() if kept else await receive()

        return replaying


def _adding(send: Send, extra: _RawHeaders) -> Send:
    """``send`` adding ``extra`` to the response start, but the headers the app set itself."""
    if not extra:
        return send

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            own: _RawHeaders = list(message.get("headers", ()))
            present = {bytes(name).lower() for name, _ in own}
            # NOTE: RFC 6265 §3: Set-Cookie is the one header repeated rather than combined.
            added = [pair for pair in extra if pair[0] not in present or pair[0] == b"set-cookie"]
            message = {**message, "headers": own + added}
        await send(message)

    return send_with_headers
