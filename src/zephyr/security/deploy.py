"""The deployment check: every unsafe production setting, like Django's ``check --deploy``.

Also the startup guard that refuses a missing or weak secret key outside debug mode.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from zephyr.config import DEFAULT_SETTINGS
from zephyr.errors import ConfigError

__all__ = [
    "PROBLEM_IDS",
    "DeployProblem",
    "InsecureConfigError",
    "check_deploy",
    "format_report",
    "require_secret_key",
    "secret_key_problem",
]

#: Every problem :func:`check_deploy` reports: id -> (setting to change, summary).
#: ``E`` ids are errors (unsafe in any deployment), ``W`` ids warnings (unsafe unless
#: you know why). Ids are stable: a retired id is never reused.
PROBLEM_IDS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "zephyr.security.E001": ("SECRET_KEY", "the secret key is missing or weak"),
    "zephyr.security.E002": ("SECRET_KEY_FALLBACKS", "an old secret key is weak"),
    "zephyr.security.E003": ("DEBUG", "debug mode is on"),
    "zephyr.security.E004": ("ALLOWED_HOSTS", "any Host header is accepted ('*')"),
    "zephyr.security.E005": ("ALLOWED_HOSTS", "no Host header is accepted (empty list)"),
    "zephyr.security.E006": ("TRUSTED_PROXIES", "every address may set forwarded headers"),
    "zephyr.security.W001": ("SECRET_KEY_FALLBACKS", "an old secret key equals SECRET_KEY"),
    "zephyr.security.W002": ("ALLOWED_HOSTS", "only local host names are accepted"),
    "zephyr.security.W003": ("CSRF", "CSRF protection is off"),
    "zephyr.security.W004": ("SECURITY_HEADERS", "security headers are off"),
    "zephyr.security.W005": ("CONTENT_SECURITY_POLICY", "no Content-Security-Policy is sent"),
    "zephyr.security.W006": ("CONTENT_SECURITY_POLICY", "scripts allow 'unsafe-inline' or "
                             "'unsafe-eval'"),
    "zephyr.security.W007": ("HSTS_SECONDS", "HSTS is off"),
    "zephyr.security.W008": ("HSTS_SECONDS", "HSTS lasts less than a year"),
    "zephyr.security.W009": ("FRAME_OPTIONS", "pages may be framed by other sites"),
    "zephyr.security.W010": ("SESSION_COOKIE_SECURE", "the session cookie may travel over http"),
    "zephyr.security.W011": ("OPENAPI", "the API docs are public"),
    "zephyr.security.W012": ("SESSION_BACKEND", "sessions live in one process's memory"),
    "zephyr.security.W013": ("RATE_LIMIT_BACKEND", "rate-limit counters live in one process's "
                             "memory"),
    "zephyr.security.W014": ("FAILURE_LIMIT", "repeated security failures are never throttled"),
})

MIN_KEY_LENGTH = 32
MIN_KEY_CHARACTERS = 5
HSTS_ONE_YEAR = 31_536_000
MAKE_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(50))"'
_SET_KEY = f"set ZEPHYR_SECRET_KEY (or secret_key=...) to a random value: {MAKE_KEY}"

# Compared with the key lower-cased and stripped of everything but letters and digits,
# so 'Change-Me' and 'CHANGE_ME' match too. Whole words (or repeats of one) only:
# a random key that happens to contain 'test' is fine.
_PLACEHOLDER_WORDS = frozenset({
    "changeme", "secret", "secretkey", "yoursecretkey", "insecure", "dev", "development",
    "test", "testing", "password", "default", "example",
})
_PLACEHOLDER_PREFIXES = ("djangoinsecure", "insecure", "change", "yoursecretkey", "replaceme")
_LOCAL_HOSTS = frozenset({"localhost", ".localhost", "127.0.0.1", "[::1]", "::1"})
_SCRIPT_DIRECTIVES = ("script-src", "script-src-elem", "script-src-attr")
_UNSAFE_SCRIPT_SOURCES = ("'unsafe-inline'", "'unsafe-eval'")
_DEFAULTS = {setting.name: setting.default for setting in DEFAULT_SETTINGS}


class InsecureConfigError(ConfigError):
    """Settings unsafe enough that the app refuses to start (a weak key outside debug)."""


@dataclass(frozen=True, slots=True)
class DeployProblem:
    """One unsafe production setting: what is wrong, why it matters and what to set."""

    id: str
    setting: str
    message: str
    fix: str
    severity: Literal["error", "warning"]

    def __str__(self) -> str:
        return f"{self.id} {self.setting}: {self.message} Fix: {self.fix}"


def secret_key_problem(key: str | None) -> str | None:
    """Why ``key`` is unfit to sign sessions and tokens, or None when it is strong."""
    weakness = _key_weakness(key)
    if weakness is None:
        return None
    return f"the key {weakness}; make a random one with: {MAKE_KEY}"


def require_secret_key(config: Mapping[str, Any], *, needed_for: str) -> None:
    """Raise :class:`InsecureConfigError` outside debug mode when SECRET_KEY is missing or weak.

    ``needed_for`` names what needs the key ("sessions", "CSRF protection").
    In debug mode this does nothing: the caller makes an ephemeral key.
    """
    if config.get("DEBUG"):
        return
    weakness = _key_weakness(config.get("SECRET_KEY"))
    if weakness is None:
        return
    wanted = "it" if weakness == "is missing" else "a strong one"
    raise InsecureConfigError(
        f"SECRET_KEY {weakness}; {needed_for} needs {wanted} outside debug mode. "
        f"Set ZEPHYR_SECRET_KEY (or secret_key=...) to a random value: {MAKE_KEY}, "
        "or run with DEBUG=True for an ephemeral key"
    )


def check_deploy(config: Mapping[str, Any]) -> list[DeployProblem]:
    """Every unsafe production setting in ``config``, errors first, then by id.

    ``config`` is a resolved settings mapping (``app.config``); a setting it lacks
    counts as its default. No message ever contains a secret value.
    """
    settings = {**_DEFAULTS, **config}
    problems = [problem for check in _CHECKS for problem in check(settings)]
    return sorted(problems, key=lambda problem: (problem.severity != "error", problem.id))


def format_report(problems: Sequence[DeployProblem]) -> str:
    """A readable report of ``problems``: a count line, then errors, then warnings."""
    if not problems:
        return "No issues found."
    errors = [problem for problem in problems if problem.severity == "error"]
    warnings = [problem for problem in problems if problem.severity == "warning"]
    lines = [
        f"System check identified {_count(len(problems), 'issue')} "
        f"({_count(len(errors), 'error')}, {_count(len(warnings), 'warning')}):"
    ]
    for title, group in (("ERRORS", errors), ("WARNINGS", warnings)):
        if group:
            lines += ["", f"{title}:"]
            lines += [f"  {p.id} {p.setting}: {p.message}\n    Fix: {p.fix}" for p in group]
    return "\n".join(lines)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _key_weakness(key: object) -> str | None:
    """How ``key`` is weak ('is missing', ...) or None; the phrase never quotes the key."""
    if not isinstance(key, str) or not key.strip():
        return "is missing"
    normalized = "".join(char for char in key.lower() if char.isalnum())
    if normalized.startswith(_PLACEHOLDER_PREFIXES) or _is_placeholder_word(normalized):
        return "is a known placeholder"
    if len(key) < MIN_KEY_LENGTH:
        return f"is shorter than {MIN_KEY_LENGTH} characters"
    if len(set(key)) < MIN_KEY_CHARACTERS:
        return f"has fewer than {MIN_KEY_CHARACTERS} distinct characters"
    return None


def _is_placeholder_word(normalized: str) -> bool:
    """Whether ``normalized`` is a placeholder word or that word repeated ('secretsecret')."""
    return any(
        normalized and len(normalized) % len(word) == 0
        and normalized == word * (len(normalized) // len(word))
        for word in _PLACEHOLDER_WORDS
    )


def _problem(problem_id: str, message: str, fix: str) -> DeployProblem:
    setting = PROBLEM_IDS[problem_id][0]
    severity: Literal["error", "warning"] = "error" if ".E" in problem_id else "warning"
    return DeployProblem(problem_id, setting, message, fix, severity)


_Settings = Mapping[str, Any]


def _check_secret_keys(settings: _Settings) -> Iterator[DeployProblem]:
    # SECURITY: whoever knows or guesses a signing key can forge sessions and CSRF tokens.
    key = settings["SECRET_KEY"]
    weakness = _key_weakness(key)
    if weakness == "is missing":
        yield _problem("zephyr.security.E001", "SECRET_KEY is missing: outside debug mode the "
                       "app cannot sign sessions, CSRF tokens or other values.",
                       _SET_KEY)
    elif weakness is not None:
        yield _problem("zephyr.security.E001", f"SECRET_KEY {weakness}: anyone who guesses "
                       "it can forge sessions, CSRF tokens and signed values.", _SET_KEY)
    for number, old in enumerate(settings["SECRET_KEY_FALLBACKS"], start=1):
        old_weakness = _key_weakness(old)
        if old_weakness is not None:
            old_weakness = "is empty" if old_weakness == "is missing" else old_weakness
            yield _problem(
                "zephyr.security.E002",
                f"entry {number} of SECRET_KEY_FALLBACKS {old_weakness}: signatures made with "
                "it are still accepted, so anyone who guesses it can forge sessions and tokens.",
                f"remove entry {number}, or replace it with the real previous key",
            )
        elif isinstance(key, str) and hmac.compare_digest(old.encode(), key.encode()):
            yield _problem(
                "zephyr.security.W001",
                f"entry {number} of SECRET_KEY_FALLBACKS is the current SECRET_KEY: the key "
                "was not actually rotated.",
                f"set SECRET_KEY to a new random value ({MAKE_KEY}) and keep the old one in "
                "SECRET_KEY_FALLBACKS only until existing sessions expire",
            )


def _check_debug(settings: _Settings) -> Iterator[DeployProblem]:
    if settings["DEBUG"]:
        yield _problem("zephyr.security.E003", "DEBUG is on: error pages show tracebacks, "
                       "source and settings to every visitor.", "set DEBUG = False")


def _check_hosts(settings: _Settings) -> Iterator[DeployProblem]:
    hosts = [str(host).lower() for host in settings["ALLOWED_HOSTS"]]
    fix = "set ALLOWED_HOSTS to your domain names, like ['example.com', 'www.example.com']"
    if "*" in hosts:
        # SECURITY: a forged Host header ends up in absolute URLs (password-reset links).
        yield _problem("zephyr.security.E004", "ALLOWED_HOSTS contains '*': any Host header "
                       "is accepted, so forged hosts reach absolute URLs and caches.", fix)
    elif not hosts:
        yield _problem("zephyr.security.E005", "ALLOWED_HOSTS is empty: no Host header is "
                       "accepted, so every request is refused.", fix)
    elif set(hosts) <= _LOCAL_HOSTS:
        yield _problem("zephyr.security.W002", f"ALLOWED_HOSTS is {hosts!r}: only local names, "
                       "so requests for the production domain are refused.", fix)


def _check_proxies(settings: _Settings) -> Iterator[DeployProblem]:
    everyone = [entry for entry in settings["TRUSTED_PROXIES"] if _is_everyone(entry)]
    if everyone:
        # SECURITY: trusting forwarded headers from anyone lets a client pick its own IP.
        yield _problem(
            "zephyr.security.E006",
            f"TRUSTED_PROXIES contains {', '.join(map(repr, everyone))}: any client can send "
            "X-Forwarded-For or Forwarded and spoof its IP address, defeating rate limits, "
            "failure limits and audit logs.",
            "list only your proxies' addresses or networks, like ['10.0.0.5', '10.1.0.0/24']",
        )


def _is_everyone(entry: object) -> bool:
    text = str(entry).strip()
    if text == "*":
        return True
    try:
        return ipaddress.ip_network(text, strict=False).prefixlen == 0
    except ValueError:
        return False


def _check_csrf(settings: _Settings) -> Iterator[DeployProblem]:
    if not settings["CSRF"]:
        yield _problem("zephyr.security.W003", "CSRF is off: other sites can make a logged-in "
                       "browser send POST, PUT, PATCH and DELETE requests.",
                       "set CSRF = True, and turn it off per route (csrf=False) only for "
                       "endpoints that no cookie authenticates")


def _check_headers(settings: _Settings) -> Iterator[DeployProblem]:
    if not settings["SECURITY_HEADERS"]:
        yield _problem("zephyr.security.W004", "SECURITY_HEADERS is off: no nosniff, frame, "
                       "referrer, opener, CSP or HSTS header is sent.",
                       "set SECURITY_HEADERS = True")
        return  # NOTE: the header settings below have no effect while the headers are off.
    csp = settings["CONTENT_SECURITY_POLICY"]
    if csp is None:
        yield _problem("zephyr.security.W005", "CONTENT_SECURITY_POLICY is None: nothing "
                       "limits the scripts an injected tag can load or run.",
                       "remove the override to use the default policy")
    elif unsafe := _unsafe_script_sources(csp):
        yield _problem("zephyr.security.W006", f"CONTENT_SECURITY_POLICY allows {unsafe} "
                       "scripts: an injected script runs despite the policy.",
                       "remove 'unsafe-inline' and 'unsafe-eval' from script-src; mark inline "
                       "scripts with the request's nonce (csp_nonce()) instead")
    yield from _check_hsts(settings["HSTS_SECONDS"])
    # NOTE: browsers ignore X-Frame-Options when the CSP has frame-ancestors (CSP Level 2).
    if settings["FRAME_OPTIONS"] == "" and "frame-ancestors" not in _directives(csp or ""):
        yield _problem("zephyr.security.W009", "FRAME_OPTIONS is '' and the policy has no "
                       "frame-ancestors: other sites can frame your pages (clickjacking).",
                       "set FRAME_OPTIONS = 'DENY' (or 'SAMEORIGIN')")


def _check_hsts(seconds: int) -> Iterator[DeployProblem]:
    fix = f"set HSTS_SECONDS = {HSTS_ONE_YEAR} (one year) once the whole site is on https"
    if seconds <= 0:
        yield _problem("zephyr.security.W007", f"HSTS_SECONDS is {seconds!r}: browsers are "
                       "never told to insist on https, so a visit can be downgraded to http.", fix)
    elif seconds < HSTS_ONE_YEAR:
        yield _problem("zephyr.security.W008", f"HSTS_SECONDS is {seconds!r}, under a year: "
                       "browsers forget to insist on https between visits.", fix)


def _directives(policy: str) -> dict[str, list[str]]:
    """The directives of a Content-Security-Policy: lower-cased name -> its sources."""
    parsed: dict[str, list[str]] = {}
    for part in policy.replace("{nonce}", "").lower().split(";"):
        if part.strip():
            name, *sources = part.split()
            parsed.setdefault(name, sources)  # NOTE: CSP3 §2.2: a repeated directive is ignored.
    return parsed


def _unsafe_script_sources(policy: str) -> str:
    """The unsafe keywords scripts may use under ``policy``, like "'unsafe-eval'", or ''."""
    directives = _directives(policy)
    names = [name for name in _SCRIPT_DIRECTIVES if name in directives] or ["default-src"]
    # NOTE: CSP3 §6.8.3: without any script-src*, scripts fall back to default-src.
    sources = {source for name in names for source in directives.get(name, [])}
    return " and ".join(word for word in _UNSAFE_SCRIPT_SOURCES if word in sources)


def _check_session_cookie(settings: _Settings) -> Iterator[DeployProblem]:
    if settings["SESSION_COOKIE_SECURE"] is False:
        yield _problem("zephyr.security.W010", "SESSION_COOKIE_SECURE is False: the session "
                       "cookie is also sent over http, where anyone on the path can steal it.",
                       "set SESSION_COOKIE_SECURE = True")


def _check_docs(settings: _Settings) -> Iterator[DeployProblem]:
    openapi, debug = settings["OPENAPI"], settings["DEBUG"]
    if openapi or (openapi is None and debug):
        why = "OPENAPI is True" if openapi else "OPENAPI is None and DEBUG is on"
        yield _problem("zephyr.security.W011", f"{why}: the API docs (/docs, /redoc, "
                       "/openapi.json) are public and map every route for an attacker.",
                       "set OPENAPI = False")


def _check_backends(settings: _Settings) -> Iterator[DeployProblem]:
    if settings["SESSION_BACKEND"] == "memory":
        yield _problem("zephyr.security.W012", "SESSION_BACKEND is 'memory': sessions are per "
                       "process, lost on restart and not shared between workers.",
                       "set SESSION_BACKEND = 'redis' (or 'cookie')")
    if settings["RATE_LIMITS"] and settings["RATE_LIMIT_BACKEND"] == "memory":
        yield _problem("zephyr.security.W013", "RATE_LIMIT_BACKEND is 'memory': counters are "
                       "per process, so N workers allow N times each limit.",
                       "set RATE_LIMIT_BACKEND = 'redis'")
    if settings["FAILURE_LIMIT"] is None:
        yield _problem("zephyr.security.W014", "FAILURE_LIMIT is None: a client may guess "
                       "passwords, tokens and signatures without ever being slowed down.",
                       "set FAILURE_LIMIT = '20/minute'")


_CHECKS: tuple[Callable[[_Settings], Iterator[DeployProblem]], ...] = (
    _check_secret_keys,
    _check_debug,
    _check_hosts,
    _check_proxies,
    _check_csrf,
    _check_headers,
    _check_session_cookie,
    _check_docs,
    _check_backends,
)
