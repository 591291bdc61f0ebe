"""CORS: which other origins' pages may call the app and read its answers (off by default).

Built at startup from the ``CORS_*`` settings and the ``cors=`` options of groups and
routes. A route with a policy has its endpoint wrapped once, so every response of the
route, errors included, carries the headers its request's origin earned. A preflight
(``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) is answered from the
policy of the route that serves the requested method, before that route's checks.
Routes without a policy are left exactly as they are.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from zephyr.audit import log_refusal
from zephyr.errors import Forbidden, SetupError
from zephyr.responses import Response

if TYPE_CHECKING:
    from zephyr._types import Scope
    from zephyr.middleware import Endpoint
    from zephyr.requests import Request

__all__ = ["OPTIONS", "CORSConfig", "CORSError", "CORSPolicies", "CORSPolicy",
           "answer_preflights"]

#: The keys of ``cors={...}``, each with the setting it overrides.
OPTIONS = {
    "allow_origins": "CORS_ALLOW_ORIGINS",
    "allow_origin_regex": "CORS_ALLOW_ORIGIN_REGEX",
    "allow_methods": "CORS_ALLOW_METHODS",
    "allow_headers": "CORS_ALLOW_HEADERS",
    "allow_credentials": "CORS_ALLOW_CREDENTIALS",
    "expose_headers": "CORS_EXPOSE_HEADERS",
    "max_age": "CORS_MAX_AGE",
}
# NOTE: Fetch standard, "CORS-safelisted request-header": names a page may always send
# (a preflight lists them when their value is not a simple one, like a JSON Content-Type).
SAFELISTED_HEADERS = frozenset({"accept", "accept-language", "content-language", "content-type"})
# The answer to a preflight depends on these request headers (no Origin when any is allowed).
PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
_ANY_ORIGIN_VARY = PREFLIGHT_VARY.removeprefix("Origin, ")
# A serialized origin (RFC 6454 §6.2): scheme://host[:port], no path, user or space.
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/?#@\s]+")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_ALLOW_ORIGIN = b"access-control-allow-origin"
_REFUSALS = {
    "origin": ("the origin of the page", "allow_origins"),
    "method": ("the method", "allow_methods"),
    "headers": ("a request header", "allow_headers"),
}


class CORSError(Forbidden):
    """403: a preflight the route's CORS policy refuses (``reason``: origin, method, headers)."""


@dataclass(frozen=True, slots=True)
class CORSConfig:
    """One checked CORS policy: what other origins may send, and whether they read answers.

    ``allow_methods`` and ``allow_headers`` are ``None`` when any is allowed; header
    names are lower case.
    """

    allow_origins: frozenset[str]
    allow_origin_regex: re.Pattern[str] | None
    allow_methods: frozenset[str] | None
    allow_headers: frozenset[str] | None
    allow_credentials: bool
    expose_headers: tuple[str, ...]
    max_age: int

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, where: str | None = None) -> CORSConfig:
        """Check ``options`` (every key of :data:`OPTIONS`) and build the policy.

        ``where`` names the route whose ``cors=`` they come from; ``None``: the settings.
        Raises :class:`~zephyr.errors.SetupError` saying what to change.
        """
        check = _Checker(where)
        credentials = options["allow_credentials"]
        if not isinstance(credentials, bool):
            check.fail(f"{check.name('allow_credentials')} must be True or False, "
                       f"not {credentials!r}")
        origins = frozenset(check.origin(o) for o in check.strings(options, "allow_origins"))
        if "*" in origins and credentials:
            check.fail(
                f"{check.name('allow_origins')}=['*'] with {check.name('allow_credentials')}=True "
                "would let every site read what its visitors' cookies unlock; list the origins "
                f"you trust (or give {check.name('allow_origin_regex')}), or turn credentials off"
            )
        exposed = check.strings(options, "expose_headers")
        if "*" in exposed and credentials:
            check.fail(
                f"{check.name('expose_headers')}=['*'] with {check.name('allow_credentials')}="
                "True is read by browsers as a header named '*'; list the headers the pages "
                "may read"
            )
        methods = check.wildcard({m.upper() for m in check.strings(options, "allow_methods")})
        if methods is not None and "GET" in methods:
            methods |= {"HEAD"}  # HEAD is answered by the GET route
        max_age = options["max_age"]
        if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0:
            check.fail(f"{check.name('max_age')} must be a number of seconds (0 or more), "
                       f"not {max_age!r}")
        return cls(
            allow_origins=origins,
            allow_origin_regex=check.regex(options["allow_origin_regex"]),
            allow_methods=methods,
            allow_headers=check.wildcard({h.lower() for h in check.strings(options,
                                                                          "allow_headers")}),
            allow_credentials=credentials,
            expose_headers=tuple(exposed),
            max_age=max_age,
        )


class _Checker:
    """Checks option values, naming them as settings or as ``cors=`` keys of a route."""

    __slots__ = ("where",)

    def __init__(self, where: str | None) -> None:
        self.where = where

    def name(self, key: str) -> str:
        return OPTIONS[key] if self.where is None else key

    def fail(self, message: str) -> NoReturn:
        raise SetupError(message if self.where is None else f"{self.where}: {message}")

    def strings(self, options: Mapping[str, Any], key: str) -> list[str]:
        value = options[key]
        if not isinstance(value, list | tuple | frozenset | set) or not all(
                isinstance(item, str) for item in value):
            self.fail(f"{self.name(key)} takes a list of strings, not {value!r}")
        for item in value:
            if key.endswith("_headers") and item != "*" and not _TOKEN.fullmatch(item):
                self.fail(f"{self.name(key)} has {item!r}, which is not a header name")
        return list(value)

    def origin(self, value: str) -> str:
        if value == "*":
            return value
        origin = value.rstrip("/").lower()
        if not _ORIGIN.fullmatch(origin):
            self.fail(f"{self.name('allow_origins')} has {value!r}: an origin is "
                      "scheme://host[:port] without a path, like 'https://app.example.com'")
        return origin

    def regex(self, value: Any) -> re.Pattern[str] | None:
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(f"{self.name('allow_origin_regex')} must be a string, not {value!r}")
        try:
            return re.compile(value)
        except re.error as exc:
            self.fail(f"{self.name('allow_origin_regex')} {value!r} is not a regular "
                      f"expression: {exc}")

    @staticmethod
    def wildcard(values: set[str]) -> frozenset[str] | None:
        return None if "*" in values else frozenset(values)


class CORSPolicy:
    """A route's CORS policy at work, its constant header values encoded once."""

    __slots__ = ("_any_origin", "_extra", "_max_age", "_methods", "_wildcard", "config")

    def __init__(self, config: CORSConfig) -> None:
        self.config = config
        # Any origin, without credentials (checked): every answer says '*', whoever asks.
        self._any_origin = "*" in config.allow_origins
        extra = [(b"access-control-allow-credentials", b"true")] if config.allow_credentials else []
        if config.expose_headers:
            exposed = ", ".join(config.expose_headers).encode("latin-1")
            extra.append((b"access-control-expose-headers", exposed))
        self._extra = extra
        self._wildcard = [(_ALLOW_ORIGIN, b"*"), *extra]
        methods = config.allow_methods
        self._methods = None if methods is None else ", ".join(sorted(methods)).encode()
        self._max_age = str(config.max_age).encode()

    def allows_origin(self, origin: str) -> bool:
        """Whether pages of ``origin`` (as the browser sent it) may read the answers."""
        config = self.config
        if self._any_origin or origin in config.allow_origins:
            return True
        regex = config.allow_origin_regex
        # SECURITY: only a well-formed origin is matched, and in full: never reflected as it is.
        return (regex is not None and _ORIGIN.fullmatch(origin) is not None
                and regex.fullmatch(origin) is not None)

    def allows_method(self, method: str) -> bool:
        """Whether other origins may use ``method``."""
        methods = self.config.allow_methods
        return methods is None or method in methods

    def wrap(self, endpoint: Endpoint) -> Endpoint:
        """``endpoint`` with this policy's headers on every response it gives."""
        add_headers = self.add_headers

        async def with_cors(request: Request) -> Response:
            response = await endpoint(request)
            add_headers(request, response)
            return response

        return with_cors

    def add_headers(self, request: Request, response: Response) -> None:
        """Tell the browser whether the page that sent ``request`` may read ``response``."""
        raw = response.raw_headers
        if any(name == _ALLOW_ORIGIN for name, _ in raw):
            return  # the handler answered for CORS itself
        if self._any_origin:
            if self.allows_method(request.method):
                raw.extend(self._wildcard)
            return
        # NOTE: Fetch standard §3.2.5: an answer that differs by origin says Vary: Origin,
        # also when it allows none, or a cache could hand it to an origin it allows.
        response.headers.add_vary("Origin")
        origin = request.headers.get("origin")
        if origin is not None and self.allows_origin(origin) and self.allows_method(
                request.method):
            raw.append((_ALLOW_ORIGIN, origin.encode("latin-1")))
            raw.extend(self._extra)

    def preflight(self, request: Request, method: str) -> Response:
        """The answer to a preflight asking to send ``method``; :class:`CORSError` refuses."""
        headers = request.headers
        origin: str = headers.get("origin", "")
        vary = _ANY_ORIGIN_VARY if self._any_origin else PREFLIGHT_VARY
        if not self.allows_origin(origin):
            _refuse(request, "origin", vary)
        if not self.allows_method(method):
            _refuse(request, "method", vary)
        requested = [name.strip().lower()
                     for value in headers.getlist("access-control-request-headers")
                     for name in value.split(",") if name.strip()]
        allowed = self.config.allow_headers
        for name in requested:
            if not _TOKEN.fullmatch(name) or (
                    allowed is not None and name not in allowed and name not in SAFELISTED_HEADERS):
                _refuse(request, "headers", vary)
        answer = Response(status_code=204)
        raw = answer.raw_headers
        raw.append((_ALLOW_ORIGIN, b"*" if self._any_origin else origin.encode("latin-1")))
        if self.config.allow_credentials:
            raw.append((b"access-control-allow-credentials", b"true"))
        raw.append((b"access-control-allow-methods",
                    self._methods if self._methods is not None else method.encode("latin-1")))
        if requested:
            raw.append((b"access-control-allow-headers", ", ".join(requested).encode()))
        raw.append((b"access-control-max-age", self._max_age))
        raw.append((b"vary", vary.encode()))
        return answer


def _refuse(request: Request, reason: str, vary: str) -> NoReturn:
    log_refusal("cors-refused", request.scope, reason)
    subject, option = _REFUSALS[reason]
    # SECURITY: the answer names the setting to change, never what the request sent.
    error = CORSError(
        f"CORS preflight refused: {subject} is not allowed; add it to {OPTIONS[option]} "
        f"(or to {option} in the route's cors=)",
        reason=f"cors-{reason}",
    )
    error.headers["Vary"] = vary
    raise error


PolicyFinder = Callable[["Scope", str], "CORSPolicy | None"]
OnError = Callable[["Request", Exception], Awaitable[Response]]


def answer_preflights(endpoint: Endpoint, policy_for: PolicyFinder,
                      on_error: OnError) -> Endpoint:
    """``endpoint``, with CORS preflights answered first.

    ``policy_for(scope, method)`` finds the policy of the route that serves ``method``
    at the request's path (``None``: the request is left to ``endpoint``); ``on_error``
    answers a refused one (the error handlers of the route, or of the app).
    """

    async def answer(request: Request) -> Response:
        if request.scope["method"] == "OPTIONS":
            headers = request.headers
            method = headers.get("access-control-request-method")
            if method is not None and "origin" in headers:
                policy = policy_for(request.scope, method)
                if policy is not None:
                    try:
                        return policy.preflight(request, method)
                    except CORSError as exc:
                        return await on_error(request, exc)
        return await endpoint(request)

    return answer


class CORSPolicies:
    """The CORS policy of each route: the settings, overridden by ``cors=`` on its lineage."""

    __slots__ = ("_settings", "app_policy")

    def __init__(self, settings: Mapping[str, Any]) -> None:
        """Build from the ``CORS_*`` settings, refusing an unsafe or malformed policy."""
        self._settings = {key: settings[name] for key, name in OPTIONS.items()}
        #: The policy of the settings, or ``None`` when they allow no origin (CORS off).
        self.app_policy = (
            CORSPolicy(CORSConfig.from_options(self._settings))
            if self._settings["allow_origins"] or self._settings["allow_origin_regex"] is not None
            else None
        )

    def resolve(self, path: str, layers: Sequence[Mapping[str, Any]]) -> CORSPolicy | None:
        """The policy of the route at ``path`` from the options of its ``layers`` (the app,
        its groups, the route): ``cors=False`` turns CORS off below, ``True`` back on, and a
        dict overrides settings."""
        where = f"route {path!r}"
        enabled = self.app_policy is not None
        overrides: dict[str, Any] = {}
        for options in layers:
            if "cors" not in options:
                continue
            value = options["cors"]
            if isinstance(value, bool):
                enabled = value
            elif isinstance(value, Mapping):
                _check_keys(where, value)
                overrides.update(value)
                enabled = True
            else:
                raise SetupError(f"{where}: cors= takes False, True or a dict of CORS options, "
                                 f"not {value!r}")
        if not enabled:
            return None
        options = {**self._settings, **overrides}
        if not options["allow_origins"] and options["allow_origin_regex"] is None:
            raise SetupError(f"{where} has cors= but no allowed origin; set CORS_ALLOW_ORIGINS "
                             "(or CORS_ALLOW_ORIGIN_REGEX), or allow_origins in cors={...}")
        if not overrides and self.app_policy is not None:
            return self.app_policy
        return CORSPolicy(CORSConfig.from_options(options, where=where))


def _check_keys(where: str, options: Mapping[str, Any]) -> None:
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        import difflib  # NOTE: only a misspelt option needs it

        close = difflib.get_close_matches(unknown[0], OPTIONS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SetupError(f"{where}: cors= got unknown key {unknown[0]!r}{hint} "
                         f"(keys: {', '.join(OPTIONS)})")
