"""The deployment check: every unsafe production setting, like Django's ``check --deploy``.

The checks of the secret keys (:mod:`zephyr.security.secret_keys`) and the security headers
(:mod:`zephyr.security.deploy_headers`) live beside it; this module checks the rest and
the routes, and formats the report.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from zephyr.config import DEFAULT_SETTINGS
from zephyr.security.csrf import SAFE_METHODS
from zephyr.security.deploy_headers import check_headers
from zephyr.security.login import SessionAuth
from zephyr.security.problems import PROBLEM_IDS, DeployProblem, Settings, problem
from zephyr.security.protect import ProtectedEndpoint, RouteSecurity
from zephyr.security.secret_keys import (
    InsecureConfigError,
    check_secret_keys,
    require_secret_key,
    secret_key_problem,
)

if TYPE_CHECKING:
    from zephyr.routing import Route

__all__ = [
    "PROBLEM_IDS",
    "CompiledRoute",
    "DeployProblem",
    "InsecureConfigError",
    "check_deploy",
    "format_report",
    "require_secret_key",
    "route_problems",
    "secret_key_problem",
]

_LOCAL_HOSTS = frozenset({"localhost", ".localhost", "127.0.0.1", "[::1]", "::1"})
# Multi-label suffixes under which anyone can have a name: registries' second levels and
# hosting platforms. Any single label ('.com', '.xyz') counts too.
_PUBLIC_SUFFIXES = frozenset({
    "co.uk", "org.uk", "ac.uk", "gov.uk", "me.uk", "com.au", "net.au", "org.au", "co.nz",
    "co.jp", "ne.jp", "or.jp", "co.kr", "com.br", "com.cn", "com.hk", "com.tw", "com.sg",
    "com.mx", "com.ar", "com.tr", "co.in", "co.za", "co.il", "com.ua",
    "github.io", "gitlab.io", "herokuapp.com", "appspot.com", "web.app", "firebaseapp.com",
    "vercel.app", "netlify.app", "pages.dev", "workers.dev", "fly.dev", "onrender.com",
    "azurewebsites.net", "cloudfront.net", "amazonaws.com", "s3.amazonaws.com",
    "elasticbeanstalk.com", "blogspot.com", "readthedocs.io", "pythonanywhere.com",
    "ngrok.io", "ngrok-free.app", "trycloudflare.com", "glitch.me", "repl.co",
})
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Shorter prefixes than these hold far more than any set of proxies (private ranges aside).
_WIDEST = {4: 8, 6: 16}
_LIMIT_FACTOR = 100
_BODY = ("one request can make the server read and hold that much",
         "one request can make the server read and hold as much as it sends")
_ROUTE_LIMIT = "; allow more only on the routes that need it, with max_body_size="
#: setting -> (problem id, what a client can do at that limit, ... without one, how to fix).
_LIMITS: dict[str, tuple[str, tuple[str, str], str]] = {
    "MAX_BODY_SIZE": ("W020", _BODY, _ROUTE_LIMIT),
    "MAX_JSON_SIZE": ("W021", _BODY, _ROUTE_LIMIT),
    "MAX_FORM_SIZE": ("W022", _BODY, _ROUTE_LIMIT),
    "MAX_MULTIPART_SIZE": ("W023", _BODY, _ROUTE_LIMIT),
    "MULTIPART_MAX_FIELDS": ("W024", (
        "one form can make the server parse and keep that many fields",
        "one form can make the server parse and keep as many fields as it sends"), ""),
    "MULTIPART_MAX_FILES": ("W025", (
        "one form can make the server write that many files",
        "one form can make the server write as many files as it sends"), ""),
    "MULTIPART_SPOOL_SIZE": ("W026", (
        "each upload keeps that much in memory before it goes to disk",
        "every upload stays in memory, however large"), ""),
    "BODY_TIMEOUT": ("W027", (
        "a client sending its body slowly holds a connection and a worker that long",
        "a client sending its body slowly holds a connection and a worker for as long as it "
        "likes"), "; give slow uploads more time only on their routes, with body_timeout="),
    "MAX_HEADER_COUNT": ("W028", (
        "every request's headers are read and held before any check refuses it",
        "every request's headers are read and held, however many"), ""),
    "MAX_HEADER_SIZE": ("W029", (
        "every request's headers are read and held before any check refuses it",
        "every request's headers are read and held, however large"), ""),
}
_DEFAULTS = {setting.name: setting.default for setting in DEFAULT_SETTINGS}


class CompiledRoute(Protocol):
    """A route as the app compiled it: ``app.router.table.records`` once the app serves."""

    @property
    def route(self) -> Route: ...

    @property
    def endpoint(self) -> object: ...


def check_deploy(config: Settings, *,
                 routes: Iterable[CompiledRoute] = ()) -> list[DeployProblem]:
    """Every unsafe production setting in ``config``, errors first, then by id.

    ``config`` is a resolved settings mapping (``app.config``); a setting it lacks
    counts as its default. ``routes`` (``app.router.table.records``, once the app has
    started) adds the routes' problems. No message ever contains a secret value.
    """
    settings = {**_DEFAULTS, **config}
    problems = [found for check in _CHECKS for found in check(settings)]
    for record in routes:
        endpoint = record.endpoint
        if isinstance(endpoint, ProtectedEndpoint):
            problems.extend(route_problems(record.route, endpoint.security))
    return sorted(problems, key=lambda found: (found.severity != "error", found.id))


def route_problems(route: Route, security: RouteSecurity) -> Iterator[DeployProblem]:
    """The problems of ``route`` under what its security options resolved to: W030 (CSRF
    off where the session authenticates)."""
    if security.csrf or not (route.methods - SAFE_METHODS):
        return
    if any(isinstance(backend, SessionAuth) for backend in security.auth):
        # SECURITY: the browser sends the session cookie with other sites' requests too.
        methods = ", ".join(sorted(route.methods))
        yield problem("zephyr.security.W030", f"route {route.path!r} ({methods}) at "
                      f"{route.source} is authenticated by the session, but its CSRF check is "
                      "off: another site can make a logged-in visitor's browser send it.",
                      "remove csrf=False from the route and its group; give clients that "
                      "send tokens a route of their own without SessionAuth")


def format_report(problems: Sequence[DeployProblem]) -> str:
    """A readable report of ``problems``: a count line, then errors, then warnings."""
    if not problems:
        return "No issues found."
    errors = [found for found in problems if found.severity == "error"]
    warnings = [found for found in problems if found.severity == "warning"]
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


def _quoted(values: Iterable[str]) -> str:
    return ", ".join(map(repr, values))


def _check_debug(settings: Settings) -> Iterator[DeployProblem]:
    if settings["DEBUG"]:
        yield problem("zephyr.security.E003", "DEBUG is on: error pages show tracebacks, "
                      "source and settings to every visitor.", "set DEBUG = False")


def _check_hosts(settings: Settings) -> Iterator[DeployProblem]:
    hosts = [str(host).strip().lower() for host in settings["ALLOWED_HOSTS"]]
    fix = "set ALLOWED_HOSTS to your domain names, like ['example.com', 'www.example.com']"
    if "*" in hosts:
        # SECURITY: a forged Host header ends up in absolute URLs (password-reset links).
        yield problem("zephyr.security.E004", "ALLOWED_HOSTS contains '*': any Host header "
                      "is accepted, so forged hosts reach absolute URLs and caches.", fix)
        return
    if not hosts:
        yield problem("zephyr.security.E005", "ALLOWED_HOSTS is empty: no Host header is "
                      "accepted, so every request is refused.", fix)
    elif set(hosts) <= _LOCAL_HOSTS:
        yield problem("zephyr.security.W002", f"ALLOWED_HOSTS is {hosts!r}: only local names, "
                      "so requests for the production domain are refused.", fix)
    if broad := [host for host in hosts if _is_public_suffix(host)]:
        yield problem("zephyr.security.W018", f"ALLOWED_HOSTS contains {_quoted(broad)}: each "
                      "matches every name under a public suffix, so a Host header naming any "
                      "site there (one an attacker registers) is accepted.",
                      "list your own domain instead, like '.example.com'")


def _is_public_suffix(entry: str) -> bool:
    """Whether ``entry`` is '.suffix' for a suffix anyone can register names under."""
    suffix = entry[1:].rstrip(".") if entry.startswith(".") else None
    if not suffix or suffix == "localhost":
        return False
    return "." not in suffix or suffix in _PUBLIC_SUFFIXES


def _check_proxies(settings: Settings) -> Iterator[DeployProblem]:
    entries = [str(entry).strip() for entry in settings["TRUSTED_PROXIES"]]
    networks = {entry: network for entry in entries if (network := _network(entry)) is not None}
    wide = [entry for entry, network in networks.items()
            if not network.is_private and network.prefixlen < _WIDEST[network.version]]
    everyone = [entry for entry in entries if entry == "*"]
    for version in (4, 6):
        group = {entry: network for entry, network in networks.items()
                 if network.version == version}
        # What the entries hold together: two halves trust every address as /0 does.
        if _hold_everything(group.values()):
            everyone += [entry for entry in group if entry in wide] or list(group)
    if everyone:
        # SECURITY: trusting forwarded headers from anyone lets a client pick its own IP.
        yield problem(
            "zephyr.security.E006",
            f"TRUSTED_PROXIES contains {_quoted(everyone)}: any client can send "
            "X-Forwarded-For or Forwarded and spoof its IP address, defeating rate limits, "
            "failure limits and audit logs.",
            "list only your proxies' addresses or networks, like ['10.0.0.5', '10.1.0.0/24']",
        )
    if wide := [entry for entry in wide if entry not in everyone]:
        yield problem(
            "zephyr.security.W019",
            f"TRUSTED_PROXIES contains {_quoted(wide)}: networks that large hold far more than "
            "your proxies, and every client in them can send X-Forwarded-For or Forwarded and "
            "spoof its IP address.",
            "list only your proxies' addresses or their own subnets, like ['10.0.0.5', "
            "'10.1.0.0/24']",
        )


def _hold_everything(networks: Iterable[_Network]) -> bool:
    """Whether ``networks`` together hold every IPv4 or every IPv6 address."""
    v4 = [network for network in networks if isinstance(network, ipaddress.IPv4Network)]
    v6 = [network for network in networks if isinstance(network, ipaddress.IPv6Network)]
    every_v4 = any(network.prefixlen == 0 for network in ipaddress.collapse_addresses(v4))
    every_v6 = any(network.prefixlen == 0 for network in ipaddress.collapse_addresses(v6))
    return every_v4 or every_v6


def _network(entry: str) -> _Network | None:
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return None


def _check_csrf(settings: Settings) -> Iterator[DeployProblem]:
    if not settings["CSRF"]:
        yield problem("zephyr.security.W003", "CSRF is off: other sites can make a logged-in "
                      "browser send POST, PUT, PATCH and DELETE requests.",
                      "set CSRF = True, and turn it off per route (csrf=False) only for "
                      "endpoints that no cookie authenticates")
    origins = [str(origin).strip() for origin in settings["CSRF_TRUSTED_ORIGINS"]]
    null = [origin for origin in origins if origin.lower() == "null"]
    plain = [origin for origin in origins if origin.lower().startswith("http://")]
    if null or plain:
        reasons = [reason for found, reason in (
            (null, "any site can send the Origin 'null' from a sandboxed frame"),
            (plain, "anyone on the network path can put a page on a plain-http origin"),
        ) if found]
        yield problem("zephyr.security.W017", f"CSRF_TRUSTED_ORIGINS trusts "
                      f"{_quoted(null + plain)}: {', and '.join(reasons)}, so their unsafe "
                      "requests pass the CSRF check with a visitor's cookies.",
                      "remove 'null' and list only https:// origins")


def _check_session_cookie(settings: Settings) -> Iterator[DeployProblem]:
    secure = settings["SESSION_COOKIE_SECURE"]
    if secure is False:
        yield problem("zephyr.security.W010", "SESSION_COOKIE_SECURE is False: the session "
                      "cookie is also sent over http, where anyone on the path can steal it.",
                      "set SESSION_COOKIE_SECURE = True")
    elif secure is None and settings["TRUSTED_PROXIES"]:
        # SECURITY: behind a TLS-terminating proxy the app sees https only if the proxy says so.
        header = ("Forwarded: proto=" if settings["PROXY_HEADERS"] == "forwarded"
                  else "X-Forwarded-Proto")
        hsts = settings["SECURITY_HEADERS"] and settings["HSTS_SECONDS"] > 0
        yield problem("zephyr.security.W015", "TRUSTED_PROXIES is set and "
                      "SESSION_COOKIE_SECURE is None: the session cookie is marked Secure"
                      f"{', and HSTS sent,' if hsts else ''} only on requests the proxy says "
                      f"came over https (in {header}); if it does not say so, every request "
                      "looks like http, so the cookie also travels over http"
                      f"{' and browsers are never told to insist on https' if hsts else ''}.",
                      f"set SESSION_COOKIE_SECURE = True, and make sure the proxy sends {header}")


def _check_docs(settings: Settings) -> Iterator[DeployProblem]:
    openapi, debug = settings["OPENAPI"], settings["DEBUG"]
    if openapi or (openapi is None and debug):
        why = "OPENAPI is True" if openapi else "OPENAPI is None and DEBUG is on"
        yield problem("zephyr.security.W011", f"{why}: the API docs (/docs, /redoc, "
                      "/openapi.json) are public and map every route for an attacker.",
                      "set OPENAPI = False")


def _check_backends(settings: Settings) -> Iterator[DeployProblem]:
    if settings["SESSION_BACKEND"] == "memory":
        yield problem("zephyr.security.W012", "SESSION_BACKEND is 'memory': sessions are per "
                      "process, lost on restart and not shared between workers.",
                      "set SESSION_BACKEND = 'redis' (or 'cookie')")
    if settings["RATE_LIMITS"] and settings["RATE_LIMIT_BACKEND"] == "memory":
        yield problem("zephyr.security.W013", "RATE_LIMIT_BACKEND is 'memory': counters are "
                      "per process, so N workers allow N times each limit.",
                      "set RATE_LIMIT_BACKEND = 'redis'")
    if settings["FAILURE_LIMIT"] is None:
        yield problem("zephyr.security.W014", "FAILURE_LIMIT is None: a client may guess "
                      "passwords, tokens and signatures without ever being slowed down.",
                      "set FAILURE_LIMIT = '20/minute'")


def _check_limits(settings: Settings) -> Iterator[DeployProblem]:
    for name, (code, (bounded, unbounded), route_fix) in _LIMITS.items():
        value, default = settings[name], _DEFAULTS[name]
        # SECURITY: the limits bound what one client makes the server read, parse and keep.
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            said = f"{name} is {value}: there is no limit, so {unbounded}."
        elif isinstance(value, int | float) and value > _LIMIT_FACTOR * default:
            said = (f"{name} is {value}, {int(value / default)} times its default "
                    f"({default}): {bounded}.")
        else:
            continue
        yield problem(f"zephyr.security.{code}", said,
                      f"lower {name} (the default is {default}){route_fix}")


_CHECKS: tuple[Callable[[Settings], Iterator[DeployProblem]], ...] = (
    check_secret_keys,
    _check_debug,
    _check_hosts,
    _check_proxies,
    _check_csrf,
    check_headers,
    _check_session_cookie,
    _check_docs,
    _check_backends,
    _check_limits,
)
