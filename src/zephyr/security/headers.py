"""Security headers on every response, and the per-request CSP nonce.

The headers are encoded once per route at startup; per response they are
appended unless the handler set the same header itself. The CSP nonce is
made only when a page asks for it (``csp_nonce()``), so responses that use
none pay nothing for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from zephyr.context import csp_nonce

if TYPE_CHECKING:
    from zephyr.responses import Response

__all__ = ["SecurityHeaders", "csp_nonce"]

_CSP = "content-security-policy"
_HSTS = "strict-transport-security"


class SecurityHeaders:
    """The security headers of the app or of one route, pre-encoded."""

    __slots__ = ("_csp", "_csp_plain", "_names", "_plain", "_tls")

    def __init__(self, settings: Mapping[str, Any],
                 overrides: Mapping[str, str | None] | None = None) -> None:
        """Build from the settings, then ``overrides`` (a value replaces, ``None`` drops)."""
        hsts = settings["HSTS_SECONDS"]
        values: dict[str, str | None] = {
            "x-content-type-options": "nosniff",
            "x-frame-options": settings["FRAME_OPTIONS"] or None,
            "referrer-policy": settings["REFERRER_POLICY"] or None,
            "cross-origin-opener-policy": "same-origin",
            _CSP: settings["CONTENT_SECURITY_POLICY"],
            _HSTS: f"max-age={hsts}" if hsts > 0 else None,
        }
        values.update((name.lower(), value) for name, value in (overrides or {}).items())
        csp, hsts_value = values.pop(_CSP), values.pop(_HSTS)
        self._csp = csp if csp and "{nonce}" in csp else None
        self._csp_plain = (
            (_CSP.encode(), csp.replace("{nonce}", "").encode("latin-1")) if csp else None
        )
        plain = [(name.encode(), value.encode("latin-1"))
                 for name, value in values.items() if value is not None]
        # NOTE: RFC 6797 §7.2: HSTS sent over plain http is ignored; send it over https only.
        tls = [*plain, (_HSTS.encode(), hsts_value.encode("latin-1"))] if hsts_value else plain
        # The policy goes last: with a nonce, only that last pair is replaced.
        csp_pair = [self._csp_plain] if self._csp_plain is not None else []
        self._plain = [*plain, *csp_pair]
        self._tls = [*tls, *csp_pair]
        self._names = frozenset(name for name, _ in self._tls) | {_CSP.encode()}

    def apply(self, response: Response, scope: dict[str, Any], nonce: str | None) -> None:
        """Add the headers to ``response``; headers it already has are left as they are."""
        raw = response.raw_headers
        add = self._tls if scope.get("scheme") == "https" else self._plain
        if nonce is not None and self._csp is not None:
            add = [*add[:-1], _nonce_csp(self._csp, nonce)]
        # PERF: most responses carry only their content type: nothing to compare with.
        if len(raw) > 1 or (raw and raw[0][0] in self._names):
            present = {name for name, _ in raw}
            add = [pair for pair in add if pair[0] not in present]
        raw.extend(add)


def _nonce_csp(template: str, nonce: str) -> tuple[bytes, bytes]:
    return _CSP.encode(), template.replace("{nonce}", f" 'nonce-{nonce}'").encode("latin-1")
