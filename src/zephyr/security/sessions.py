"""``request.session``: a dict-like session, loaded on first use and saved with the response.

A request that never touches ``request.session`` never parses the cookie.
Responses of requests that did get ``Cache-Control: no-store`` and
``Vary: Cookie``; a changed session is saved through the configured backend
(:mod:`zephyr.security.session_backends`) and its cookie is set ``HttpOnly``,
``SameSite=Lax`` and ``Secure`` over https.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from zephyr.audit import log_refusal
from zephyr.datastructures import Session
from zephyr.errors import ContextError
from zephyr.requests import Request  # at runtime: Depends(load_session) reads its annotation
from zephyr.security.session_backends import SessionBackend

if TYPE_CHECKING:
    from zephyr.responses import Response

__all__ = ["Session", "SessionManager", "load_session"]

async def load_session(request: Request) -> Session:
    """The request's session, loaded: use as ``session: Session = Depends(load_session)``."""
    return await request.load_session()


class SessionManager:
    """Loads and saves sessions for one app: its backend and cookie settings."""

    __slots__ = ("backend", "cookie_name", "max_age", "on_forged", "secure")

    def __init__(self, backend: SessionBackend, *, cookie_name: str, max_age: int,
                 secure: bool | None,
                 on_forged: Callable[[Request], Awaitable[None]] | None = None) -> None:
        self.backend = backend
        self.cookie_name = cookie_name
        self.max_age = max_age
        self.secure = secure
        #: Called with the request when its session cookie was forged or tampered with.
        self.on_forged = on_forged

    def open_now(self, request: Request) -> Session:
        """The session of ``request`` without waiting: possible for the cookie backend."""
        cookie = request.cookies.get(self.cookie_name)
        if cookie is None:
            return Session()
        if not self.backend.loads_now:
            raise ContextError(
                f"request.session with the {type(self.backend).__name__} needs loading first: "
                "`await request.load_session()` (or take a `session: Session = "
                "Depends(load_session)` parameter)"
            )
        return self._session(cookie, self.backend.load_now(cookie, max_age=self.max_age))

    async def open(self, request: Request) -> Session:
        """The session of ``request``, loaded from the backend."""
        cookie = request.cookies.get(self.cookie_name)
        if cookie is None:
            return Session()
        return self._session(cookie, await self.backend.load(cookie, max_age=self.max_age))

    def _session(self, cookie: str, data: dict[str, Any] | None) -> Session:
        if data is not None:
            return Session(data, cookie)
        # SECURITY: a refused cookie is an empty session, never an error.
        session = Session()
        session.refused = "expired" if self.backend.is_signed(cookie) else "forged"
        return session

    async def commit(self, request: Request, session: Session, response: Response) -> None:
        """Save a changed session and set (or delete) its cookie; mark the response private."""
        headers = response.headers
        # NOTE: the response depends on the cookie: shared caches must neither store nor reuse it.
        headers["Cache-Control"] = "no-store"
        headers.add_vary("Cookie")
        secure = request.scope.get("scheme") == "https" if self.secure is None else self.secure
        if session.refused is not None:
            await self._refused(request, session, response, secure)
        if not session.modified:
            return
        old = session.cookie
        if old is not None and (session.regenerated or not session):
            await self.backend.delete(old)
            old = None
        if not session:
            if session.cookie is not None:
                response.delete_cookie(self.cookie_name, secure=secure)
            return
        value = await self.backend.save(old, dict(session), max_age=self.max_age)
        response.set_cookie(self.cookie_name, value, max_age=self.max_age, secure=secure,
                            httponly=True, samesite="lax")

    async def _refused(self, request: Request, session: Session, response: Response,
                       secure: bool) -> None:
        """Drop a refused cookie (so it is not sent again); count a forged one as a failure."""
        if not session.modified:
            response.delete_cookie(self.cookie_name, secure=secure)
        if session.refused == "forged":
            log_refusal("session-refused", request.scope, "bad-signature")
            if self.on_forged is not None:
                await self.on_forged(request)
