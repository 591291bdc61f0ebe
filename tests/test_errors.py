"""The exception hierarchy, HTTPException and its subclasses, abort()."""

from __future__ import annotations

import pytest

import zephyr
from zephyr import errors
from zephyr.errors import (
    BadRequest,
    HTTPException,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RequestTimeout,
    RequestValidationError,
    UnsupportedMediaType,
    ZephyrError,
    abort,
)

EXCEPTION_NAMES = [name for name in errors.__all__ if name != "abort"]


@pytest.mark.parametrize("name", EXCEPTION_NAMES)
def test_every_exception_derives_from_zephyr_error(name: str) -> None:
    assert issubclass(getattr(errors, name), ZephyrError)


@pytest.mark.parametrize("name", EXCEPTION_NAMES)
def test_every_exception_is_in_the_docstring_tree(name: str) -> None:
    assert f" {name} " in (errors.__doc__ or "")


@pytest.mark.parametrize(
    ("name", "also"),
    [
        ("URLBuildError", LookupError),
        ("ContextError", RuntimeError),
        ("HeaderValueError", ValueError),
        ("ResponseError", TypeError),
        ("RouteConflictError", errors.SetupError),
    ],
)
def test_exceptions_also_derive_from_the_builtin_users_catch(name: str, also: type) -> None:
    assert issubclass(getattr(errors, name), also)


def test_the_public_exceptions_are_exported_from_zephyr() -> None:
    for name in ("ZephyrError", "HTTPException", "NotFound", "abort", "ConfigError"):
        assert getattr(zephyr, name) is getattr(errors, name)


@pytest.mark.parametrize(
    ("exc", "status", "title"),
    [
        (BadRequest("bad"), 400, "Bad Request"),
        (NotFound(), 404, "Not Found"),
        (RequestTimeout(), 408, "Request Timeout"),
        (PayloadTooLarge("too big"), 413, "Content Too Large"),
        (UnsupportedMediaType(), 415, "Unsupported Media Type"),
    ],
)
def test_http_exception_subclasses_carry_status_and_title(
    exc: HTTPException, status: int, title: str
) -> None:
    assert (exc.status_code, exc.title) == (status, title)
    assert isinstance(exc, HTTPException)


def test_http_exception_str_and_repr() -> None:
    exc = HTTPException(404, "no such user")
    assert str(exc) == "404 Not Found: no such user"
    assert repr(exc) == "HTTPException(404, 'no such user')"
    assert str(HTTPException(503)) == "503 Service Unavailable"
    assert repr(NotFound()) == "NotFound(404, None)"


def test_http_exception_headers_are_copied() -> None:
    given = {"Retry-After": "10"}
    exc = HTTPException(503, headers=given)
    given["Retry-After"] = "99"
    assert exc.headers == {"Retry-After": "10"}
    assert HTTPException(500).headers == {}


@pytest.mark.parametrize("status", [0, 99, 999, 600])
def test_an_invalid_status_code_is_a_value_error(status: int) -> None:
    with pytest.raises(ValueError, match=f"^{status} is not an HTTP status code$"):
        HTTPException(status)


def test_method_not_allowed_has_a_sorted_allow_header() -> None:
    exc = MethodNotAllowed(["POST", "GET", "POST"])
    assert exc.allowed == ["GET", "POST"]
    assert exc.headers == {"Allow": "GET, POST"}
    assert exc.detail == "this path answers GET, POST only"
    assert MethodNotAllowed(["GET"], "read only").detail == "read only"


def test_request_validation_error_counts_its_errors_and_adds_them_to_the_problem() -> None:
    one = [{"location": "query", "field": "page", "message": "not an integer"}]
    assert RequestValidationError(one).detail == "1 invalid value in the request; see 'errors'"
    assert RequestValidationError(one).problem_fields() == {"errors": one}
    assert RequestValidationError(one * 3).detail == (
        "3 invalid values in the request; see 'errors'"
    )
    assert HTTPException(400).problem_fields() == {}


def test_abort_raises_an_http_exception() -> None:
    with pytest.raises(HTTPException) as info:
        abort(429, "slow down", {"Retry-After": "5"})
    assert (info.value.status_code, info.value.detail) == (429, "slow down")
    assert info.value.headers == {"Retry-After": "5"}
