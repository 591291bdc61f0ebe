"""The open-redirect guard: which targets are safe, and redirect() falling back on the rest."""

from __future__ import annotations

import logging

import pytest

from zephyr.security.redirects import is_safe_redirect, redirect

GOOD = ("good.com",)

# (target, allowed_hosts): safe without require_https.
SAFE = [
    ("/", ()),
    ("/a", ()),
    ("a/b", ()),
    ("?x=1", ()),
    ("#y", ()),
    (".", ()),
    ("../up", ()),
    ("/a:b", ()),
    ("./javascript:alert(1)", ()),
    ("/account?next=//evil.com", ()),
    # Browsers do not decode %2F while parsing: this stays a path on this site.
    ("/%2F%2Fevil.com", ()),
    ("/%5Cevil.com", ()),
    ("javascript%3Aalert(1)", ()),  # no ':' so no scheme: a relative path
    ("https://good.com/x?y#z", GOOD),
    ("http://good.com/", GOOD),
    ("HTTPS://GOOD.COM/x", GOOD),
    ("https://good.com:8443/", GOOD),
    ("https://good.com/", ("GOOD.com",)),
    ("https://good.com/", (".good.com",)),
    ("https://api.good.com/", (".good.com",)),
    ("https://a.b.good.com/", (".good.com",)),
    ("https://good.com#@evil.com", GOOD),
    ("https://[::1]:8000/", ("[::1]",)),
    ("https://127.0.0.1/", ("127.0.0.1",)),
]

# (target, allowed_hosts, the reason redirect() logs).
UNSAFE = [
    ("", (), "empty"),
    ("//evil.com", (), "scheme-relative"),
    ("///evil.com", (), "scheme-relative"),
    ("//good.com/", GOOD, "scheme-relative"),  # write the scheme out
    ("/\\evil.com", (), "unsafe-character"),
    ("\\\\evil", (), "unsafe-character"),
    ("\\/evil.com", (), "unsafe-character"),
    ("/a\\b", (), "unsafe-character"),
    ("https://good.com\\@evil.com", GOOD, "unsafe-character"),
    ("/\t/evil.com", (), "unsafe-character"),
    ("/\n/evil.com", (), "unsafe-character"),
    ("\t//evil.com", (), "unsafe-character"),
    (" //evil.com", (), "unsafe-character"),
    ("/ /evil.com", (), "unsafe-character"),
    ("java\nscript:alert(1)", (), "unsafe-character"),
    ("\x00javascript:alert(1)", (), "unsafe-character"),
    ("/\u2028/evil.com", (), "unsafe-character"),
    ("\u200b//evil.com", (), "unsafe-character"),
    ("/\u00a0/evil.com", (), "unsafe-character"),
    ("https:evil.com", (), "missing-host"),
    ("https:/evil.com", (), "missing-host"),
    ("http:///evil.com", (), "missing-host"),
    ("https:good.com", GOOD, "missing-host"),
    ("javascript:alert(1)", (), "scheme"),
    ("JavaScript:alert(1)", (), "scheme"),
    ("data:text/html,<script>alert(1)</script>", (), "scheme"),
    ("vbscript:msgbox", (), "scheme"),
    ("file:///etc/passwd", (), "scheme"),
    ("ftp://good.com/", GOOD, "scheme"),
    ("https://good.com@evil.com", GOOD, "credentials"),
    ("https://user:pw@good.com/", GOOD, "credentials"),
    ("https://good.com%2F@evil.com", GOOD, "credentials"),
    ("https://evil.com/", (), "host"),
    ("https://evil.com/", GOOD, "host"),
    ("https://good.com.evil.com/", GOOD, "host"),
    ("https://evilgood.com/", (".good.com",), "host"),
    ("https://api.good.com/", GOOD, "host"),
    ("https://good.com./", GOOD, "host"),
    ("https://good.com%2eevil.com/", GOOD, "host"),
    ("https://\uff47ood.com/", GOOD, "host"),  # full-width 'g': browsers map it to 'good.com'
    ("https://evil.com/", ("*",), "host"),  # '*' is not honoured
    ("https://[::1/", ("[::1]",), "malformed"),
]


@pytest.mark.parametrize(("target", "allowed_hosts"), SAFE)
def test_safe_targets(target: str, allowed_hosts: tuple[str, ...]) -> None:
    assert is_safe_redirect(target, allowed_hosts=allowed_hosts) is True


@pytest.mark.parametrize(("target", "allowed_hosts", "reason"), UNSAFE)
def test_unsafe_targets(target: str, allowed_hosts: tuple[str, ...], reason: str) -> None:
    assert is_safe_redirect(target, allowed_hosts=allowed_hosts) is False


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("https://good.com/", True),
        ("/relative", True),
        ("?x", True),
        ("http://good.com/", False),
        ("HTTP://good.com/", False),
    ],
)
def test_require_https_refuses_plain_http_absolute_urls(target: str, expected: bool) -> None:
    assert is_safe_redirect(target, allowed_hosts=GOOD, require_https=True) is expected


@pytest.mark.parametrize(("target", "allowed_hosts"), SAFE)
def test_redirect_goes_to_safe_targets(target: str, allowed_hosts: tuple[str, ...]) -> None:
    response = redirect(target, allowed_hosts=allowed_hosts)
    assert response.status_code == 303
    assert response.headers["location"] == target


@pytest.mark.parametrize(("target", "allowed_hosts", "reason"), UNSAFE)
def test_redirect_falls_back_on_unsafe_targets_and_logs_why(
    target: str, allowed_hosts: tuple[str, ...], reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="zephyr.security"):
        response = redirect(target, 302, fallback="/home", allowed_hosts=allowed_hosts)
    assert response.status_code == 302
    assert response.headers["location"] == "/home"
    [record] = caplog.records
    assert (record.name, record.levelno) == ("zephyr.security", logging.WARNING)
    assert record.security_event == "unsafe-redirect"  # type: ignore[attr-defined]
    assert record.reason == reason  # type: ignore[attr-defined]
    assert record.target == target  # type: ignore[attr-defined]


def test_redirect_defaults_to_303_and_the_site_root() -> None:
    response = redirect("//evil.com")
    assert (response.status_code, response.headers["location"]) == (303, "/")


def test_logged_targets_are_cut_to_200_characters(caplog: pytest.LogCaptureFixture) -> None:
    target = "//evil.com/" + "a" * 500
    with caplog.at_level(logging.WARNING, logger="zephyr.security"):
        redirect(target)
    [record] = caplog.records
    assert record.target == target[:200]  # type: ignore[attr-defined]
    assert len(record.getMessage()) < 300
