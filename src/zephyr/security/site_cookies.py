"""The app's own cookies (the session's and the CSRF secret's): their name and flags per request.

Over https they are ``Secure`` and, unless ``COOKIE_HOST_PREFIX`` is off, named
with the ``__Host-`` prefix: browsers then keep them only when set over https by
this very host with ``Path=/`` and no ``Domain``, so a sibling subdomain or an
http page cannot plant one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zephyr.errors import ConfigError

if TYPE_CHECKING:
    from zephyr.requests import Request
    from zephyr.responses import Response

__all__ = ["SiteCookie"]

_PREFIXES = ("__host-", "__secure-")


class SiteCookie:
    """One cookie the app sets for itself: ``HttpOnly``, ``SameSite=Lax``, ``Path=/``."""

    __slots__ = ("_prefixed", "max_age", "name", "secure")

    def __init__(self, name: str, *, setting: str, secure: bool | None, host_prefix: bool,
                 max_age: int) -> None:
        """``secure=None``: ``Secure`` when the request came over https; ``setting`` names
        where ``name`` came from, for the error about a prefixed name on plain http."""
        prefixed = name.lower().startswith(_PREFIXES)
        if prefixed and secure is not True:
            raise ConfigError(
                f"{setting} {name!r} has a cookie prefix, which browsers accept only on Secure "
                "cookies; set SESSION_COOKIE_SECURE = True, or drop the prefix (over https, "
                "COOKIE_HOST_PREFIX adds __Host- by itself)"
            )
        self.name = name
        #: ``True``/``False`` forced by the settings; ``None``: decided by the request's scheme.
        self.secure = secure
        self._prefixed = None if prefixed or not host_prefix else "__Host-" + name
        self.max_age = max_age

    def is_secure(self, request: Request) -> bool:
        """Whether the cookie is ``Secure`` in the response to ``request``."""
        if self.secure is None:
            return bool(request.scope.get("scheme") == "https")
        return self.secure

    def name_for(self, request: Request) -> str:
        """The cookie's name in ``request`` and its response (``__Host-`` when ``Secure``)."""
        if self._prefixed is not None and self.is_secure(request):
            return self._prefixed
        return self.name

    def read(self, request: Request) -> str | None:
        """The value ``request`` carries, if any."""
        return request.cookies.get(self.name_for(request))

    def set(self, request: Request, response: Response, value: str) -> None:
        """Send ``value`` for ``max_age`` seconds with ``response``."""
        response.set_cookie(self.name_for(request), value, max_age=self.max_age,
                            secure=self.is_secure(request), httponly=True, samesite="lax")

    def delete(self, request: Request, response: Response) -> None:
        """Tell the browser to drop the cookie."""
        response.delete_cookie(self.name_for(request), secure=self.is_secure(request))
