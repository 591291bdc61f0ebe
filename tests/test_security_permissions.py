"""Permissions: the truth table of each class, combinators, plain functions, 401 versus 403."""

from __future__ import annotations

import asyncio
import inspect
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from zephyr.errors import SetupError
from zephyr.requests import Request
from zephyr.security.auth import ANONYMOUS, AuthenticationFailed, AuthUser
from zephyr.security.permissions import (
    AllowAny,
    HasRole,
    HasScope,
    IsAuthenticated,
    LoginRequired,
    Permission,
    PermissionDenied,
    PermissionFn,
    check_permissions,
)

WRITER = AuthUser(id="w", scopes=frozenset({"notes:read", "notes:write"}),
                  roles=frozenset({"editor"}))
READER = AuthUser(id="r", scopes=frozenset({"notes:read"}))
ADMIN = AuthUser(id="a", roles=frozenset({"admin"}))
# A user object from a custom backend, with scopes as an OAuth-style string.
CUSTOM = SimpleNamespace(id="c", scopes="notes:read notes:write", roles="editor")


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def make_request(path: str = "/notes/7") -> Request:
    scope: dict[str, Any] = {
        "type": "http", "method": "POST", "scheme": "http", "path": path,
        "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": [],
        "client": ("10.0.0.9", 5555),
    }
    return Request(scope, _no_body)


def is_owner(request: Request, user: Any) -> bool:
    return request.path == f"/notes/{getattr(user, 'id', None)}"


async def is_weekday(request: Request, user: Any) -> bool:
    await asyncio.sleep(0)
    return True


async def never(request: Request, user: Any) -> bool:
    return False


def decide(permission: PermissionFn, user: Any, path: str = "/notes/7") -> bool:
    async def run() -> bool:
        result = permission(make_request(path), user)
        return await result if inspect.isawaitable(result) else result

    return asyncio.run(run())


@pytest.mark.parametrize(("permission", "user", "expected"), [
    (AllowAny(), ANONYMOUS, True),
    (AllowAny(), READER, True),
    (IsAuthenticated(), ANONYMOUS, False),
    (IsAuthenticated(), READER, True),
    (IsAuthenticated(), CUSTOM, True),
    (HasScope("notes:read"), READER, True),
    (HasScope("notes:read"), ANONYMOUS, False),
    (HasScope("notes:read"), ADMIN, False),
    (HasScope("notes:read", "notes:write"), READER, False),
    (HasScope("notes:read", "notes:write"), WRITER, True),
    (HasScope("notes:read", "notes:write"), CUSTOM, True),
    (HasScope("notes"), CUSTOM, False),
    (HasScope("notes:read"), SimpleNamespace(id="x"), False),
    (HasRole("admin", "editor"), WRITER, True),
    (HasRole("admin", "editor"), ADMIN, True),
    (HasRole("admin", "editor"), READER, False),
    (HasRole("admin"), ANONYMOUS, False),
    (HasRole("edit"), CUSTOM, False),
    (HasRole("editor"), CUSTOM, True),
], ids=lambda value: repr(value) if isinstance(value, Permission) else None)
def test_permission_truth_table(permission: Permission, user: Any, expected: bool) -> None:
    result = permission(make_request(), user)
    assert result is expected


@pytest.mark.parametrize(("permission", "user", "expected"), [
    (IsAuthenticated() & HasScope("notes:write"), WRITER, True),
    (IsAuthenticated() & HasScope("notes:write"), READER, False),
    (IsAuthenticated() & HasScope("notes:write"), ANONYMOUS, False),
    (HasRole("admin") | HasScope("notes:write"), ADMIN, True),
    (HasRole("admin") | HasScope("notes:write"), WRITER, True),
    (HasRole("admin") | HasScope("notes:write"), READER, False),
    (~IsAuthenticated(), ANONYMOUS, True),
    (~IsAuthenticated(), READER, False),
    (~(HasRole("admin") | HasScope("notes:write")), READER, True),
    (~(HasRole("admin") | HasScope("notes:write")), ADMIN, False),
    (HasScope("notes:read") & is_owner, READER, False),
    (HasScope("notes:read") & is_owner, AuthUser(id="7", scopes=frozenset({"notes:read"})),
     True),
    (is_owner | HasRole("admin"), ADMIN, True),
    (is_owner | HasRole("admin"), AuthUser(id="7"), True),
    (is_owner | HasRole("admin"), READER, False),
    (IsAuthenticated() & is_weekday, READER, True),
    (IsAuthenticated() & is_weekday, ANONYMOUS, False),
    (is_weekday & HasRole("admin"), ADMIN, True),
    (is_weekday & HasRole("admin"), READER, False),
    (never | HasRole("admin"), ADMIN, True),
    (never | HasRole("admin"), READER, False),
    (~(IsAuthenticated() & never), READER, True),
    (~(AllowAny() | never), READER, False),
])
def test_combinators_truth_table(permission: Permission, user: Any, expected: bool) -> None:
    assert decide(permission, user) is expected


def test_combinators_of_sync_parts_answer_synchronously() -> None:
    for permission in (IsAuthenticated() & HasScope("a"), HasRole("a") | AllowAny(),
                       ~IsAuthenticated(), IsAuthenticated() & is_owner):
        assert type(permission(make_request(), READER)) is bool


@pytest.mark.parametrize(("operator", "user", "calls"), [
    ("&", ANONYMOUS, 0), ("&", READER, 1), ("|", READER, 0), ("|", ANONYMOUS, 1),
])
def test_combinators_stop_at_the_first_decisive_answer(
    operator: str, user: Any, calls: int
) -> None:
    seen: list[Any] = []

    def spy(request: Request, user: Any) -> bool:
        seen.append(user)
        return True

    permission = IsAuthenticated() & spy if operator == "&" else IsAuthenticated() | spy
    decide(permission, user)
    assert len(seen) == calls


@pytest.mark.parametrize(("permission", "text"), [
    (AllowAny(), "AllowAny()"),
    (IsAuthenticated(), "IsAuthenticated()"),
    (HasScope("notes:write"), "HasScope('notes:write')"),
    (HasScope("b", "a"), "HasScope('a', 'b')"),
    (HasRole("editor", "admin"), "HasRole('admin', 'editor')"),
    (IsAuthenticated() & HasScope("x"), "IsAuthenticated() & HasScope('x')"),
    ((IsAuthenticated() & HasScope("x")) & HasRole("y"),
     "IsAuthenticated() & HasScope('x') & HasRole('y')"),
    (HasRole("admin") | (IsAuthenticated() & HasScope("x")),
     "HasRole('admin') | (IsAuthenticated() & HasScope('x'))"),
    (~IsAuthenticated(), "~IsAuthenticated()"),
    (~(HasRole("a") | HasRole("b")), "~(HasRole('a') | HasRole('b'))"),
    (is_owner & HasScope("x"), "is_owner & HasScope('x')"),
    (HasScope("x") | is_weekday, "HasScope('x') | is_weekday"),
])
def test_reprs_read_like_the_expression(permission: Permission, text: str) -> None:
    assert repr(permission) == text


@pytest.mark.parametrize("make", [
    lambda: HasScope(), lambda: HasScope(""), lambda: HasRole(), lambda: HasRole("a", 3),  # type: ignore[arg-type]
])
def test_scopes_and_roles_must_be_named(make: Any) -> None:
    with pytest.raises(SetupError, match=r"needs one or more non-empty names as strings"):
        make()


def test_combining_with_something_not_callable_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        HasScope("a") & 3  # type: ignore[operator]
    with pytest.raises(TypeError):
        "x" | IsAuthenticated()  # type: ignore[operator]


# -- check_permissions -------------------------------------------------------------------


def check(user: Any, permissions: list[PermissionFn], challenge: str | None = None,
          path: str = "/notes/7") -> None:
    asyncio.run(check_permissions(make_request(path), user, permissions, challenge=challenge))


@pytest.mark.parametrize(("user", "permissions"), [
    (ANONYMOUS, []),
    (ANONYMOUS, [AllowAny()]),
    (READER, [IsAuthenticated(), HasScope("notes:read")]),
    (AuthUser(id="7"), [is_owner, is_weekday]),
    (WRITER, [IsAuthenticated() & (HasRole("admin") | HasScope("notes:write"))]),
])
def test_check_permissions_passes_when_every_permission_holds(
    user: Any, permissions: list[PermissionFn]
) -> None:
    check(user, permissions)


@pytest.mark.parametrize(("user", "permissions", "status", "reason"), [
    (ANONYMOUS, [IsAuthenticated()], 401, "missing"),
    (ANONYMOUS, [HasScope("notes:write")], 401, "missing"),
    (ANONYMOUS, [never], 401, "missing"),
    (READER, [IsAuthenticated(), HasScope("notes:write")], 403,
     "HasScope('notes:write') was not met"),
    (READER, [is_owner, HasScope("notes:write")], 403, "is_owner was not met"),
    (READER, [is_weekday, never], 403, "never was not met"),
    (READER, [IsAuthenticated() & (HasRole("admin") | HasScope("notes:write"))], 403,
     "IsAuthenticated() & (HasRole('admin') | HasScope('notes:write')) was not met"),
    (CUSTOM, [HasRole("admin")], 403, "HasRole('admin') was not met"),
], ids=["anonymous-is-authenticated", "anonymous-scope", "anonymous-function",
        "reader-scope", "reader-owner", "reader-async", "reader-combined", "custom-user"])
def test_a_refusal_is_401_without_a_user_and_403_with_one(
    user: Any, permissions: list[PermissionFn], status: int, reason: str
) -> None:
    with pytest.raises((AuthenticationFailed, PermissionDenied)) as caught:
        check(user, permissions, challenge='Bearer realm="api"')
    error = caught.value
    assert isinstance(error, AuthenticationFailed | PermissionDenied)
    assert (error.status_code, error.reason) == (status, reason)
    if status == 401:
        assert type(error) is LoginRequired  # an AuthenticationFailed that LOGIN_URL redirects
        assert error.headers == {"WWW-Authenticate": 'Bearer realm="api"'}
        assert error.detail == "this resource needs authentication; send credentials"
    else:
        assert type(error) is PermissionDenied
        assert (error.headers, error.detail) == ({}, reason)


def test_a_401_without_a_challenge_has_no_www_authenticate() -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        check(ANONYMOUS, [IsAuthenticated()])
    assert (caught.value.challenge, caught.value.headers) == (None, {})


def test_refusals_are_logged_with_the_permission_and_the_user_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="zephyr.security"):
        with pytest.raises(PermissionDenied):
            check(READER, [HasScope("notes:write")])
        with pytest.raises(AuthenticationFailed):
            check(ANONYMOUS, [IsAuthenticated()])
    fields = [
        {name: getattr(record, name, "-") for name in
         ("security_event", "reason", "status", "user_id", "path", "client")}
        for record in caplog.records
    ]
    assert fields == [
        {"security_event": "permission-denied", "reason": "HasScope('notes:write') was not met",
         "status": 403, "user_id": "r", "path": "/notes/7", "client": "10.0.0.9"},
        {"security_event": "permission-denied", "reason": "IsAuthenticated() was not met",
         "status": 401, "user_id": "-", "path": "/notes/7", "client": "10.0.0.9"},
    ]
    assert [record.levelno for record in caplog.records] == [logging.WARNING] * 2
