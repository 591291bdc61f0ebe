"""``request.session``: a dict-like session, loaded on first use and saved with the response.

A request that never touches ``request.session`` never parses the cookie (with
a backend that must wait to load, Redis, a route loads the session of a request
carrying the cookie before its handler). Responses of requests that did get
``Cache-Control: no-store`` and ``Vary: Cookie``; a changed session is saved
through the configured backend (:mod:`zephyr.security.session_backends`), unless
the response is a 5xx, and its cookie is set ``HttpOnly``, ``SameSite=Lax`` and,
over https, ``Secure`` with the ``__Host-`` prefix.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from zephyr.audit import log_refusal
from zephyr.datastructures import Session
from zephyr.errors import ContextError
from zephyr.requests import Request  # at runtime: Depends(load_session) reads its annotation
from zephyr.security.session_backends import SessionBackend
from zephyr.security.site_cookies import SiteCookie

if TYPE_CHECKING:
    from zephyr.middleware import Endpoint
    from zephyr.responses import Response

__all__ = ["Session", "SessionLoadingEndpoint", "SessionManager", "load_session"]

# Where SessionLoadingEndpoint leaves the session it loaded, until something asks for it.
_LOADED = "zephyr.loaded_session"


async def load_session(request: Request) -> Session:
    """The request's session, loaded: use as ``session: Session = Depends(load_session)``."""
    return await request.load_session()


class SessionManager:
    """Loads and saves sessions for one app: its backend and cookie settings."""

    __slots__ = ("backend", "cookie", "max_age", "on_forged")

    def __init__(self, backend: SessionBackend, *, cookie: SiteCookie,
                 on_forged: Callable[[Request], Awaitable[None]] | None = None) -> None:
        self.backend = backend
        #: The session cookie: its name (``__Host-`` over https) and flags.
        self.cookie = cookie
        self.max_age = cookie.max_age
        #: Called with the request when its session cookie was forged or tampered with.
        self.on_forged = on_forged

    def open_now(self, request: Request) -> Session:
        """The session of ``request`` without waiting: possible for the cookie backend."""
        cookie = self.cookie.read(request)
        if cookie is None:
            return Session()
        if not self.backend.loads_now:
            loaded: Session | None = request.scope.get(_LOADED)
            if loaded is not None:
                return loaded
            raise ContextError(
                f"request.session with the {type(self.backend).__name__} needs loading first: "
                "`await request.load_session()` (or take a `session: Session = "
                "Depends(load_session)` parameter)"
            )
        return self._session(cookie, self.backend.load_now(cookie, max_age=self.max_age))

    async def open(self, request: Request) -> Session:
        """The session of ``request``, loaded from the backend."""
        cookie = self.cookie.read(request)
        if cookie is None:
            return Session()
        if not self.backend.loads_now:
            loaded: Session | None = request.scope.get(_LOADED)
            if loaded is not None:
                return loaded
        return self._session(cookie, await self.backend.load(cookie, max_age=self.max_age))

    def _session(self, cookie: str, data: dict[str, Any] | None) -> Session:
        if data is not None:
            return Session(data, cookie)
        # SECURITY: a refused cookie is an empty session, never an error.
        session = Session()
        session.refused = "expired" if self.backend.is_signed(cookie) else "forged"
        return session

    async def commit(self, request: Request, session: Session, response: Response) -> bool:
        """Save a changed session and set (or delete) its cookie; mark the response private.

        No 5xx response saves anything: a request that failed half-way (an unhandled
        error, a timeout, a handler answering 503) leaves the session as it found it.
        Whether the response may carry the session's changes (it is not a 5xx).
        """
        headers = response.headers
        # NOTE: the response depends on the cookie: shared caches must neither store nor reuse it.
        headers["Cache-Control"] = "no-store"
        headers.add_vary("Cookie")
        # SECURITY: the changes of a failed request are half-done work (a login whose
        # account setup crashed, a cart written before the payment failed): never saved.
        failed = response.status_code >= 500
        if session.refused is not None:
            await self._refused(request, session, response, failed=failed)
        if failed:
            return False
        if session.modified:
            await self._save(request, session, response)
        return True

    async def _save(self, request: Request, session: Session, response: Response) -> None:
        old = session.cookie
        data = dict(session)
        if old is not None and (session.regenerated or not session):
            if not await self.backend.delete(old) and session.regenerated:
                # SECURITY: the old session is gone (a logout or an admin while this
                # request ran): its data, user id included, does not move to the new id.
                data = session.renewed()
            old = None
        if not data:
            if session.cookie is not None:
                self.cookie.delete(request, response)
            return
        value = await self.backend.save(old, data, max_age=self.max_age)
        # SECURITY: None: the session was deleted while this request ran; the write is
        # dropped and the cookie left alone (a concurrent login may have just replaced it).
        if value is not None:
            self.cookie.set(request, response, value)

    async def _refused(self, request: Request, session: Session, response: Response, *,
                       failed: bool) -> None:
        """Drop a refused cookie (so it is not sent again, unless the request ``failed``);
        count a forged one as a failure."""
        if not (session.modified or failed):
            self.cookie.delete(request, response)
        if session.refused == "forged":
            log_refusal("session-refused", request.scope, "bad-signature")
            if self.on_forged is not None:
                await self.on_forged(request)


class SessionLoadingEndpoint:
    """A route's endpoint that first loads the session of a request carrying its cookie.

    For backends that cannot load without waiting (Redis): ``request.session`` and
    ``csrf_token()`` then work in any handler, as with the cookie backend. Built once
    per route at startup, and only for such backends; a request without the cookie
    makes no round trip, and one with it makes one, however often the session is asked.
    """

    __slots__ = ("_endpoint", "_on_error", "_sessions")

    def __init__(self, sessions: SessionManager, endpoint: Endpoint,
                 on_error: Callable[[Request, Exception], Awaitable[Response]]) -> None:
        self._sessions = sessions
        self._endpoint = endpoint
        self._on_error = on_error

    async def __call__(self, request: Request) -> Response:
        if request.opened_session is None and self._sessions.cookie.read(request) is not None:
            try:
                # Left aside rather than opened: a handler that never asks for the session
                # gets a response that is not marked private, as with the other backends.
                request.scope[_LOADED] = await self._sessions.open(request)
            except Exception as exc:  # an unreachable store: the route's error handlers answer
                return await self._on_error(request, exc)
        return await self._endpoint(request)
