"""One route: a path template, its handler, methods and options; and a mounted ASGI app.

Routes are registration data. :mod:`zephyr.routing` indexes them in the route
table; :mod:`zephyr.endpoints` compiles each into what serves its requests.
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

from zephyr._types import ASGIApp
from zephyr.converters import Compound, Converter, Param, Segment, parse_path
from zephyr.errors import SetupError, URLBuildError

__all__ = [
    "HTTP_METHODS",
    "ROUTE_OPTIONS",
    "SECURITY_OPTIONS",
    "EndpointRoute",
    "Mount",
    "Route",
    "source_of",
]

#: Every option a route accepts (besides path, handler, methods and name).
#: Security options a route or a group may set (see zephyr.security.protect), and ``cors``
#: (see zephyr.cors).
SECURITY_OPTIONS = frozenset({
    "auth", "body_idle_timeout", "body_timeout", "cors", "csrf", "limits", "permissions",
    "security_headers", "timeout",
})
ROUTE_OPTIONS = frozenset({
    "status_code", "middleware", "max_body_size", "dependencies", "response_model",
    "response_class", "tags", "summary", "description", "deprecated", "include_in_schema",
    "responses", "operation_id",
}) | SECURITY_OPTIONS
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})


class Route:
    """One handler bound to a path template and a set of methods.

    Build them directly to route as data (``Zephyr(routes=[Route("/", home)])``)
    or through the decorators. ``options`` holds per-route settings such as
    ``status_code`` and ``max_body_size``.
    """

    __slots__ = ("handler", "methods", "name", "options", "param_names", "path", "segments",
                 "source")

    def __init__(
        self,
        path: str,
        handler: Callable[..., Any],
        *,
        methods: Iterable[str] = ("GET",),
        name: str | None = None,
        **options: Any,
    ) -> None:
        self.path = path
        self.handler = handler
        self.methods = _normalise_methods(path, methods)
        self.name = name or getattr(handler, "__name__", None) or path
        self.options = _check_options(path, options)
        self.segments: tuple[Segment, ...] = ()
        self.param_names: tuple[str, ...] = ()
        self.source = source_of(handler)

    def compile(self, converters: Mapping[str, type[Converter]]) -> None:
        """Parse the path template with the app's converters."""
        self.segments = parse_path(self.path, converters)
        names: list[str] = []
        for segment in self.segments:
            if isinstance(segment, Param):
                names.append(segment.name)
            elif isinstance(segment, Compound):
                names.extend(p.name for p in segment.params)
        self.param_names = tuple(names)

    @property
    def path_params(self) -> dict[str, Param]:
        """The path parameters by name, with their converters."""
        params: dict[str, Param] = {}
        for segment in self.segments:
            if isinstance(segment, Param):
                params[segment.name] = segment
            elif isinstance(segment, Compound):
                params.update((p.name, p) for p in segment.params)
        return params

    @property
    def shape(self) -> tuple[object, ...]:
        """What two routes share when they match exactly the same paths."""
        return tuple(s if isinstance(s, str) else s.key for s in self.segments)

    def build_path(self, params: Mapping[str, Any]) -> str:
        """The percent-encoded path for ``params`` (exactly this route's parameters)."""
        missing = [n for n in self.param_names if n not in params]
        extra = [n for n in params if n not in self.param_names]
        if missing or extra:
            wanted = ", ".join(self.param_names) or "none"
            problem = f"missing {missing}" if missing else f"unexpected {extra}"
            raise URLBuildError(
                f"cannot build route {self.name!r} ({self.path}): {problem}; "
                f"its parameters are: {wanted} (put query values in _query={{...}})"
            )
        parts = []
        for segment in self.segments:
            if isinstance(segment, str):
                parts.append(quote(segment, safe=""))
            elif isinstance(segment, Compound):
                encoded = {p.name: _build_param(self, p, params[p.name]) for p in segment.params}
                parts.append(segment.build(encoded))
            else:
                parts.append(_build_param(self, segment, params[segment.name]))
        return "/" + "/".join(parts)

    def __repr__(self) -> str:
        methods = ",".join(sorted(self.methods))
        return f"Route({self.path!r}, {methods}, name={self.name!r}, at {self.source})"


class EndpointRoute(Route):
    """A route whose handler is itself an endpoint: ``await handler(request)`` is the response.

    It is served as is: no argument plan, hooks, route middleware or per-route
    security checks (the request guard and the security headers still apply).
    Static files are served this way, so they never load a session or ask an
    authentication backend.

    ``known_values()``, when given, lists values the route's trailing ``path``
    parameter is known to take (a folder's files): the route table then answers
    those paths with one dict lookup, as it does routes without parameters.
    """

    __slots__ = ("known_values",)

    def __init__(self, path: str, handler: Callable[..., Any], *,
                 known_values: Callable[[], Iterable[str]] | None = None,
                 **options: Any) -> None:
        super().__init__(path, handler, **options)
        self.known_values = known_values


class Mount:
    """Any ASGI application served under a path prefix (``app.mount("/legacy", other)``).

    ``csrf`` turns the app's CSRF check on or off for the mounted app (``None``: the
    ``CSRF`` setting decides).
    """

    __slots__ = ("app", "csrf", "name", "prefix", "source")

    def __init__(self, prefix: str, app: ASGIApp, *, name: str | None = None,
                 csrf: bool | None = None) -> None:
        if not prefix.startswith("/") or prefix == "/" or prefix.endswith("/"):
            raise SetupError(
                f"mount prefix {prefix!r} must start with '/' and not end with one, "
                "like '/legacy'"
            )
        if csrf is not None and not isinstance(csrf, bool):
            raise SetupError(f"mount {prefix!r}: csrf= takes True, False or None, not {csrf!r}")
        self.prefix = prefix
        self.app = app
        self.name = name
        self.csrf = csrf
        self.source = source_of(app)

    def matches(self, path: str) -> bool:
        """Whether ``path`` lies under this mount's prefix."""
        return path == self.prefix or path.startswith(self.prefix + "/")


def _build_param(route: Route, param: Param, value: Any) -> str:
    try:
        text = param.converter.to_url(value)
    except (ValueError, TypeError) as exc:
        raise URLBuildError(
            f"cannot build route {route.name!r}: {param.name}={value!r} does not fit "
            f"its {type(param.converter).__name__} ({exc})"
        ) from None
    if not text:
        raise URLBuildError(f"cannot build route {route.name!r}: {param.name} is empty")
    safe = "/" if param.converter.spans_segments else ""
    return quote(text, safe=safe)


def _check_options(path: str, options: dict[str, Any]) -> dict[str, Any]:
    unknown = set(options) - ROUTE_OPTIONS
    if unknown:
        import difflib

        name = sorted(unknown)[0]
        close = difflib.get_close_matches(name, ROUTE_OPTIONS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SetupError(
            f"route {path!r} got unknown option {name!r}{hint} "
            f"(options: {', '.join(sorted(ROUTE_OPTIONS))})"
        )
    status = options.get("status_code", 200)
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise SetupError(f"route {path!r}: status_code must be an HTTP status, not {status!r}")
    return options


def _normalise_methods(path: str, methods: Iterable[str]) -> frozenset[str]:
    if isinstance(methods, str):
        methods = [methods]
    normalised = frozenset(m.upper() for m in methods)
    unknown = normalised - HTTP_METHODS
    if unknown or not normalised:
        raise SetupError(
            f"route {path!r} has unknown methods {sorted(unknown) or '(none)'}; "
            f"use some of {', '.join(sorted(HTTP_METHODS))}"
        )
    return normalised


def source_of(obj: object) -> str:
    """``file:line`` where ``obj`` was defined, relative to the working directory."""
    target = inspect.unwrap(obj) if callable(obj) else obj
    code = getattr(target, "__code__", None)
    if code is None:
        code = getattr(getattr(target, "__call__", None), "__code__", None)  # noqa: B004
    if code is None:
        return f"<{type(obj).__name__}>"
    filename = code.co_filename
    with contextlib.suppress(ValueError):  # another drive on Windows: keep it absolute
        filename = os.path.relpath(filename)
    return f"{filename}:{code.co_firstlineno}"
