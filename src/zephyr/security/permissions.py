"""Permissions: may this user do this? Callables ``(request, user) -> bool``, combinable.

Any sync or async callable of ``(request, user)`` is a permission; the classes
here also combine with ``&``, ``|`` and ``~``. :func:`check_permissions` turns
a refusal into 401 (nobody is authenticated) or 403 (the user may not).
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from zephyr.audit import log_refusal
from zephyr.errors import Forbidden, SetupError
from zephyr.security.auth import AuthenticationFailed
from zephyr.users import is_authenticated

if TYPE_CHECKING:
    from zephyr.requests import Request

__all__ = [
    "AllowAny",
    "HasRole",
    "HasScope",
    "IsAuthenticated",
    "LoginRequired",
    "Permission",
    "PermissionDenied",
    "PermissionFn",
    "check_permissions",
]

#: What a permission is: a sync or async callable of ``(request, user)``.
PermissionFn = Callable[["Request", Any], "bool | Awaitable[bool]"]


class LoginRequired(AuthenticationFailed):
    """401: a permission refused a request nobody authenticated; logging in may help.

    Browsers get a redirect to ``LOGIN_URL`` instead, when it is set.
    """


class PermissionDenied(Forbidden):
    """403: the user is authenticated but a permission refused them; ``reason`` names it."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(detail or reason, reason=reason)


def _describe(permission: PermissionFn) -> str:
    """A permission's name for messages: its repr, or a plain function's qualified name."""
    if isinstance(permission, Permission):
        return repr(permission)
    name = getattr(permission, "__qualname__", None)
    return name if isinstance(name, str) else repr(permission)


class Permission(abc.ABC):
    """Base of the permission classes: ``a & b`` (both), ``a | b`` (either), ``~a`` (not).

    Plain functions combine too, on either side: ``IsAuthenticated() & is_owner``.
    """

    __slots__ = ()

    @abc.abstractmethod
    def __call__(self, request: Request, user: Any) -> bool | Awaitable[bool]:
        """Whether ``user`` may make ``request``."""

    def __and__(self, other: PermissionFn) -> Permission:
        return _Combined((self, other), every=True) if callable(other) else NotImplemented

    def __rand__(self, other: PermissionFn) -> Permission:
        return _Combined((other, self), every=True) if callable(other) else NotImplemented

    def __or__(self, other: PermissionFn) -> Permission:
        return _Combined((self, other), every=False) if callable(other) else NotImplemented

    def __ror__(self, other: PermissionFn) -> Permission:
        return _Combined((other, self), every=False) if callable(other) else NotImplemented

    def __invert__(self) -> Permission:
        return _Not(self)


class _Combined(Permission):
    """``every=True``: all parts must hold (``&``); ``every=False``: one is enough (``|``).

    Parts are tried in order and the first decisive answer stops the rest.
    """

    __slots__ = ("_every", "_parts")
    _every: bool
    _parts: tuple[PermissionFn, ...]

    def __init__(self, parts: Sequence[PermissionFn], *, every: bool) -> None:
        flat: list[PermissionFn] = []
        for part in parts:
            # (a & b) & c is a & b & c: one flat list reads better in messages.
            if isinstance(part, _Combined) and part._every is every:
                flat.extend(part._parts)
            else:
                flat.append(part)
        self._parts = tuple(flat)
        self._every = every

    def __call__(self, request: Request, user: Any) -> bool | Awaitable[bool]:
        # PERF: stays synchronous (no coroutine per request) until a part is async.
        every = self._every
        for index, part in enumerate(self._parts):
            result = part(request, user)
            if inspect.isawaitable(result):
                return self._finish(request, user, result, index + 1)
            if bool(result) is not every:
                return not every
        return every

    async def _finish(self, request: Request, user: Any, pending: Awaitable[bool],
                      start: int) -> bool:
        every = self._every
        if bool(await pending) is not every:
            return not every
        for part in self._parts[start:]:
            result = part(request, user)
            if inspect.isawaitable(result):
                result = await result
            if bool(result) is not every:
                return not every
        return every

    def __repr__(self) -> str:
        operator = " & " if self._every else " | "
        return operator.join(_nested(part) for part in self._parts)


class _Not(Permission):
    __slots__ = ("_inner",)

    def __init__(self, inner: Permission) -> None:
        self._inner = inner

    def __call__(self, request: Request, user: Any) -> bool | Awaitable[bool]:
        result = self._inner(request, user)
        if inspect.isawaitable(result):
            return _negated(result)
        return not result

    def __repr__(self) -> str:
        return f"~{_nested(self._inner)}"


async def _negated(pending: Awaitable[bool]) -> bool:
    return not await pending


def _nested(part: PermissionFn) -> str:
    text = _describe(part)
    return f"({text})" if isinstance(part, _Combined) else text


class AllowAny(Permission):
    """Everyone, authenticated or not."""

    __slots__ = ()

    def __call__(self, request: Request, user: Any) -> bool:
        return True

    def __repr__(self) -> str:
        return "AllowAny()"


class IsAuthenticated(Permission):
    """Any authenticated user."""

    __slots__ = ()

    def __call__(self, request: Request, user: Any) -> bool:
        return is_authenticated(user)

    def __repr__(self) -> str:
        return "IsAuthenticated()"


def _names(kind: str, names: tuple[str, ...]) -> frozenset[str]:
    if not names or not all(isinstance(name, str) and name for name in names):
        raise SetupError(f"{kind}() needs one or more non-empty names as strings, got "
                         f"{names!r}")
    return frozenset(names)


def _granted(user: Any, attribute: str) -> Any:
    granted = getattr(user, attribute, None) or ()
    # SECURITY: a string would answer `in` by substring ("notes" in "notes:read"); read it
    # as the space-separated list OAuth uses instead.
    return granted.split() if isinstance(granted, str) else granted


class HasScope(Permission):
    """Users granted every one of ``scopes`` (``user.scopes``)."""

    __slots__ = ("_scopes",)

    def __init__(self, *scopes: str) -> None:
        self._scopes = _names("HasScope", scopes)

    def __call__(self, request: Request, user: Any) -> bool:
        granted = _granted(user, "scopes")
        return all(scope in granted for scope in self._scopes)

    def __repr__(self) -> str:
        return f"HasScope({', '.join(map(repr, sorted(self._scopes)))})"


class HasRole(Permission):
    """Users with at least one of ``roles`` (``user.roles``)."""

    __slots__ = ("_roles",)

    def __init__(self, *roles: str) -> None:
        self._roles = _names("HasRole", roles)

    def __call__(self, request: Request, user: Any) -> bool:
        granted = _granted(user, "roles")
        return any(role in granted for role in self._roles)

    def __repr__(self) -> str:
        return f"HasRole({', '.join(map(repr, sorted(self._roles)))})"


async def check_permissions(request: Request, user: Any, permissions: Sequence[PermissionFn],
                            *, challenge: str | None = None) -> None:
    """Raise unless every permission holds for ``user``.

    A refusal is :class:`LoginRequired` (401, with ``challenge`` as
    ``WWW-Authenticate``) when the user is not authenticated, so a client
    knows to log in, and :class:`PermissionDenied` (403) when they are.
    """
    for permission in permissions:
        result = permission(request, user)
        if inspect.isawaitable(result):
            result = await result
        if result:
            continue
        reason = f"{_describe(permission)} was not met"
        if not is_authenticated(user):
            log_refusal("permission-denied", request.scope, reason, status=401)
            raise LoginRequired(reason="missing", challenge=challenge)
        log_refusal("permission-denied", request.scope, reason, status=403,
                    user_id=getattr(user, "id", None))
        raise PermissionDenied(reason)
