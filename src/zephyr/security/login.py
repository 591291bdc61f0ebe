"""Logging users in and out through the session, the backend that reads them back, and
sending browsers to the login page.

``login_user`` and ``logout_user`` give the session a new identity and the visitor
a new CSRF secret each time (so a session id or a CSRF token planted before login
is worth nothing after it), :class:`SessionAuth` turns the stored user id back into
a user, and :func:`login_redirect` sends a browser to ``LOGIN_URL`` with a safe ``?next=``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from zephyr.errors import SetupError
from zephyr.responses import RedirectResponse
from zephyr.security.auth import AuthBackend
from zephyr.security.redirects import is_safe_redirect
from zephyr.users import ANONYMOUS

if TYPE_CHECKING:
    from zephyr.requests import Request

__all__ = ["SessionAuth", "login_redirect", "login_user", "logout_user"]

#: Where the logged-in user's id is kept in the session.
USER_KEY = "_user_id"


async def login_user(request: Request, user: Any, *, user_id: str | None = None) -> None:
    """Log ``user`` in: a new session identity holding its id (``user.id`` unless given).

    Call it after checking the credentials; ``request.user`` is ``user`` from now on.
    """
    ident = user_id if user_id is not None else getattr(user, "id", None)
    if ident is None:
        raise SetupError(
            f"login_user() needs the user's id: {type(user).__name__} has no 'id'; "
            "pass user_id=..."
        )
    session = await request.load_session()
    # SECURITY: rotate the session on privilege change (session fixation, OWASP ASVS 3.2.1).
    session.regenerate()
    session[USER_KEY] = str(ident)
    request.user = user


async def logout_user(request: Request) -> None:
    """Log the user out: the session is emptied and its cookie deleted."""
    session = await request.load_session()
    session.clear()
    session.regenerate()
    request.user = ANONYMOUS


class SessionAuth(AuthBackend):
    """The user logged in with :func:`login_user`, loaded by ``load_user(user_id)``.

    ``load_user`` (sync or async) returns the user or ``None`` when the id is
    unknown (a deleted account): the request is then anonymous.
    """

    __slots__ = ("_load_user",)

    def __init__(self, load_user: Callable[[str], Any]) -> None:
        if not callable(load_user):
            raise SetupError(f"SessionAuth needs a function user_id -> user, not {load_user!r}")
        self._load_user = load_user

    def challenge(self) -> str:
        # NOTE: RFC 9110 §11.6.1 needs a challenge on every 401; a session has no scheme, so
        # this names the login form the way several sites do.
        return 'Session realm="login"'

    def has_credentials(self, request: Request) -> bool:
        # SECURITY: nothing here to guess: a session cookie is signed (a forged one counts
        # as a failure when read) or a random id, and logins are unsafe requests, which the
        # throttle guards anyway. So a blocked address keeps its logged-in reads.
        return False

    async def authenticate(self, request: Request) -> Any | None:
        session = await request.load_session()
        user_id = session.get(USER_KEY)
        if user_id is None:
            return None
        user = self._load_user(user_id)
        if inspect.isawaitable(user):
            user = await user
        return user


def login_redirect(request: Request, login_path: str) -> RedirectResponse:
    """303 to ``login_path`` (a path of this app) with ``?next=`` the page the request asked for.

    ``next`` is the path and query as the client sent them, and is left out
    unless it is a safe redirect target on this site.
    """
    scope = request.scope
    root: str = scope.get("root_path", "")
    location = root.rstrip("/") + login_path
    target = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = scope.get("query_string")
    if query:
        target += "?" + query.decode("latin-1")
    # SECURITY: only a path on this site ('//host', '/\\host', 'https://host' never), or the
    # login form's redirect after login would become an open redirect.
    if target.startswith("/") and is_safe_redirect(target):
        separator = "&" if "?" in location else "?"
        location += f"{separator}next={quote(target, safe='')}"
    # NOTE: RFC 9110 §15.4.4: 303 makes the browser GET the login page, whatever the method.
    return RedirectResponse(location, 303)

