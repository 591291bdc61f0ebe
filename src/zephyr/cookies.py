"""Cookies as data: reading a ``Cookie`` header leniently, and building ``Set-Cookie`` values
that cannot break the response."""

from __future__ import annotations

import re
from typing import Literal

from zephyr.datastructures import http_date
from zephyr.errors import HeaderValueError

__all__ = ["format_set_cookie", "parse_cookie_header"]

# RFC 6265 §4.1.1: a cookie name is an HTTP token; a value is cookie-octets.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_COOKIE_VALUE = re.compile(r'[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*')
_ATTRIBUTE_VALUE = re.compile(r"[\x20-\x3a\x3c-\x7e]*")
_WSP = " \t"


def format_set_cookie(
    key: str,
    value: str = "",
    *,
    max_age: int | None = None,
    expires: int | float | None = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = False,
    httponly: bool = True,
    samesite: Literal["lax", "strict", "none"] | None = "lax",
    partitioned: bool = False,
) -> str:
    """The value of one ``Set-Cookie`` header.

    Raises :class:`~zephyr.errors.HeaderValueError` for a name that is not a
    token, a value with characters cookies cannot carry (encode it first, e.g.
    with ``urllib.parse.quote``), a ``SameSite=None`` cookie that is not
    ``Secure``, or a ``__Host-`` / ``__Secure-`` name whose attributes break its
    prefix's rules (browsers drop all of those).
    """
    _check_name_and_value(key, value)
    _check_prefix(key, path=path, domain=domain, secure=secure)
    parts = [f"{key}={value}"]
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")
    if expires is not None:
        parts.append(f"Expires={http_date(expires)}")
    for name, attribute in (("Path", path), ("Domain", domain)):
        if attribute is not None:
            if not _ATTRIBUTE_VALUE.fullmatch(attribute):
                raise HeaderValueError(
                    f"cookie {key!r} has an invalid {name}: {attribute!r} "
                    "(no semicolons or control characters)"
                )
            parts.append(f"{name}={attribute}")
    if secure:
        parts.append("Secure")
    if httponly:
        parts.append("HttpOnly")
    if samesite is not None:
        _check_samesite(key, samesite, secure)
        parts.append(f"SameSite={samesite.capitalize()}")
    if partitioned:
        parts.append("Partitioned")
    return "; ".join(parts)


def _check_name_and_value(key: str, value: str) -> None:
    if not _TOKEN.fullmatch(key):
        raise HeaderValueError(
            f"cookie name {key!r} is not valid; use letters, digits and !#$%&'*+-.^_`|~"
        )
    if not _COOKIE_VALUE.fullmatch(value):
        raise HeaderValueError(
            f"cookie {key!r} has a value with a space, quote, comma, semicolon, backslash or "
            f"control character: {value!r}; encode it first, e.g. urllib.parse.quote(value)"
        )


def _check_prefix(key: str, *, path: str | None, domain: str | None, secure: bool) -> None:
    # NOTE: RFC 6265bis §4.1.3: browsers refuse a __Secure- cookie without Secure, and a
    # __Host- one without Secure, with a Domain or with a Path other than "/"; they match the
    # prefixes case-insensitively (§5.7, step 20), so this does too.
    folded = key[:9].lower()
    if folded.startswith("__host-") and not (secure and path == "/" and domain is None):
        raise HeaderValueError(
            f"cookie {key!r} has the __Host- prefix, so browsers keep it only with Secure, "
            "Path=/ and no Domain; pass secure=True, path='/' and no domain"
        )
    if folded == "__secure-" and not secure:
        raise HeaderValueError(
            f"cookie {key!r} has the __Secure- prefix, so browsers keep it only with Secure; "
            "pass secure=True"
        )


def _check_samesite(key: str, samesite: str, secure: bool) -> None:
    if samesite.lower() not in ("lax", "strict", "none"):
        raise HeaderValueError(f"samesite must be 'lax', 'strict' or 'none', not {samesite!r}")
    if samesite.lower() == "none" and not secure:
        raise HeaderValueError(
            f"cookie {key!r} has SameSite=None without Secure, which browsers reject; "
            "pass secure=True"
        )


def parse_cookie_header(header: str) -> dict[str, str]:
    """Parse a ``Cookie`` header leniently, the way browsers send it.

    Pairs without ``=`` are skipped; the first value of a repeated name wins;
    double quotes around a value are removed.
    """
    cookies: dict[str, str] = {}
    for chunk in header.split(";"):
        name, sep, value = chunk.partition("=")
        # SECURITY: only SP and HTAB are whitespace here (RFC 6265 §5.2, as browsers do);
        # str.strip() would also eat NBSP or U+0085 and let "\xa0__Host-x" pass for a
        # __Host- cookie, which a sibling site may set.
        name = name.strip(_WSP)
        if not sep or not name:
            continue
        value = value.strip(_WSP)
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        cookies.setdefault(name, value)
    return cookies
