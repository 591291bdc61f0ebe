"""The deployment check of the security headers: on or off, the Content-Security-Policy,
HSTS and framing."""

from __future__ import annotations

import re
from collections.abc import Iterator

from zephyr.security.problems import DeployProblem, Settings, problem

__all__ = ["HSTS_ONE_YEAR", "check_headers"]

HSTS_ONE_YEAR = 31_536_000
_SCRIPT_DIRECTIVES = ("script-src", "script-src-elem", "script-src-attr")
_UNSAFE_SCRIPT_SOURCES = ("'unsafe-inline'", "'unsafe-eval'")
# NOTE: CSP3 §6.8.3 (and §6.1.13 for workers): the directive that governs a kind of load is the
# first of its list the policy has. base-uri has no fallback.
_LOADS = (
    ("scripts", ("script-src-elem", "script-src", "default-src")),
    ("scripts", ("worker-src", "child-src", "script-src", "default-src")),
    ("plugins", ("object-src", "default-src")),
    ("the base URL", ("base-uri",)),
)
# '*', a scheme alone ('https:', 'data:', 'blob:') or any host of a scheme ('https://*').
_ANY_ORIGIN = re.compile(r"\*|[a-z][a-z0-9+.-]*:|(?:[a-z][a-z0-9+.-]*://)?\*(?::[0-9*]+)?(?:/.*)?")


def check_headers(settings: Settings) -> Iterator[DeployProblem]:
    """W004 (headers off), W005/W006/W016 (the policy), W007/W008 (HSTS), W009 (framing)."""
    if not settings["SECURITY_HEADERS"]:
        yield problem("zephyr.security.W004", "SECURITY_HEADERS is off: no nosniff, frame, "
                      "referrer, opener, CSP or HSTS header is sent.",
                      "set SECURITY_HEADERS = True")
        return  # NOTE: the header settings below have no effect while the headers are off.
    csp = settings["CONTENT_SECURITY_POLICY"]
    if csp is None:
        yield problem("zephyr.security.W005", "CONTENT_SECURITY_POLICY is None: nothing "
                      "limits the scripts an injected tag can load or run.",
                      "remove the override to use the default policy")
    else:
        directives = _directives(csp)
        if unsafe := _unsafe_script_sources(directives):
            yield problem("zephyr.security.W006", f"CONTENT_SECURITY_POLICY allows {unsafe} "
                          "scripts: an injected script runs despite the policy.",
                          "remove 'unsafe-inline' and 'unsafe-eval' from script-src; mark "
                          "inline scripts with the request's nonce (csp_nonce()) instead")
        if permissive := _permissive_loads(directives):
            # SECURITY: an injected <script src>, <object> or <base> then loads the attacker's code.
            yield problem("zephyr.security.W016", f"CONTENT_SECURITY_POLICY lets {permissive}: "
                          "an injected tag can load code from a site the attacker controls.",
                          "list the origins you load code from ('self', "
                          "https://cdn.example.com) instead of '*' or a bare scheme such as "
                          "https: or data:, or use a nonce with 'strict-dynamic'")
    yield from _check_hsts(settings["HSTS_SECONDS"])
    # NOTE: browsers ignore X-Frame-Options when the CSP has frame-ancestors (CSP Level 2).
    if settings["FRAME_OPTIONS"] == "" and "frame-ancestors" not in _directives(csp or ""):
        yield problem("zephyr.security.W009", "FRAME_OPTIONS is '' and the policy has no "
                      "frame-ancestors: other sites can frame your pages (clickjacking).",
                      "set FRAME_OPTIONS = 'DENY' (or 'SAMEORIGIN')")


def _check_hsts(seconds: int) -> Iterator[DeployProblem]:
    fix = f"set HSTS_SECONDS = {HSTS_ONE_YEAR} (one year) once the whole site is on https"
    if seconds <= 0:
        yield problem("zephyr.security.W007", f"HSTS_SECONDS is {seconds!r}: browsers are "
                      "never told to insist on https, so a visit can be downgraded to http.", fix)
    elif seconds < HSTS_ONE_YEAR:
        yield problem("zephyr.security.W008", f"HSTS_SECONDS is {seconds!r}, under a year: "
                      "browsers forget to insist on https between visits.", fix)


def _directives(policy: str) -> dict[str, list[str]]:
    """The directives of a Content-Security-Policy: lower-cased name -> its sources."""
    parsed: dict[str, list[str]] = {}
    for part in policy.replace("{nonce}", "").lower().split(";"):
        if part.strip():
            name, *sources = part.split()
            parsed.setdefault(name, sources)  # NOTE: CSP3 §2.2: a repeated directive is ignored.
    return parsed


def _unsafe_script_sources(directives: dict[str, list[str]]) -> str:
    """The unsafe keywords scripts may use under the policy, like "'unsafe-eval'", or ''."""
    names = [name for name in _SCRIPT_DIRECTIVES if name in directives] or ["default-src"]
    # NOTE: CSP3 §6.8.3: without any script-src*, scripts fall back to default-src.
    sources = {source for name in names for source in directives.get(name, [])}
    return " and ".join(word for word in _UNSAFE_SCRIPT_SOURCES if word in sources)


def _permissive_loads(directives: dict[str, list[str]]) -> str:
    """What code may come from any origin, like "scripts come from '*' (script-src)", or ''."""
    found: dict[str, str] = {}
    for kind, fallbacks in _LOADS:
        name = next((name for name in fallbacks if name in directives), None)
        if name is None:
            if kind == "scripts":
                found.setdefault(kind, "scripts come from anywhere (it has no script-src or "
                                       "default-src)")
            continue
        sources = directives[name]
        # NOTE: CSP3 §8.2: with 'strict-dynamic', host and scheme sources are ignored.
        if kind == "scripts" and "'strict-dynamic'" in sources:
            continue
        wide = [source for source in sources if _ANY_ORIGIN.fullmatch(source)]
        if wide:
            found.setdefault(kind, f"{kind} come from {', '.join(map(repr, wide))} ({name})")
    parts = list(found.values())
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts)
