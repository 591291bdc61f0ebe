"""Who made a request: an authenticated user, or the one anonymous user.

Authentication backends (:mod:`zephyr.security.auth`) produce these;
``request.user`` and ``current_user`` hand them to handlers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

__all__ = ["ANONYMOUS", "AnonymousUser", "AuthUser", "is_authenticated"]


@dataclass(frozen=True, slots=True)
class AuthUser:
    """An authenticated user: an id, a display name, granted scopes and roles, token claims."""

    id: str
    name: str = ""
    scopes: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    claims: Mapping[str, Any] = field(default_factory=dict, hash=False, repr=False)

    def __post_init__(self) -> None:
        # Accept any iterable or mapping, store immutable copies: a user cannot gain a scope.
        object.__setattr__(self, "scopes", frozenset(self.scopes))
        object.__setattr__(self, "roles", frozenset(self.roles))
        object.__setattr__(self, "claims", MappingProxyType(dict(self.claims)))

    @property
    def is_authenticated(self) -> bool:
        """Always ``True``: this user proved who they are."""
        return True

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> AuthUser | None:
        """The user a JWT describes, or ``None`` when its claims do not name one.

        ``sub`` is the id, ``name`` the name; scopes come from ``scope`` (a
        space-separated string, RFC 8693 §4.2) and ``scopes`` (a list), roles
        from ``roles`` (a list).
        """
        subject = claims.get("sub")
        name = claims.get("name", "")
        scope = claims.get("scope", "")
        listed = claims.get("scopes", [])
        roles = claims.get("roles", [])
        # SECURITY: refuse claims of the wrong type rather than guess (a string iterated as
        # a list of scopes would grant one scope per character).
        if not (isinstance(subject, str) and subject and isinstance(name, str)
                and isinstance(scope, str) and _is_str_list(listed) and _is_str_list(roles)):
            return None
        return cls(id=subject, name=name, scopes=frozenset([*scope.split(), *listed]),
                   roles=frozenset(roles), claims=claims)


def _is_str_list(value: object) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(item, str) for item in value)


class AnonymousUser:
    """The user of a request without credentials: falsy, no id, no scopes, no roles."""

    __slots__ = ()
    _instance: ClassVar[AnonymousUser | None] = None

    id: ClassVar[None] = None
    name: ClassVar[str] = ""
    scopes: ClassVar[frozenset[str]] = frozenset()
    roles: ClassVar[frozenset[str]] = frozenset()
    claims: ClassVar[Mapping[str, Any]] = MappingProxyType({})
    is_authenticated: ClassVar[bool] = False

    def __new__(cls) -> AnonymousUser:
        # One instance is enough: it has no state.
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "AnonymousUser()"


#: The user of every request that carried no credentials.
ANONYMOUS = AnonymousUser()


def is_authenticated(user: Any) -> bool:
    """Whether ``user`` (whatever a backend returned) is an authenticated user."""
    if user is None or user is False:
        return False
    return bool(getattr(user, "is_authenticated", True))
