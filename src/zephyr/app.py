"""The application: registration API, startup composition, and the ASGI entry point.

This is the composition root, the one module that knows every layer: at
startup it builds the security layer, the request services and each route's
endpoint record, and hands each part only what it needs.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar, cast

from zephyr._app_templates import AppTemplates
from zephyr._disconnect import DisconnectWatcher, watching
from zephyr._mounts import MountEndpoint
from zephyr._plan import DependencyOverrides
from zephyr._types import ASGIApp, Receive, Scope, Send
from zephyr.concurrency import make_thread_pool
from zephyr.config import Config
from zephyr.context import ContextProxy, request_var
from zephyr.converters import Converter
from zephyr.di import Depends
from zephyr.endpoints import HANDLER_ERROR, EndpointCompiler, RouteEndpoint
from zephyr.error_handlers import handle_exception
from zephyr.error_pages import ErrorPages
from zephyr.errors import ClientDisconnect, ContextError, SetupError, URLBuildError
from zephyr.lifespan import Lifespan, serve_lifespan
from zephyr.middleware import CallNext, adapt_teardown, compose, wrap_asgi
from zephyr.requests import BodyLimits, Request, RequestServices, State
from zephyr.responses import RedirectResponse, Response
from zephyr.routing import Mount, Route, Router, RouteTable, SlashRedirect, build_url, route_path
from zephyr.scaffold import Scaffold

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    from zephyr.compression import CompressionConfig
    from zephyr.openapi import OpenAPIConfig
    from zephyr.security.auth import AuthBackend
    from zephyr.security.layer import SecurityLayer
    from zephyr.security.sessions import SessionManager
    from zephyr.templating import Templates

__all__ = ["Zephyr", "current_app"]

logger = logging.getLogger("zephyr")
F = TypeVar("F", bound=Callable[..., Any])
# Set while the lifespan runs, so startup code can use ``current_app`` too.
app_var: ContextVar[Zephyr] = ContextVar("zephyr.app")


class Zephyr(Scaffold):
    """A Zephyr application: an ASGI 3 callable you register routes on.

    >>> app = Zephyr(__name__, debug=True)
    >>> @app.get("/")
    ... async def home():
    ...     return "<h1>Hello</h1>"

    Settings come from ``settings=`` (module name, ``.py``/``.toml`` file or
    mapping), ``ZEPHYR_*`` environment variables and keyword arguments, in
    that order of precedence (see :class:`~zephyr.config.Config`).

    As in Flask, ``template_folder`` and ``static_folder`` are relative to
    :attr:`root_path`, the folder of the module named by ``import_name``; a
    missing folder is no error until something is looked up in it. The static
    folder is served at ``static_url_path`` (default ``/`` + its name) when it
    exists; ``static_folder=None`` serves none.
    """

    def __init__(
        self,
        import_name: str = "zephyr",
        *,
        routes: Iterable[Route] = (),
        settings: str | Path | Mapping[str, Any] | None = None,
        dependencies: Iterable[Depends] = (),
        root_path: str | os.PathLike[str] | None = None,
        template_folder: str | None = "templates",
        static_folder: str | os.PathLike[str] | None = "static",
        static_url_path: str | None = None,
        **overrides: Any,
    ) -> None:
        self.router: Router[RouteEndpoint] = Router()
        #: The folder relative paths start from: the folder of the module ``import_name``.
        self.root_path = os.path.abspath(root_path if root_path is not None
                                         else _root_path_of(import_name))
        super().__init__(dependencies=dependencies, template_folder=template_folder)
        self.import_name = import_name
        #: The URL path the static folder is served under (default: ``/`` + its name).
        self.static_url_path = static_url_path
        self.config = Config(settings=settings, overrides=overrides)
        self.state = State()
        self.executor: ThreadPoolExecutor | None = None
        self.body_limits = BodyLimits()
        self._services = RequestServices(app=self, url_for=self.url_for,
                                         static_url=self.static_url)
        self._asgi_layers: list[tuple[Callable[..., Any], dict[str, Any]]] = []
        self._life = Lifespan()
        self._teardown: list[Callable[[Request, BaseException | None], Any]] = []
        self._handle: CallNext | None = None
        self._asgi: ASGIApp = self._first_call
        self._direct_http = False
        self._error_pages = ErrorPages()
        self._openapi_installed = False
        #: Security features decided at startup (see zephyr.security.layer).
        self.security: SecurityLayer | None = None
        #: Authentication backends tried for every route (routes and groups may set ``auth=``).
        self.auth_backends: list[AuthBackend] = []
        #: Replacements for dependencies, for tests: ``app.dependency_overrides[get_db] = fake``.
        self.dependency_overrides = DependencyOverrides()
        self._openapi_config: OpenAPIConfig | None = None
        # Each mount compiled for serving (once the security layer exists).
        self._mounted: dict[Mount, MountEndpoint] = {}
        self._templates = AppTemplates(self, self.config, url_for=self.url_for,
                                       static_url=self.static_url, lineage_of=self._lineage_of)
        self._compression: CompressionConfig | None = None
        for route in routes:
            self.add_route(route)
        #: The app's own static folder (``None``: it serves none).
        self.static_folder = static_folder
        if static_folder is not None:
            folder = os.path.join(self.root_path, static_folder)
            # A missing default folder serves nothing: an API needs none.
            if os.path.isdir(folder):
                url = static_url_path
                self.static("/" + os.path.basename(os.path.normpath(folder)) if url is None
                            else url.rstrip("/"), folder, name="static")

    @property
    def debug(self) -> bool:
        """Whether debug mode is on (``DEBUG`` setting)."""
        return bool(self.config["DEBUG"])

    @property
    def openapi_config(self) -> OpenAPIConfig:
        """What the OpenAPI document says and where it is served (see zephyr.openapi)."""
        if self._openapi_config is None:
            # NOTE: zephyr.openapi loads when an app first asks for its OpenAPI settings.
            from zephyr.openapi import OpenAPIConfig

            self._openapi_config = OpenAPIConfig()
        return self._openapi_config

    @openapi_config.setter
    def openapi_config(self, config: OpenAPIConfig) -> None:
        self._openapi_config = config

    @property
    def templates(self) -> Templates:
        """The app's templates (its Jinja2 environment): ``app.templates.render(name, **ctx)``.

        Built from the settings in force when first used: at startup when the app
        has a template folder or template registrations, else at the first render.
        """
        return self._templates.get()

    @property
    def sessions(self) -> SessionManager | None:
        """How sessions are loaded and saved (set when the app starts serving)."""
        return self.security.sessions if self.security is not None else None

    @property
    def routes(self) -> tuple[Route, ...]:
        """Every route with its name, methods, path, handler and source location."""
        return self.router.routes

    # -- registration beyond the shared scaffold ----------------------------------------

    def add_converter(self, name: str, converter: type[Converter]) -> None:
        """Make ``<name:param>`` / ``{param:name}`` available in route paths."""
        if not (isinstance(converter, type) and issubclass(converter, Converter)):
            raise SetupError(f"converter {name!r} must be a subclass of zephyr.Converter")
        self.router.converters[name] = converter

    def remove_route(self, name_or_route: str | Route) -> list[Route]:
        """Remove routes by name (or one route), also while serving."""
        removed = self.router.remove(name_or_route)
        for route in removed:
            self.registered_by.pop(route, None)
        return removed

    def mount(self, prefix: str, app: ASGIApp, *, name: str | None = None,
              csrf: bool | None = None) -> None:
        """Serve any ASGI app under ``prefix``; it sees ``root_path`` = the prefix.

        Mounted apps are matched before ``@app.middleware`` runs; ASGI
        middleware added with :meth:`add_asgi_middleware` wraps them too. They are
        behind the app's request guard, CSRF check (``csrf=`` turns it on or off
        for this mount; the ``CSRF`` setting by default) and ``RATE_LIMITS``
        prefixes, and get its security headers.
        """
        mount = Mount(prefix, app, name=name, csrf=csrf)
        if self.security is not None:  # serving: compiled before the table shows it
            self._mounted[mount] = MountEndpoint(mount, self.security, self._answer_error)
        try:
            self.router.mount(mount)
        except BaseException:
            self._mounted.pop(mount, None)
            raise

    def add_asgi_middleware(self, cls: Callable[..., Any], /, **options: Any) -> None:
        """Wrap the whole app in an ASGI middleware: ``cls(app, **options)``."""
        self._refuse_when_live("add ASGI middleware")
        if not callable(cls):
            raise SetupError(f"{cls!r} is not an ASGI middleware class or factory")
        self._asgi_layers.append((cls, options))

    def on_startup(self, fn: F) -> F:
        """Run ``fn()`` (sync or async) when the server starts, after lifespan contexts."""
        self._refuse_when_live("add a startup function")
        self._life.add_startup(fn)
        return fn

    def on_shutdown(self, fn: F) -> F:
        """Run ``fn()`` (sync or async) when the server stops, before lifespan contexts exit."""
        self._refuse_when_live("add a shutdown function")
        self._life.add_shutdown(fn)
        return fn

    def lifespan(self, factory: F) -> F:
        """Enter an async context manager around the app's life: ``factory(app)`` or ``factory()``.

        Several run in registration order and exit in reverse. A mapping
        yielded by one is added to the lifespan state (``request.state``).
        """
        self._refuse_when_live("add a lifespan")
        self._life.add_context(factory)
        return factory

    def teardown_request(self, fn: F) -> F:
        """Run ``fn(exc)`` or ``fn(request, exc)`` after every response is sent."""
        self._refuse_when_live("add a teardown_request hook")
        self._teardown.append(adapt_teardown(fn))
        return fn

    def url_for(self, name: str, /, *, _query: Mapping[str, Any] | None = None,
                **params: Any) -> str:
        """The path of route ``name`` with ``params`` filled in (and ``_query`` appended)."""
        return build_url(self.router.url_path_for(name, params), _query)

    def static_url(self, filename: str, /, *, folder: str | None = None) -> str:
        """The URL of a static file with its content hash: ``/static/app.3f2a9c1e.css``.

        ``filename`` is a path inside the folder; ``folder`` names a folder
        registered with ``app.static(..., name=...)`` (default: the app's own).
        Such URLs are cached for a year: a changed file gets a new hash.
        """
        name = folder or "static"
        files = self.static_folders.get(name)
        if files is None:
            known = ", ".join(sorted(self.static_folders)) or "none"
            raise URLBuildError(
                f"static_url: no static folder named {name!r} (folders: {known}); create the "
                "app's 'static' folder or register one with app.static(prefix, folder)")
        return self.url_for(name, filename=files.url_path(filename))

    def run(self, host: str | None = None, port: int | None = None, *, reload: bool = False,
            workers: int = 1, server: str | None = None, **options: Any) -> None:
        """Serve the app (uvicorn, or granian with ``server="granian"``).

        ``host`` and ``port`` default to the ``HOST`` and ``PORT`` settings. A port
        another process holds ends the process with one line saying how to pick another.
        """
        from zephyr.server import listen_address, refuse_busy_port, serve

        host, port, how = listen_address(self.config, host, port)
        if "uds" not in options and "fd" not in options:  # else uvicorn binds no port
            refuse_busy_port(host, port, how=how)
        serve(self, host=host, port=port, reload=reload, workers=workers,
              server=server or self.config["SERVER"], **options)

    # -- startup composition --------------------------------------------------------

    def _go_live(self) -> None:
        """Decide everything that can be decided before the first request."""
        if self.router.is_live:
            if self.executor is None:
                self.executor = make_thread_pool(self.config["THREAD_POOL_SIZE"])
            return
        config = self.config
        config.freeze()
        for warning in config.environment_warnings():
            logger.warning(warning)
        # NOTE: the security package is imported when the app starts serving, not with
        # Zephyr. First: an unsafe configuration refuses to start before anything is created.
        from zephyr.security.layer import SecurityLayer

        self.security = security = SecurityLayer(config, auth_backends=self.auth_backends,
                                                 url_for=self.url_for)
        self._mounted = {mount: MountEndpoint(mount, security, self._answer_error)
                         for mount in self.router.mounts}
        if config["COMPRESSION"]:
            # NOTE: compression is a deferred feature: imported when the setting turns it on.
            from zephyr.compression import CompressionConfig

            self._compression = CompressionConfig.from_setting(config["COMPRESSION"])
        for files in self.static_folders.values():
            files.start(max_age=config["STATIC_MAX_AGE"], debug=config["DEBUG"],
                        compression=self._compression)
        if self.executor is None:
            self.executor = make_thread_pool(config["THREAD_POOL_SIZE"])
        self.body_limits = BodyLimits(
            json=config["MAX_JSON_SIZE"], form=config["MAX_FORM_SIZE"],
            multipart=config["MAX_MULTIPART_SIZE"], other=config["MAX_BODY_SIZE"],
            max_fields=config["MULTIPART_MAX_FIELDS"], max_files=config["MULTIPART_MAX_FILES"],
            spool_size=config["MULTIPART_SPOOL_SIZE"], timeout=config["BODY_TIMEOUT"],
            idle_timeout=config["BODY_IDLE_TIMEOUT"],
        )
        if self._templates.is_wanted():
            self._templates.get()  # now, not in the first request
        self._services = RequestServices(app=self, limits=self.body_limits,
                                         sessions=security.sessions, url_for=self.url_for,
                                         templates=lambda: self.templates,
                                         static_url=self.static_url)
        debug_page = None
        if config["DEBUG"]:
            # NOTE: the debug page is a deferred feature: imported in debug mode only.
            from zephyr.dev.debug_page import DebugPage

            debug_page = DebugPage(config)
        built = self._templates.built
        templates = built.render_first if built is not None else None
        self._error_pages = ErrorPages(templates=templates, debug=debug_page)
        if self._middleware:
            self._handle = watching(compose(self._middleware, self._route))
        openapi = config["OPENAPI"]
        if (config["DEBUG"] if openapi is None else openapi) and not self._openapi_installed:
            # NOTE: the OpenAPI pages are a deferred feature: imported when they are served.
            from zephyr.openapi.pages import install

            install(self, self.router, self.openapi_config, config["SESSION_COOKIE_NAME"])
            self._openapi_installed = True
        compiler = EndpointCompiler(security=security, limits=self.body_limits,
                                    overrides=self.dependency_overrides,
                                    lineage_of=self._lineage_of, config=config,
                                    match=self._match, pages=self._error_pages)
        redirect = config["REDIRECT_STATUS"] if config["REDIRECT_SLASHES"] else None
        self.router.go_live(compiler.compile, answer_options=compiler.answer_options,
                            redirect_status=redirect)
        self._direct_http = not self._asgi_layers and self._compression is None
        if self._asgi != self._first_call:  # composed by the lifespan's first call: again
            self._asgi = self._compose_asgi()

    def _match(self, scope: Scope) -> tuple[RouteEndpoint, Mapping[str, Any]]:
        """The record of the live route table for the request of ``scope`` (or the HTTP error)."""
        return self.router.table.match(scope)

    def _lineage_of(self, route: Route) -> Sequence[Scaffold]:
        """The app and the groups ``route`` was registered through, outermost first."""
        return self.registered_by.get(route, self).lineage()

    def _template_registered(self) -> None:
        self._templates.registered()

    # -- lifespan ---------------------------------------------------------------------

    async def startup(self, state: dict[str, Any] | None = None) -> None:
        """Compose the app, then enter lifespan contexts and run startup functions."""
        self._go_live()
        token = app_var.set(self)
        try:
            await self._life.enter(self, state)
        finally:
            app_var.reset(token)
        if self.config["GC_FREEZE"]:
            # PERF: what exists now (modules, routes, plans) lives as long as the process;
            # out of the collector's sight, full collections stop pausing the loop for ~10 ms
            # (p99 under wrk: 11 ms -> 3.3 ms; see bench/RESULTS.md).
            gc.freeze()

    async def shutdown(self) -> None:
        """Run shutdown functions, exit lifespan contexts (in reverse), stop the pool."""
        token = app_var.set(self)
        try:
            await self._life.exit()
            if self.security is not None:
                await self.security.close()
        finally:
            app_var.reset(token)
            if self.executor is not None:
                self.executor.shutdown(wait=False, cancel_futures=True)
                self.executor = None
            if self.config["GC_FREEZE"]:
                gc.unfreeze()

    # -- ASGI -------------------------------------------------------------------------

    async def __call__(  # noqa: C901 - PERF: the whole request path in one frame
        self, scope: Scope, receive: Receive, send: Send, *, _inner: bool = False
    ) -> None:
        """The ASGI entry point (``_inner`` marks the call back from ASGI middleware).

        guard -> ``table.match`` -> the route's endpoint -> ``security.finish`` -> send
        -> cleanups and teardown.
        """
        # PERF: HTTP without ASGI middleware is handled right here, one frame deep.
        if scope["type"] != "http" or not (self._direct_http or _inner):
            await self._asgi(scope, receive, send)
            return
        table = self.router.table
        if table.mounts and await self._call_mount(table, scope, receive, send):
            return
        request = Request(scope, receive, self._services)
        token = request_var.set(request)
        security = self.security
        error: BaseException | None = None
        try:
            try:
                if security is not None:
                    security.guard.check(scope)
                if self._handle is None:
                    record, request.path_params = table.match(scope)
                    request.route = record.route
                    request.limits = record.limits
                    response = await record.endpoint(request)
                else:
                    response = await self._handle(request)
            except ClientDisconnect:
                raise
            except Exception as exc:
                response = await self._answer_error(request, exc)
            if security is not None:
                saving = security.finish(request, response)
                if saving is not None:
                    await saving
            if response.streams:
                DisconnectWatcher.arm(request)  # an endless stream stops when its client leaves
                await response(scope, receive, send)
            else:
                # PERF: complete responses are sent here, without another coroutine.
                start, body = response.messages(scope)
                await send(start)
                await send(body)
            if request.watcher is not None:
                # Before background tasks: the server reports the finished
                # response as a disconnect, which must not cancel them.
                request.watcher.stop()
            if response.tasks is not None:
                await response.run_tasks()
        except ClientDisconnect as exc:
            error = exc
        except asyncio.CancelledError as exc:
            if not DisconnectWatcher.absorb(request):
                error = exc
                raise
            error = ClientDisconnect("the client disconnected; the handler was cancelled")
            logger.debug("client disconnected during %s %s", scope["method"], scope["path"])
        except BaseException as exc:
            error = exc
            raise
        finally:
            if request.watcher is not None:
                request.watcher.stop()
            try:
                if self._teardown or request.cleanups is not None:
                    # Teardown hooks see the unhandled exception, like Flask's.
                    await self._finish(request, error or scope.get("zephyr.exception"))
            finally:
                request_var.reset(token)

    async def _first_call(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The first ASGI call of any kind: wrap the app in its ASGI middleware.

        Routes are composed by the lifespan startup (so a mistake fails the
        startup with its message) or, without a lifespan, by the first request.
        """
        if scope["type"] == "http" and not self.router.is_live:
            self._go_live()
        self._asgi = self._compose_asgi()
        await self._asgi(scope, receive, send)

    def _compose_asgi(self) -> ASGIApp:
        """The app inside its ASGI middleware, and compression (when on) outside them all."""
        app = wrap_asgi(self._dispatch, self._asgi_layers)
        if self._compression is not None:
            from zephyr.compression import CompressionMiddleware  # NOTE: loaded by _go_live

            app = CompressionMiddleware(app, self._compression)
        return app

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Every scope type; what ASGI middleware wraps."""
        kind = scope["type"]
        if kind == "http":
            if not self.router.is_live:
                self._go_live()
            await self(scope, receive, send, _inner=True)
        elif kind == "lifespan":
            await serve_lifespan(scope, receive, send, startup=self.startup,
                                 shutdown=self.shutdown)
        elif kind == "websocket":
            # WebSocket routes come with their own feature; until then refuse cleanly.
            await receive()
            await send({"type": "websocket.close", "code": 1000,
                        "reason": "this app serves no WebSocket routes"})

    async def _call_mount(self, table: RouteTable[RouteEndpoint], scope: Scope, receive: Receive,
                          send: Send) -> bool:
        mount = table.mount_for(route_path(scope))
        if mount is None:
            return False
        await self._mounted[mount](scope, receive, send, self._services)
        return True

    async def _finish(self, request: Request, error: BaseException | None) -> None:
        """After the response: cleanups (yield dependencies, uploads), then teardown hooks."""
        await request.run_cleanups(request.scope.get(HANDLER_ERROR) or error)
        for hook in self._teardown:
            try:
                await hook(request, error)
            except Exception:
                logger.exception("teardown_request hook failed")

    async def _answer_error(self, request: Request, exc: Exception) -> Response:
        """The response to an exception raised outside any route (routing, app middleware)."""
        if isinstance(exc, SlashRedirect):
            return RedirectResponse(exc.location, exc.redirect_status)
        return await handle_exception(request, exc, (self.error_handlers,),
                                      pages=self._error_pages)

    async def _route(self, request: Request) -> Response:
        """The innermost step of the app middleware chain (so it sees 404s as responses)."""
        try:
            record, request.path_params = self.router.table.match(request.scope)
        except Exception as exc:
            return await self._answer_error(request, exc)
        request.route = record.route
        request.limits = record.limits
        return await record.endpoint(request)

    def __repr__(self) -> str:
        return f"<Zephyr {self.import_name!r} routes={len(self.router.routes)}>"


def _root_path_of(import_name: str) -> str:
    """The folder of module ``import_name`` (like Flask), else the working directory."""
    # The default name ("zephyr", no import_name given) names the framework, not the app.
    if import_name == "zephyr":
        return os.getcwd()
    module = sys.modules.get(import_name)
    path = getattr(module, "__file__", None)
    if path is None and module is None:
        # NOTE: importlib.util loads only for an app named after a module not imported yet.
        import importlib.util

        try:
            spec = importlib.util.find_spec(import_name)
        except (ImportError, ValueError):
            spec = None
        path = spec.origin if spec is not None and spec.has_location else None
    return os.path.dirname(os.path.abspath(path)) if path else os.getcwd()


def _current_app() -> Zephyr:
    try:
        app = request_var.get().app
    except LookupError:
        app = None
    if app is None:
        try:
            return app_var.get()
        except LookupError:
            raise ContextError(
                "'current_app' is only available while a request or the app's lifespan "
                "runs; import your app object instead"
            ) from None
    return cast("Zephyr", app)


#: The app handling the current request (or running its lifespan).
current_app = cast("Zephyr", ContextProxy(_current_app, "current_app"))
