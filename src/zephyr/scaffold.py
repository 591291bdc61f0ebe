"""The registration API shared by the app and its groups: route decorators, hooks, handlers,
and what templates are built from (folders, context processors, filters, components).

``Zephyr`` and ``Group`` are both a :class:`Scaffold`; a group adds a path
prefix, a name prefix and its own middleware, hooks, error handlers, template
folder and context processors to the routes registered through it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from zephyr._route import SECURITY_OPTIONS, EndpointRoute, Route
from zephyr.controllers import controller_routes
from zephyr.di import Depends
from zephyr.error_handlers import ErrorHandlerMap, ErrorKey
from zephyr.errors import SetupError
from zephyr.middleware import (
    AfterHook,
    BeforeHook,
    Middleware,
    adapt_after,
    adapt_before,
    check_middleware,
)
from zephyr.models import require_model
from zephyr.routing import Router

if TYPE_CHECKING:
    from zephyr.components import Component
    from zephyr.staticfiles import StaticFiles

__all__ = ["Group", "Scaffold"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


class Scaffold:
    """Where routes, middleware, hooks and error handlers are registered.

    The app is the root scaffold (it owns the router); each group hangs below
    the scaffold it was made from.
    """

    #: The routes of the whole app (the root scaffold's router, shared by its groups).
    router: Router[Any]
    #: The folder relative paths start from (the app's; see ``Zephyr.root_path``).
    root_path: str

    def __init__(self, root: Scaffold | None = None, *, prefix: str = "",
                 name: str | None = None, middleware: Sequence[Middleware] = (),
                 dependencies: Iterable[Depends] = (),
                 options: Mapping[str, Any] | None = None,
                 template_folder: str | None = None) -> None:
        _check_prefix("group", prefix)
        self._root = root or self
        if root is not None:
            self.router = root.router
        #: The scaffold each route was registered through (the root's map, shared).
        self.registered_by: dict[Route, Scaffold] = (
            root.registered_by if root is not None else {})
        #: Templates searched first by this scaffold's handlers (relative to ``root_path``).
        self.template_folder = template_folder
        #: ``fn() -> dict`` adding to the templates this scaffold's handlers render.
        self.context_processors: list[Callable[[], Mapping[str, Any]]] = []
        # The app's filters, tests, globals and components (the root's, shared).
        self.template_filters: dict[str, Callable[..., Any]] = (
            root.template_filters if root is not None else {})
        self.template_tests: dict[str, Callable[..., Any]] = (
            root.template_tests if root is not None else {})
        self.template_globals: dict[str, Any] = root.template_globals if root is not None else {}
        self.components: dict[str, Component] = root.components if root is not None else {}
        #: Every static folder of the app by its route's name (the root's map, shared).
        self.static_folders: dict[str, StaticFiles] = (
            root.static_folders if root is not None else {})
        if root is not None:
            self.root_path = root.root_path
        self.prefix = prefix
        self.name = name
        self.parent: Scaffold | None = None
        self._middleware: list[Middleware] = []
        self._before: list[BeforeHook] = []
        self._after: list[AfterHook] = []
        self.error_handlers = ErrorHandlerMap()
        #: Dependencies run before every handler registered here (values discarded).
        self.dependencies: list[Depends] = [_check_depends(d) for d in dependencies]
        #: Options for every route registered here: security (``csrf``, ``limits``, ``auth``...)
        #: and ``error_model`` (the error body the OpenAPI document shows).
        self.options: dict[str, Any] = _check_group_options(prefix, options or {})
        for mw in middleware:
            self._add_middleware(mw)

    @property
    def app(self) -> Scaffold:
        """The application this scaffold belongs to (the root scaffold)."""
        return self._root

    @property
    def registered_middleware(self) -> tuple[Middleware, ...]:
        """The ``(request, call_next)`` middleware registered here, in order."""
        return tuple(self._middleware)

    @property
    def before_hooks(self) -> tuple[BeforeHook, ...]:
        """The ``before_request`` hooks registered here, adapted, in order."""
        return tuple(self._before)

    @property
    def after_hooks(self) -> tuple[AfterHook, ...]:
        """The ``after_request`` hooks registered here, adapted, in order."""
        return tuple(self._after)

    @property
    def template_path(self) -> str | None:
        """The absolute path of this scaffold's template folder (``None``: it has none)."""
        if self.template_folder is None:
            return None
        return os.path.join(self._root.root_path, self.template_folder)

    @property
    def counter_name(self) -> str:
        """The name the rate-limit counters of this scaffold's ``limits=`` are kept under."""
        return f"group:{self._full_prefix()}"

    # -- routes -----------------------------------------------------------------

    def route(
        self,
        path: str,
        *,
        methods: Iterable[str] = ("GET",),
        name: str | None = None,
        status_code: int = 200,
        middleware: Sequence[Middleware] = (),
        replace: bool = False,
        **options: Any,
    ) -> Callable[[F], F]:
        """Register the decorated function for ``path`` and ``methods``.

        ``name`` (default: the function's name) is what ``url_for`` uses;
        ``replace=True`` replaces a route that matches the same requests.
        Other options: ``max_body_size=`` (body limit for this route),
        ``dependencies=[Depends(...)]`` (run first, values discarded),
        ``response_model=`` (default: the return annotation when it is a
        model; ``None`` turns it off), ``response_class=``, and for the
        OpenAPI schema ``tags``, ``summary``, ``description``,
        ``deprecated``, ``include_in_schema``, ``responses`` and ``operation_id``.
        """

        def decorator(handler: F) -> F:
            self.add_route(path, handler, methods=methods, name=name, status_code=status_code,
                           middleware=middleware, replace=replace, **options)
            return handler

        return decorator

    def get(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register a ``GET`` handler (``HEAD`` is answered by it too)."""
        return self.route(path, methods=("GET",), **options)

    def post(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register a ``POST`` handler."""
        return self.route(path, methods=("POST",), **options)

    def put(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register a ``PUT`` handler."""
        return self.route(path, methods=("PUT",), **options)

    def patch(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register a ``PATCH`` handler."""
        return self.route(path, methods=("PATCH",), **options)

    def delete(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register a ``DELETE`` handler."""
        return self.route(path, methods=("DELETE",), **options)

    def add_route(
        self,
        path: str | Route,
        handler: Callable[..., Any] | None = None,
        *,
        methods: Iterable[str] = ("GET",),
        name: str | None = None,
        replace: bool = False,
        **options: Any,
    ) -> Route:
        """Register a route without a decorator: ``add_route("/x", fn)`` or ``add_route(Route())``.

        Works while the app is serving too: the route table is rebuilt and
        swapped in atomically.
        """
        if isinstance(path, Route):
            route = path
            if handler is not None:
                raise SetupError("add_route(Route(...)) takes no separate handler")
        else:
            if handler is None:
                raise SetupError(f"add_route({path!r}) needs a handler")
            route = Route(path, handler, methods=methods, name=name, **options)
        for mw in route.options.get("middleware", ()):
            check_middleware(mw)
        for marker in route.options.get("dependencies", ()):
            _check_depends(marker)
        route.path = self._full_prefix() + route.path
        if self._name_prefix():
            route.name = self._name_prefix() + route.name
        self.registered_by[route] = self
        try:
            return self.router.add(route, replace=replace)
        except BaseException:
            del self.registered_by[route]
            raise

    def static(self, prefix: str, folder: str | os.PathLike[str], *,
               name: str | None = None) -> Route:
        """Serve the files under ``folder`` at ``prefix``: ``app.static("/assets", "assets")``.

        A relative ``folder`` starts at the app's ``root_path``. Files are served
        with ``ETag`` and ``Last-Modified`` (304 answers), byte ranges and their
        precompressed ``.br``/``.gz`` siblings, never a session or an auth backend;
        ``static_url(filename, folder=name)`` gives their hashed URLs. ``name``
        (default: the prefix without slashes, like ``"assets"``) names the route.
        """
        self._refuse_when_live("add a static folder")
        _check_prefix("static", prefix)
        path = os.path.join(self.root_path, os.fspath(folder))
        if not os.path.isdir(path):
            raise SetupError(
                f"static folder {path!r} (for {prefix or '/'!r}) is not a directory; create it "
                f"or fix the path (a relative one starts at the app's root_path, "
                f"{self.root_path!r})")
        # NOTE: static files are a deferred feature: loaded with the first static folder.
        from zephyr.staticfiles import StaticFiles

        files = StaticFiles(path)
        route = self.add_route(EndpointRoute(
            f"{prefix}/<path:filename>", files, methods=["GET"], known_values=files.known_names,
            name=name or prefix.strip("/").replace("/", ".") or "static",
            include_in_schema=False))
        self.static_folders[route.name] = files
        return route

    def group(self, prefix: str, *, middleware: Sequence[Middleware] = (),
              name: str | None = None, dependencies: Iterable[Depends] = (),
              template_folder: str | None = None, **options: Any) -> Group:
        """A group of routes under ``prefix`` with its own middleware, hooks and errors.

        ``dependencies`` run before every handler of the group; ``name`` also
        tags the group's operations in the OpenAPI schema; the templates the
        group's handlers render are looked up in ``template_folder`` (relative
        to the app's ``root_path``) first. Security options (``csrf=False``,
        ``limits=[...]``, ``auth=[...]``, ``permissions=[...]``,
        ``security_headers={...}``, ``timeout=``, ``body_timeout=``,
        ``body_idle_timeout=``, ``cors=``) apply to every route of the group unless a route sets its
        own. ``error_model=``
        is the body the OpenAPI document shows for the group's error responses
        (``None``: problem+json), over the app's ``OpenAPIConfig.error_model``.
        """
        group = Group(self._root, prefix=prefix, middleware=middleware, name=name,
                      dependencies=dependencies, options=options,
                      template_folder=template_folder)
        group.parent = self
        return group

    def mount_controller(self, prefix: str, controller: object) -> list[Route]:
        """Turn a controller's public methods into routes by their names.

        ``get_index`` answers ``GET <prefix>``, ``post_checkout`` answers
        ``POST <prefix>/checkout`` and ``get_order_history`` answers
        ``GET <prefix>/order-history``. Parameters without a default become
        path segments (typed by their annotations), ``request`` is the
        request, and parameters with defaults come from the query string.
        """
        _check_prefix("controller", prefix)
        return [self.add_route(path, method, methods=[verb], name=name)
                for path, method, verb, name in controller_routes(prefix, controller)]

    # -- middleware, hooks, error handlers --------------------------------------------

    def middleware(self, fn: F) -> F:
        """Register ``async def fn(request, call_next)`` around this scaffold's requests."""
        self._add_middleware(fn)
        return fn

    def _add_middleware(self, fn: Any) -> None:
        self._refuse_when_live("add middleware")
        check_middleware(fn)
        self._middleware.append(fn)

    def before_request(self, fn: F) -> F:
        """Run ``fn()`` or ``fn(request)`` before each handler; a non-None result answers."""
        self._refuse_when_live("add a before_request hook")
        self._before.append(adapt_before(fn))
        return fn

    def after_request(self, fn: F) -> F:
        """Run ``fn(response)`` or ``fn(request, response)`` after each handler."""
        self._refuse_when_live("add an after_request hook")
        self._after.append(adapt_after(fn))
        return fn

    def errorhandler(self, key: ErrorKey) -> Callable[[F], F]:
        """Handle a status code (``404``) or an exception class.

        The handler takes ``(exc)`` or ``(request, exc)`` and returns anything
        a route handler may return.
        """

        def decorator(fn: F) -> F:
            self._refuse_when_live("add an error handler")
            self.error_handlers.add(key, fn)
            return fn

        return decorator

    # -- templates ------------------------------------------------------------------

    def context_processor(self, fn: F) -> F:
        """Add what ``fn()`` returns (a dict) to every template rendered while a handler
        registered here runs (the app's: every handler's)."""
        self._refuse_when_live("add a context processor")
        self.context_processors.append(_check_callable("context_processor", fn))
        return fn

    def template_filter(self, name: str | None = None) -> Callable[[F], F]:
        """Register a Jinja2 filter: ``@app.template_filter()`` (named after the function)."""
        return self._template_item("filter", self.template_filters, name)

    def template_test(self, name: str | None = None) -> Callable[[F], F]:
        """Register a Jinja2 test (``{% if n is even %}``): ``@app.template_test()``."""
        return self._template_item("test", self.template_tests, name)

    def template_global(self, name: str | None = None) -> Callable[[F], F]:
        """Register a function every template can call: ``@app.template_global()``."""
        return self._template_item("global", self.template_globals, name)

    def _template_item(self, kind: str, registry: dict[str, Any],
                       name: str | None) -> Callable[[F], F]:
        if callable(name):
            raise SetupError(f"write @app.template_{kind}() with parentheses, or "
                             f"@app.template_{kind}('name')")

        def register(fn: F) -> F:
            self._refuse_when_live(f"add a template {kind}")
            registry[name or fn.__name__] = _check_callable(f"template_{kind}", fn)
            self._root._template_registered()
            return fn

        return register

    def component(self, name: str, *, template: str | None = None,
                  endpoint: str | None = None) -> Callable[[T], T]:
        """Register a server-side component (see :mod:`zephyr.components`).

        The decorated function (its parameters are the props), msgspec Struct
        or dataclass (its fields are) renders ``template``; a function without
        one returns its HTML. ``endpoint="/components/x"`` also registers a GET
        route (named ``component.<name>``) rendering it from the query string.
        """

        def register(target: T) -> T:
            self._refuse_when_live("add a component")
            if name in self.components:
                raise SetupError(f"component {name!r} is already registered; pick another name")
            # NOTE: components (and Jinja2) load with the first component an app registers.
            from zephyr.components import Component

            component = Component(name, target, template=template)
            if endpoint is not None:
                self.add_route(endpoint, component.endpoint(), name=f"component.{name}",
                               include_in_schema=False)
            self.components[name] = component
            return target

        return register

    def _template_registered(self) -> None:
        """Called on the app when a template filter, test or global is registered."""

    # -- helpers for composition ---------------------------------------------------

    def lineage(self) -> list[Scaffold]:
        """This scaffold and its parents, the app first."""
        chain: list[Scaffold] = []
        node: Scaffold | None = self
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain[::-1]

    def _full_prefix(self) -> str:
        return "".join(s.prefix for s in self.lineage())

    def _name_prefix(self) -> str:
        return "".join(f"{s.name}." for s in self.lineage() if s.name and isinstance(s, Group))

    def _refuse_when_live(self, what: str) -> None:
        if self.router.is_live:
            raise SetupError(
                f"cannot {what} after the app has started serving: chains are composed once "
                "at startup; register it at import time, before the server starts"
            )


class Group(Scaffold):
    """Routes under a common prefix: ``api = app.group("/api", middleware=[...])``."""

    def __init__(self, root: Scaffold, *, prefix: str, middleware: Sequence[Middleware] = (),
                 name: str | None = None, dependencies: Iterable[Depends] = (),
                 options: Mapping[str, Any] | None = None,
                 template_folder: str | None = None) -> None:
        super().__init__(root, prefix=prefix, name=name, middleware=middleware,
                         dependencies=dependencies, options=options,
                         template_folder=template_folder)

    def __repr__(self) -> str:
        return f"<Group {self._full_prefix()!r} name={self.name!r}>"


# The security options, and the body the OpenAPI document shows for the group's errors.
_GROUP_OPTIONS = SECURITY_OPTIONS | {"error_model"}


def _check_callable(what: str, fn: F) -> F:
    if not callable(fn):
        raise SetupError(f"{what} registers a function, not {fn!r}")
    return fn


def _check_depends(marker: Any) -> Depends:
    if not isinstance(marker, Depends):
        raise SetupError(f"dependencies=[...] takes Depends(fn) markers, not {marker!r}")
    return marker


def _check_group_options(prefix: str, options: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(options) - _GROUP_OPTIONS)
    if unknown:
        raise SetupError(
            f"group {prefix!r} got unknown option {unknown[0]!r} "
            f"(options: {', '.join(sorted(_GROUP_OPTIONS))})"
        )
    if options.get("error_model") is not None:
        require_model(options["error_model"], f"group {prefix!r}: error_model")
    return dict(options)


def _check_prefix(kind: str, prefix: str) -> None:
    if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
        raise SetupError(
            f"{kind} prefix {prefix!r} must start with '/' and not end with one, like '/api'"
        )
