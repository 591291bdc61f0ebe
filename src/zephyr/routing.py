"""Routes, the route table (a dict for static paths, a segment tree for the rest) and URL building.

A :class:`Route` is registration data. When the app starts serving, each
route is compiled (by :mod:`zephyr.endpoints`) into a record that holds its
endpoint; the :class:`RouteTable` maps requests to those records and answers
404, 405, the implicit ``OPTIONS`` and the trailing-slash redirect. A table is
immutable: the :class:`Router` builds a new one when routes change at runtime
and swaps it in with one assignment, so a request in flight keeps the table it
started with.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Generic, Protocol, TypeVar, cast
from urllib.parse import quote, urlencode

from zephyr._route import EndpointRoute, Mount, Route
from zephyr._route_tree import Node, Search, descend
from zephyr._types import Scope
from zephyr.converters import BUILTIN_CONVERTERS, Converter, Param
from zephyr.datastructures import decode_path
from zephyr.errors import (
    MethodNotAllowed,
    NotFound,
    RouteConflictError,
    SetupError,
    URLBuildError,
)

__all__ = ["Compiled", "EndpointRoute", "Mount", "Route", "RouteTable", "Router", "SlashRedirect"]

_NO_PARAMS: Mapping[str, Any] = MappingProxyType({})

class Compiled(Protocol):
    """What the table maps requests to: a route's compiled record (``zephyr.endpoints``)."""

    @property
    def route(self) -> Route: ...


R = TypeVar("R", bound=Compiled)
#: Makes the record that answers an implicit ``OPTIONS`` for a set of allowed methods.
AnswerOptions = Callable[[tuple[str, ...]], R]


class SlashRedirect(NotFound):
    """No route matches the path, but one does with the trailing slash added or removed."""

    def __init__(self, location: str, status: int) -> None:
        super().__init__("this resource lives at the path with (or without) a trailing slash",
                         received={"location": location})
        self.location = location
        self.redirect_status = status


def route_path(scope: Scope) -> str:
    """The path the router matches: ``path`` below ``root_path`` (ASGI: path includes it)."""
    path: str = scope["path"]
    root = scope.get("root_path")
    if root and path.startswith(root):
        return path[len(root):] or "/"
    return path


class RouteTable(Generic[R]):
    """An immutable snapshot of every route's record, built for fast lookup."""

    __slots__ = ("_answer_options", "_options", "_redirect_status", "mounts", "records", "root",
                 "static")

    def __init__(self, records: Iterable[R], mounts: Iterable[Mount] = (), *,
                 answer_options: AnswerOptions[R] | None = None,
                 redirect_status: int | None = None) -> None:
        """``redirect_status`` (``None``: no redirects) answers a path that lacks or has an
        extra trailing slash; ``answer_options`` makes the implicit ``OPTIONS`` answers."""
        self.records: tuple[R, ...] = tuple(records)
        # Longest prefix first, so '/api/v2' wins over '/api' for the paths under it.
        self.mounts = tuple(sorted(mounts, key=lambda mount: len(mount.prefix), reverse=True))
        # PERF: exact paths resolve with one dict lookup, whatever the table size, to a
        # ready (record, no parameters) pair.
        self.static: dict[str, dict[str, tuple[R, Mapping[str, Any]]]] = {}
        self.root = Node[R]()
        self._answer_options = answer_options
        self._redirect_status = redirect_status
        # The implicit OPTIONS answers, one per set of allowed methods, made on demand.
        self._options: dict[tuple[str, ...], R] = {}
        known: list[tuple[R, Node[R]]] = []
        for record in self.records:
            route = record.route
            if all(isinstance(s, str) for s in route.segments):
                pairs = self.static.setdefault(route.path, {})
                for method in route.methods:
                    pairs[method] = (record, _NO_PARAMS)
                continue
            node = parent = self.root
            for segment in route.segments:
                parent, node = node, node.child(segment)
            for method in route.methods:
                node.methods[method] = record
            if isinstance(route, EndpointRoute) and route.known_values is not None:
                known.append((record, parent))
        for record, parent in known:
            self._add_known_values(record, cast("EndpointRoute", record.route), parent)
        for pairs in self.static.values():
            _add_implicit_methods(pairs)
        _add_implicit_to_tree(self.root)
        self.root.settle()

    def _add_known_values(self, record: R, route: EndpointRoute, parent: Node[R]) -> None:
        """Put the paths a route's trailing ``path`` parameter is known to take (a static
        folder's files) beside the routes without parameters: one dict lookup each.

        Only where nothing else hangs below the route's prefix (so the full search
        would find this route for them too), and never over a route of that exact path.
        """
        *prefix, last = route.segments
        if not (isinstance(last, Param) and last.converter.spans_segments
                and all(isinstance(s, str) for s in prefix)) or parent.static or len(
                    parent.params) != 1 or route.known_values is None:
            return
        base = "".join(f"/{segment}" for segment in prefix)
        for value in route.known_values():
            pairs = self.static.setdefault(f"{base}/{value}", {})
            params = MappingProxyType({last.name: value})
            for method in route.methods:
                pairs.setdefault(method, (record, params))

    def match(self, scope: Scope) -> tuple[R, Mapping[str, Any]]:
        """The record for the request of ``scope`` and its converted path parameters.

        Raises ``BadRequest`` for a path with bad percent-escapes, ``SlashRedirect``
        when only the path with (or without) a trailing slash has a route,
        ``NotFound`` when nothing matches and ``MethodNotAllowed`` (with ``Allow``)
        when only other methods do.
        """
        path = scope["path"]
        if scope.get("root_path"):
            path = route_path(scope)
        pairs = self.static.get(path)
        if pairs is not None:
            found = pairs.get(scope["method"])
            if found is not None:
                return found
        if ("%" in path or "\ufffd" in path) and scope.get("raw_path"):
            # SECURITY: servers decode leniently; bad escapes or bytes are a 400 here.
            decode_path(scope["raw_path"])
        try:
            return self._search(scope["method"], path)
        except NotFound:
            answer = self._answer_options
            if path == "*" and scope["method"] == "OPTIONS" and answer is not None:
                # NOTE: RFC 9110 §9.3.7: 'OPTIONS *' asks about the server as a whole (the
                # guard lets '*' through with OPTIONS only): every method some route answers.
                served = dict.fromkeys(m for record in self.records for m in record.route.methods)
                _add_implicit_methods(served)
                return self._options_answer(set(served), answer)
            self._redirect_slash(scope, path)
            raise

    def _search(self, method: str, path: str) -> tuple[R, Mapping[str, Any]]:
        """Like :meth:`match`, for a path that is not a static route of ``method``."""
        parts = path.split("/")
        found = descend(self.root, parts, method)
        if found is not None:
            record, values = found
            return record, dict(zip(record.route.param_names, values))  # noqa: B905 - equal by construction
        allowed: set[str] = set(self.static.get(path, ()))
        search = Search[R](parts, method, allowed)
        searched = search.run(self.root)
        if searched is not None:
            return searched, dict(zip(searched.route.param_names, search.values))  # noqa: B905
        if not allowed:
            raise NotFound("no route matches this path", received={"path": path})
        # NOTE: the implicit OPTIONS answer (RFC 9110 section 9.3.7) lists the methods of
        # every route matching the path, static and dynamic alike, like a 405's Allow does.
        allowed.add("OPTIONS")
        if method == "OPTIONS" and self._answer_options is not None:
            return self._options_answer(allowed, self._answer_options)
        raise MethodNotAllowed(allowed)

    def _options_answer(self, allowed: set[str],
                        answer: AnswerOptions[R]) -> tuple[R, Mapping[str, Any]]:
        """The implicit ``OPTIONS`` answer listing ``allowed`` and ``OPTIONS`` itself, made
        by ``answer`` once per set of methods."""
        methods = tuple(sorted(allowed | {"OPTIONS"}))
        if methods not in self._options:
            self._options[methods] = answer(methods)
        return self._options[methods], _NO_PARAMS

    def _redirect_slash(self, scope: Scope, path: str) -> None:
        """Raise ``SlashRedirect`` if ``path`` with the slash added or removed has a route."""
        if self._redirect_status is None or path == "/":
            return
        other = path[:-1] if path.endswith("/") else path + "/"
        method = scope["method"]
        if method not in self.static.get(other, ()):
            try:
                self._search(method, other)
            except (NotFound, MethodNotAllowed):
                return
        # SECURITY: '//host' or '/\\host' would be read by browsers as another host.
        location = "/" + quote(scope.get("root_path", "") + other).lstrip("/\\")
        query = scope.get("query_string", b"")
        if query:
            location += "?" + query.decode("latin-1")
        raise SlashRedirect(location, self._redirect_status)

    def mount_for(self, path: str) -> Mount | None:
        """The mount whose prefix covers ``path``, if any."""
        for mount in self.mounts:
            if mount.matches(path):
                return mount
        return None


def _add_implicit_methods(methods: dict[str, Any]) -> None:
    """HEAD answers like GET (OPTIONS is answered by the table's search)."""
    if "GET" in methods and "HEAD" not in methods:
        methods["HEAD"] = methods["GET"]


def _add_implicit_to_tree(node: Node[Any]) -> None:
    if node.methods:
        _add_implicit_methods(node.methods)
    for child in node.static.values():
        _add_implicit_to_tree(child)
    for _, child in node.params:
        _add_implicit_to_tree(child)


class Router(Generic[R]):
    """The routes of one application: registration, conflict checks and the live table."""

    def __init__(self) -> None:
        self.converters: dict[str, type[Converter]] = dict(BUILTIN_CONVERTERS)
        self._routes: list[Route] = []
        self._mounts: list[Mount] = []
        self._by_shape: dict[tuple[object, ...], list[Route]] = {}
        self._records: dict[Route, R] = {}
        self.table: RouteTable[R] = RouteTable(())
        self._compile: Callable[[Route], R] | None = None
        self._answer_options: AnswerOptions[R] | None = None
        self._redirect_status: int | None = None

    @property
    def routes(self) -> tuple[Route, ...]:
        """Every route, in registration order."""
        return tuple(self._routes)

    @property
    def mounts(self) -> tuple[Mount, ...]:
        """Every mounted ASGI app, in registration order."""
        return tuple(self._mounts)

    @property
    def is_live(self) -> bool:
        """Whether the app serves: changes then rebuild and swap the table at once."""
        return self._compile is not None

    def compiled(self, route: Route) -> R:
        """The record ``route`` was compiled into (once the app serves)."""
        try:
            return self._records[route]
        except KeyError:
            raise SetupError(f"route {route.path!r} is not compiled: the app does not serve "
                             "yet, or the route was removed") from None

    def add(self, route: Route, *, replace: bool = False) -> Route:
        """Register ``route``; a route matching the same requests is an error unless ``replace``."""
        route.compile(self.converters)
        rivals = [
            other
            for other in self._by_shape.get(route.shape, ())
            if other.methods & route.methods
        ]
        if rivals and not replace:
            other = rivals[0]
            both = ", ".join(sorted(other.methods & route.methods))
            raise RouteConflictError(
                f"route {route.path!r} ({both}) defined at {route.source} conflicts with "
                f"{other.path!r} registered by {other.source}: both match the same requests; "
                "pass replace=True to replace it, or change one of the paths"
            )
        self._check_name(route, rivals)
        self._check_not_shadowed(route, self._mounts)
        if self._compile is not None:
            # Compile before changing anything: a handler that cannot be called
            # (SetupError) leaves the router exactly as it was.
            self._records[route] = self._compile(route)
        for other in rivals:
            self._discard(other)
        self._routes.append(route)
        self._by_shape.setdefault(route.shape, []).append(route)
        self._publish()
        return route

    def remove(self, name_or_route: str | Route) -> list[Route]:
        """Remove a route (or every route of a name); returns what was removed."""
        if isinstance(name_or_route, Route):
            doomed = [name_or_route] if name_or_route in self._routes else []
        else:
            doomed = [r for r in self._routes if r.name == name_or_route]
        if not doomed:
            known = ", ".join(sorted({r.name for r in self._routes})) or "none"
            raise URLBuildError(f"no route named {name_or_route!r} to remove; routes: {known}")
        for route in doomed:
            self._discard(route)
        self._publish()
        return doomed

    def mount(self, mount: Mount) -> None:
        """Serve an ASGI app under a prefix (the longest matching prefix wins)."""
        for other in self._mounts:
            if other.prefix == mount.prefix:
                raise RouteConflictError(
                    f"cannot mount {mount.source} at {mount.prefix!r}: {other.source} is already "
                    "mounted there; choose another prefix"
                )
        for route in self._routes:
            self._check_not_shadowed(route, [mount])
        self._mounts.append(mount)
        self._publish()

    def go_live(self, compile: Callable[[Route], R], *, answer_options: AnswerOptions[R],
                redirect_status: int | None) -> None:
        """Compile every route and publish the first table.

        The router only counts as live once every route compiled, so a
        failure here can be fixed and retried.
        """
        self._records = {route: compile(route) for route in self._routes}
        self._answer_options = answer_options
        self._redirect_status = redirect_status
        self._compile = compile
        self._swap()

    def url_path_for(self, name: str, params: Mapping[str, Any]) -> str:
        """The path of route ``name`` filled with ``params``."""
        candidates = [r for r in self._routes if r.name == name]
        if not candidates:
            raise URLBuildError(_unknown_name(name, [r.name for r in self._routes]))
        for route in candidates:
            if set(route.param_names) == set(params):
                return route.build_path(params)
        return candidates[0].build_path(params)

    def _check_name(self, route: Route, replaced: Collection[Route]) -> None:
        for other in self._routes:
            if other.name == route.name and other.handler is not route.handler and (
                other not in replaced
            ):
                raise SetupError(
                    f"route name {route.name!r} for {route.path!r} ({route.source}) is already "
                    f"used by {other.path!r} ({other.source}); pass name=... to tell them apart"
                )

    @staticmethod
    def _check_not_shadowed(route: Route, mounts: Iterable[Mount]) -> None:
        """Refuse a route that a mount would hide: mounts are matched before routes."""
        for mount in mounts:
            if list(route.segments[: mount.prefix.count("/")]) == mount.prefix[1:].split("/"):
                raise RouteConflictError(
                    f"route {route.path!r} ({route.source}) lies under {mount.prefix!r}, where "
                    f"{mount.source} is mounted, so it could never be reached; move the route "
                    "or the mount"
                )

    def _discard(self, route: Route) -> None:
        self._routes.remove(route)
        self._by_shape[route.shape].remove(route)
        self._records.pop(route, None)

    def _publish(self) -> None:
        """Swap in a new table once serving; before that, ``go_live`` builds the first."""
        if self._compile is not None:
            self._swap()

    def _swap(self) -> None:
        # NOTE: a single attribute assignment is atomic, so a request sees either the
        # old table or the new one, never a table under construction.
        records = [self._records[route] for route in self._routes]
        self.table = RouteTable(records, self._mounts, answer_options=self._answer_options,
                                redirect_status=self._redirect_status)


def _unknown_name(name: str, known: Collection[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    listing = ", ".join(sorted(set(known))) or "none"
    return f"no route named {name!r}.{hint} Known route names: {listing}"


def build_url(path: str, query: Mapping[str, Any] | None) -> str:
    """``path`` with ``query`` appended as a query string (lists repeat the key)."""
    if not query:
        return path
    return path + "?" + urlencode(query, doseq=True)
