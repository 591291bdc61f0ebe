"""Cookies as data: ``Set-Cookie`` values, and setting/deleting cookies on responses."""

from __future__ import annotations

from typing import Any

import pytest

from zephyr import Request, Response, Zephyr
from zephyr.cookies import format_set_cookie, parse_cookie_header
from zephyr.errors import HeaderValueError
from zephyr.testing import TestClient


def test_defaults_are_path_root_httponly_and_samesite_lax() -> None:
    assert format_set_cookie("sid", "abc") == "sid=abc; Path=/; HttpOnly; SameSite=Lax"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"max_age": 3600}, "k=v; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax"),
        ({"max_age": 0}, "k=v; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"),
        ({"expires": 0}, "k=v; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly; "
                         "SameSite=Lax"),
        ({"expires": 1_700_000_000.5}, "k=v; Expires=Tue, 14 Nov 2023 22:13:20 GMT; Path=/; "
                                       "HttpOnly; SameSite=Lax"),
        ({"path": "/admin"}, "k=v; Path=/admin; HttpOnly; SameSite=Lax"),
        ({"path": None}, "k=v; HttpOnly; SameSite=Lax"),
        ({"domain": "example.org"}, "k=v; Path=/; Domain=example.org; HttpOnly; SameSite=Lax"),
        ({"secure": True}, "k=v; Path=/; Secure; HttpOnly; SameSite=Lax"),
        ({"httponly": False}, "k=v; Path=/; SameSite=Lax"),
        ({"samesite": "strict"}, "k=v; Path=/; HttpOnly; SameSite=Strict"),
        ({"samesite": None}, "k=v; Path=/; HttpOnly"),
        ({"samesite": "none", "secure": True}, "k=v; Path=/; Secure; HttpOnly; SameSite=None"),
        ({"secure": True, "partitioned": True, "samesite": "none"},
         "k=v; Path=/; Secure; HttpOnly; SameSite=None; Partitioned"),
    ],
)
def test_cookie_attributes(options: dict[str, Any], expected: str) -> None:
    assert format_set_cookie("k", "v", **options) == expected


@pytest.mark.parametrize(
    "value",
    ["", "abc", "a.b-c_d~e!#$&'()*+/:<=>?@[]^`{|}", "eyJhIjoxfQ==.sig", "%20encoded"],
)
def test_values_made_of_cookie_octets_are_kept_as_is(value: str) -> None:
    assert format_set_cookie("k", value).startswith(f"k={value}; ")


@pytest.mark.parametrize("name", ["session_id", "a!#$%&'*+-.^_`|~z", "X1"])
def test_token_names_are_accepted(name: str) -> None:
    assert format_set_cookie(name, "1").startswith(f"{name}=1; ")


_BAD_NAME = "is not valid; use letters, digits and !#$%&'*+-.^_`|~"


@pytest.mark.parametrize(
    "name", ["", "a b", "a;b", "a=b", "a,b", 'a"b', "a\r\nb", "a\tb", "caf\u00e9", "a(b)", "a/b"]
)
def test_invalid_names_are_refused(name: str) -> None:
    with pytest.raises(HeaderValueError) as caught:
        format_set_cookie(name, "v")
    assert str(caught.value) == f"cookie name {name!r} {_BAD_NAME}"


@pytest.mark.parametrize(
    "value",
    ["a b", "a;b", "a,b", 'a"b', '"quoted"', "a\\b", "a\r\nSet-Cookie: x=1", "a\nb",
     "nul\x00", "caf\u00e9", "\u20ac", "tab\t", "del\x7f"],
)
def test_invalid_values_are_refused_with_how_to_encode_them(value: str) -> None:
    with pytest.raises(HeaderValueError) as caught:
        format_set_cookie("k", value)
    assert str(caught.value) == (
        "cookie 'k' has a value with a space, quote, comma, semicolon, backslash or control "
        f"character: {value!r}; encode it first, e.g. urllib.parse.quote(value)"
    )


@pytest.mark.parametrize(
    ("attribute", "value"),
    [("path", "/a;b"), ("path", "/a\r\nb"), ("domain", "x.org; Secure"), ("domain", "x\x00"),
     ("path", "/caf\u00e9")],
)
def test_invalid_path_or_domain_is_refused(attribute: str, value: str) -> None:
    name = attribute.capitalize()
    with pytest.raises(HeaderValueError) as caught:
        format_set_cookie("k", "v", **{attribute: value})  # type: ignore[arg-type]
    assert str(caught.value) == (
        f"cookie 'k' has an invalid {name}: {value!r} (no semicolons or control characters)"
    )


def test_samesite_none_without_secure_is_refused() -> None:
    with pytest.raises(HeaderValueError) as caught:
        format_set_cookie("k", "v", samesite="none")
    assert str(caught.value) == (
        "cookie 'k' has SameSite=None without Secure, which browsers reject; pass secure=True"
    )


def test_an_unknown_samesite_is_refused() -> None:
    with pytest.raises(HeaderValueError, match=r"samesite must be 'lax', 'strict' or 'none', "
                                                r"not 'loose'"):
        format_set_cookie("k", "v", samesite="loose")  # type: ignore[arg-type]


def test_samesite_is_case_insensitive() -> None:
    assert format_set_cookie("k", "v", samesite="Strict").endswith("SameSite=Strict")  # type: ignore[arg-type]


# -- cookie prefixes (RFC 6265bis §4.1.3) ------------------------------------------------------

_HOST_RULE = ("cookie {name!r} has the __Host- prefix, so browsers keep it only with Secure, "
              "Path=/ and no Domain; pass secure=True, path='/' and no domain")
_SECURE_RULE = ("cookie {name!r} has the __Secure- prefix, so browsers keep it only with "
                "Secure; pass secure=True")


@pytest.mark.parametrize(("name", "options", "expected"), [
    ("__Host-sid", {"secure": True}, "__Host-sid=1; Path=/; Secure; HttpOnly; SameSite=Lax"),
    ("__Secure-sid", {"secure": True}, "__Secure-sid=1; Path=/; Secure; HttpOnly; SameSite=Lax"),
    ("__Secure-sid", {"secure": True, "path": "/app", "domain": "example.org"},
     "__Secure-sid=1; Path=/app; Domain=example.org; Secure; HttpOnly; SameSite=Lax"),
    # Only the exact prefixes are prefixes.
    ("_Host-sid", {}, "_Host-sid=1; Path=/; HttpOnly; SameSite=Lax"),
    ("Host-sid", {}, "Host-sid=1; Path=/; HttpOnly; SameSite=Lax"),
])
def test_prefixed_names_that_follow_their_rules_are_set(
        name: str, options: dict[str, Any], expected: str) -> None:
    assert format_set_cookie(name, "1", **options) == expected


@pytest.mark.parametrize(("name", "options", "rule"), [
    ("__Host-sid", {}, _HOST_RULE),
    ("__Host-sid", {"secure": True, "path": "/app"}, _HOST_RULE),
    ("__Host-sid", {"secure": True, "path": None}, _HOST_RULE),
    ("__Host-sid", {"secure": True, "domain": "example.org"}, _HOST_RULE),
    # Browsers match the prefixes without regard to case.
    ("__HOST-sid", {}, _HOST_RULE),
    ("__host-sid", {"secure": True, "domain": "example.org"}, _HOST_RULE),
    ("__Secure-sid", {}, _SECURE_RULE),
    ("__SECURE-sid", {"path": "/app"}, _SECURE_RULE),
])
def test_prefixed_names_that_break_their_rules_are_refused(
        name: str, options: dict[str, Any], rule: str) -> None:
    with pytest.raises(HeaderValueError) as caught:
        format_set_cookie(name, "1", **options)
    assert str(caught.value) == rule.format(name=name)


def test_set_and_delete_cookie_enforce_the_prefix_rules() -> None:
    response = Response("ok")
    with pytest.raises(HeaderValueError, match=r"the __Host- prefix"):
        response.set_cookie("__Host-sid", "1")
    with pytest.raises(HeaderValueError, match=r"the __Secure- prefix"):
        response.delete_cookie("__Secure-sid")
    assert "set-cookie" not in response.headers
    response.delete_cookie("__Host-sid", secure=True)
    assert response.headers["set-cookie"] == (
        "__Host-sid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Secure; "
        "HttpOnly; SameSite=Lax")


# -- reading the Cookie header ---------------------------------------------------------------


@pytest.mark.parametrize(("header", "cookies"), [
    # RFC 6265 §5.2: only SP and HTAB are whitespace around names and values.
    (" \t__Host-sid=1 \t", {"__Host-sid": "1"}),
    ("a=1;\t__Host-sid=2", {"a": "1", "__Host-sid": "2"}),
    # Other characters Python counts as whitespace stay part of the name, so no such
    # cookie ever passes for a __Host- or __Secure- one.
    ("\xa0__Host-sid=1", {"\xa0__Host-sid": "1"}),
    ("\x85__Host-sid=1", {"\x85__Host-sid": "1"}),
    ("\x0b__Secure-sid=1", {"\x0b__Secure-sid": "1"}),
    ("\u3000__Host-sid=1", {"\u3000__Host-sid": "1"}),
    ("__Host-sid\xa0=1", {"__Host-sid\xa0": "1"}),
    ("a=\xa0x\xa0", {"a": "\xa0x\xa0"}),
])
def test_only_space_and_tab_are_stripped_around_names_and_values(
        header: str, cookies: dict[str, str]) -> None:
    assert parse_cookie_header(header) == cookies


# -- on responses ----------------------------------------------------------------------------


def test_set_cookie_and_delete_cookie_add_set_cookie_headers() -> None:
    response = Response("ok")
    response.set_cookie("a", "1")
    response.set_cookie("b", "2", max_age=60, secure=True, samesite="strict", httponly=False)
    response.delete_cookie("old", path="/app", domain="example.org")
    assert response.headers.getlist("set-cookie") == [
        "a=1; Path=/; HttpOnly; SameSite=Lax",
        "b=2; Max-Age=60; Path=/; Secure; SameSite=Strict",
        "old=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/app; "
        "Domain=example.org; HttpOnly; SameSite=Lax",
    ]


def test_set_cookie_refuses_a_bad_value_before_touching_the_headers() -> None:
    response = Response("ok")
    with pytest.raises(HeaderValueError, match=r"urllib\.parse\.quote"):
        response.set_cookie("k", "two words")
    assert "set-cookie" not in response.headers


def test_cookies_set_by_the_app_are_kept_by_the_client_and_deleted() -> None:
    app = Zephyr()

    @app.post("/login")
    async def login() -> Response:
        response = Response(None, 204)
        response.set_cookie("sid", "s3cret")
        response.set_cookie("theme", "dark", max_age=3600)
        return response

    @app.get("/me")
    async def me(request: Request) -> dict[str, str]:
        return request.cookies

    @app.post("/logout")
    async def logout() -> Response:
        response = Response(None, 204)
        response.delete_cookie("sid")
        return response

    with TestClient(app) as client:
        assert client.get("/me").json() == {}
        login_response = client.post("/login")
        assert login_response.headers.get_list("set-cookie") == [
            "sid=s3cret; Path=/; HttpOnly; SameSite=Lax",
            "theme=dark; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax",
        ]
        assert client.get("/me").json() == {"sid": "s3cret", "theme": "dark"}
        assert client.get("/me").json() == {"sid": "s3cret", "theme": "dark"}
        client.post("/logout")
        assert client.get("/me").json() == {"theme": "dark"}


def test_a_handler_setting_a_bad_cookie_gets_a_500_not_a_split_response() -> None:
    app = Zephyr()

    @app.get("/")
    async def bad() -> Response:
        response = Response("ok")
        response.set_cookie("k", "v\r\nX-Injected: 1")
        return response

    with TestClient(app) as client:
        got = client.get("/")
    assert got.status_code == 500
    assert "x-injected" not in got.headers
