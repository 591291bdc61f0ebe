"""The open-redirect guard: whether a user-supplied target (``?next=``) stays on trusted sites.

Targets are judged the way browsers will parse them (WHATWG URL), not the way ``urlsplit`` does.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from urllib.parse import urlsplit

from zephyr.audit import logger
from zephyr.responses import RedirectResponse

__all__ = ["is_safe_redirect", "redirect"]

# NOTE: WHATWG URL "scheme state": a letter, then letters, digits, '+', '-', '.', then ':'.
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:")
_UNSAFE_ASCII = re.compile(r"[\x00-\x20\x7f\\]")
# ASCII names or an IPv6 literal: anything else (percent signs, Unicode) a browser rewrites.
_HOST_NAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*|[0-9a-f:.]+")


def is_safe_redirect(url: str, *, allowed_hosts: Collection[str] = (),
                     require_https: bool = False) -> bool:
    """Whether redirecting to the user-supplied ``url`` keeps the user on a trusted site.

    True for references on this site (``/a``, ``a/b``, ``?x``, ``#y``) and for
    ``http(s)://`` URLs whose host is in ``allowed_hosts`` (exact, case-insensitive;
    ``.example.com`` also allows every subdomain; ports are not compared; ``*`` is
    not honoured). With ``require_https`` only ``https://`` absolute URLs pass.
    False for everything else, including scheme-relative ``//host`` URLs (write the
    scheme), backslashes, whitespace and control characters anywhere, and
    credentials before the host.
    """
    return _why_unsafe(url, allowed_hosts, require_https=require_https) is None


def redirect(target: str, status_code: int = 303, *, fallback: str = "/",
             allowed_hosts: Collection[str] = ()) -> RedirectResponse:
    """Redirect to ``target`` if :func:`is_safe_redirect`, else to ``fallback``.

    For user-supplied targets such as ``?next=``::

        return redirect(request.query.get("next", "/"))

    A refused target is logged on ``zephyr.security``. ``fallback`` is used as it
    is: it comes from the code, not from the user.
    """
    reason = _why_unsafe(target, allowed_hosts, require_https=False)
    if reason is None:
        return RedirectResponse(target, status_code)
    shown = target[:200]
    logger.warning("unsafe redirect target %r refused (%s); redirecting to %r",
                   shown, reason, fallback,
                   extra={"security_event": "unsafe-redirect", "reason": reason,
                          "target": shown})
    return RedirectResponse(fallback, status_code)


def _why_unsafe(url: str, allowed_hosts: Collection[str], *, require_https: bool) -> str | None:
    """A short id saying why ``url`` is not a safe redirect; None when it is."""
    if not url:
        return "empty"
    # SECURITY: browsers drop tabs and newlines anywhere and read '\' as '/' ('/\t/evil.com'
    # and '/\evil.com' both mean '//evil.com'); Location encodes them, so the two readings
    # differ. A target that needs them is refused.
    if _has_unsafe_character(url):
        return "unsafe-character"
    # SECURITY: '//evil.com' (and '///evil.com') keeps the scheme and changes the host.
    if url.startswith("//"):
        return "scheme-relative"
    if _SCHEME.match(url) is None:
        # NOTE: no scheme: a path, query or fragment on this site. Percent-encoded slashes
        # ('/%2F%2Fevil.com') stay in the path: browsers do not decode them while parsing.
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed '[' of an IPv6 literal
        return "malformed"
    if parts.scheme not in ("http", "https"):
        return "scheme"  # SECURITY: javascript:, data:, vbscript:, file: ...
    if require_https and parts.scheme != "https":
        return "insecure-scheme"
    # SECURITY: 'https:evil.com', 'https:/evil.com' and 'http:///evil.com' are absolute
    # URLs to evil.com for a browser on another scheme, whatever urlsplit says.
    if not parts.netloc:
        return "missing-host"
    # SECURITY: 'https://good.com@evil.com' goes to evil.com.
    if "@" in parts.netloc:
        return "credentials"
    host = parts.hostname or ""
    if not _HOST_NAME.fullmatch(host) or not _is_allowed_host(host, allowed_hosts):
        return "host"
    return None


def _is_allowed_host(host: str, allowed_hosts: Collection[str]) -> bool:
    name = f"[{host}]" if ":" in host else host
    for entry in allowed_hosts:
        allowed = entry.strip().lower()
        if name == allowed or (allowed.startswith(".") and
                               (name == allowed[1:] or name.endswith(allowed))):
            return True
    return False


def _has_unsafe_character(text: str) -> bool:
    # PERF: one regex for ASCII text; the Unicode tables only for the rest.
    if _UNSAFE_ASCII.search(text):
        return True
    return not text.isascii() and any(
        char.isspace() or unicodedata.category(char) in ("Cc", "Cf") for char in text
    )
