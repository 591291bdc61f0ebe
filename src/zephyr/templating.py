"""Templates: an app's Jinja2 environment, and ``render_template`` & co. for handlers.

:class:`Templates` (``app.templates``) wraps the one environment an app builds
from its settings, template folders and registries. Handlers reach it through
their request, which the app hands it. A group with its own template folder
renders through an overlay of that environment which searches the group's
folder first. Jinja2 loads with this module, when an app first needs templates.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol, cast

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import LRUCache

from zephyr._template_blocks import ParentBlocks
from zephyr._template_context import prepare_for_streaming, template_globals, tojson
from zephyr._template_errors import (
    BlockNotFoundError,
    TemplateError,
    TemplateNotFound,
    TemplateSecurityError,
    TemplateSyntaxError,
    reraise,
)
from zephyr._template_loader import FolderLoader
from zephyr.context import current_request, request_var
from zephyr.errors import ContextError
from zephyr.htmx import FRAGMENT_VARY
from zephyr.responses import HeadersInit, HTMLResponse, StreamingResponse

__all__ = [
    "BlockNotFoundError",
    "TemplateConfig",
    "TemplateError",
    "TemplateNotFound",
    "TemplateRegistry",
    "TemplateSecurityError",
    "TemplateSource",
    "TemplateSyntaxError",
    "Templates",
    "current_templates",
    "render_template",
    "render_template_string",
    "stream_template",
    "tojson",
]

#: Templates whose names end so are autoescaped (and every template made from a string).
AUTOESCAPED = ("html", "htm", "xml", "svg")
CACHE_SIZE = 400  # compiled templates kept per environment (Jinja2's default)
STRING_CACHE_SIZE = 64  # compiled string templates kept (and lists of names none of exists)
STREAM_CHUNK = 16 * 1024  # characters rendered between two sends of a streamed page
ContextProcessor = Callable[[], Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class TemplateConfig:
    """How an app's templates are built: from its template folder and its settings."""

    #: The app's template folder (absolute), searched after any group's; ``None``: none.
    folder: str | None
    #: Check files for changes on each render (``TEMPLATE_AUTO_RELOAD``, default: debug).
    auto_reload: bool = False
    #: Render in Jinja2's sandbox, for untrusted template source (``TEMPLATE_SANDBOX``).
    sandbox: bool = False
    #: Debug mode: a missing page's 404 names the template and the folders searched.
    debug: bool = False
    #: The settings templates see as ``config`` (never the secret ones).
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


class TemplateRegistry(NamedTuple):
    """The filters, tests and globals an app registered (they win over Jinja2's and ours)."""

    filters: Mapping[str, Callable[..., Any]]
    tests: Mapping[str, Callable[..., Any]]
    globals: Mapping[str, Any]


class TemplateSource(Protocol):
    """What templating reads from the app and each of its groups (a ``Scaffold`` is one)."""

    @property
    def template_path(self) -> str | None: ...

    @property
    def context_processors(self) -> Sequence[ContextProcessor]: ...


_NO_REGISTRY = TemplateRegistry({}, {}, {})


class Templates:
    """An app's Jinja2 environment and rendering with it: ``app.templates``.

    ``render`` and the other methods work in and outside requests (emails,
    startup). While a request is handled they use the handler's group folders
    and run the context processors of the app and of the handler's groups.
    """

    def __init__(self, config: TemplateConfig, *, url_for: Callable[..., str],
                 static_url: Callable[..., str] | None = None,
                 csrf_token: Callable[[], str] | None = None,
                 csrf_headers: Callable[[], Any] | None = None,
                 registry: TemplateRegistry = _NO_REGISTRY,
                 lineage_of: Callable[[Any], Sequence[TemplateSource]] | None = None) -> None:
        """``url_for(name, _query=, **params)`` builds an app path; ``static_url`` and
        ``csrf_token`` become the template globals of those names, ``csrf_headers`` the
        ``htmx_csrf_headers()`` global; ``lineage_of(route)`` gives the app and the groups
        a route was registered through."""
        self.config = config
        self._csrf_token = csrf_token
        self._lineage_of = lineage_of
        kind = SandboxedEnvironment if config.sandbox else jinja2.Environment
        env = kind(
            loader=FolderLoader([config.folder] if config.folder else []),
            autoescape=jinja2.select_autoescape(AUTOESCAPED, default_for_string=True,
                                                default=False),
            auto_reload=config.auto_reload, cache_size=CACHE_SIZE,
        )
        env.filters["tojson"] = tojson
        env.globals.update(template_globals(url_for=url_for, static_url=static_url,
                                            csrf_token=csrf_token, csrf_headers=csrf_headers,
                                            settings=config.settings,
                                            sandbox=config.sandbox))
        self._env = env
        self.register(registry)
        self._overlays: dict[tuple[str, ...], jinja2.Environment] = {}
        self._strings: LRUCache = LRUCache(STRING_CACHE_SIZE)
        self._none_found: LRUCache = LRUCache(STRING_CACHE_SIZE)
        self._parent_blocks = ParentBlocks()

    def register(self, registry: TemplateRegistry) -> None:
        """Add the app's filters, tests and globals (again: the app calls this when it
        registers one after its templates were built)."""
        env = self._env
        env.filters.update(registry.filters)
        env.tests.update(registry.tests)
        env.globals.update(registry.globals)

    @property
    def environment(self) -> jinja2.Environment:
        """The Jinja2 environment itself (to add extensions, policies...)."""
        return self._env

    @property
    def csrf_token(self) -> Callable[[], str] | None:
        """What ``csrf_token()`` calls in templates (``None`` outside an app)."""
        return self._csrf_token

    def current_environment(self) -> jinja2.Environment:
        """The environment for the handler being served: its groups' folders searched first."""
        return self._scope()[0]

    # -- rendering ----------------------------------------------------------------------

    def render(self, name: str, /, **context: Any) -> str:
        """Render template ``name`` with ``context``."""
        env, extra = self._scope()
        template = self._get(env, name)
        try:
            return template.render(_merged(extra, context))
        except jinja2.TemplateError as exc:
            reraise(exc, name, _folders_of(env))

    def render_blocks(self, name: str, blocks: Sequence[str], /, **context: Any) -> str:
        """Render only ``blocks`` of template ``name``, one after the other (fragments).

        A block of a template it extends counts, and ``super()`` works.
        """
        env, extra = self._scope()
        template = self._get(env, name)
        try:
            scope = template.new_context(_merged(extra, context))
            self._parent_blocks.add(env, template, scope.blocks)
            for block in blocks:
                if block not in scope.blocks:
                    raise BlockNotFoundError(
                        f"template {name!r} has no block {block!r}; its blocks (with those "
                        f"it extends): {', '.join(sorted(scope.blocks)) or 'none'}"
                    )
            return "".join(env.concat(scope.blocks[block][0](scope)) for block in blocks)
        except jinja2.TemplateError as exc:
            reraise(exc, name, _folders_of(env))

    def render_string(self, source: str, /, **context: Any) -> str:
        """Render the template ``source`` (compiled once, then cached; autoescaped)."""
        env, extra = self._scope()
        template: jinja2.Template | None = self._strings.get((env, source))
        try:
            if template is None:
                template = self._strings[env, source] = env.from_string(source)
            return template.render(_merged(extra, context))
        except jinja2.TemplateError as exc:
            reraise(exc, None, _folders_of(env))

    def render_first(self, names: Sequence[str], /, **context: Any) -> str | None:
        """Render the first of ``names`` that exists with ``context``; ``None`` if none does.

        The context processors run only when one exists. Error pages use it
        (``errors/404.html``, then ``errors/4xx.html``); unless templates reload,
        that none exists is remembered.
        """
        lineage = self._lineage()
        env = self._environment_of(lineage)
        key = (env, tuple(names))
        if key in self._none_found:
            return None
        try:
            template = env.select_template(names)
        except jinja2.TemplatesNotFound:
            if not self.config.auto_reload:
                self._none_found[key] = True
            return None
        except jinja2.TemplateError as exc:
            reraise(exc, names[0], _folders_of(env))
        try:
            return template.render(_merged(_processed_context(lineage), context))
        except jinja2.TemplateError as exc:
            reraise(exc, template.name, _folders_of(env))

    def generate(self, name: str, /, **context: Any) -> Iterator[str]:
        """Render template ``name`` piece by piece (for streaming)."""
        env, extra = self._scope()
        template = self._get(env, name)
        return self._generating(env, template, _merged(extra, context))

    def invalidate(self, path: str | os.PathLike[str] | None = None) -> None:
        """Forget compiled templates: those made from the file at ``path``, or all.

        For a development loop that watches the template folders: the next
        render compiles the changed file again, without a restart.
        """
        environments = [self._env, *self._overlays.values()]
        self._none_found.clear()
        if path is None:
            for env in environments:
                _cache_of(env).clear()
            self._strings.clear()
            return
        real = os.path.realpath(path)
        for env in environments:
            cache = _cache_of(env)
            for key, template in cache.items():
                if template.filename == real:
                    del cache[key]

    # -- helpers ------------------------------------------------------------------------

    def _scope(self) -> tuple[jinja2.Environment, dict[str, Any] | None]:
        """The environment for the current handler and its context processors' values."""
        lineage = self._lineage()
        return self._environment_of(lineage), _processed_context(lineage)

    def _lineage(self) -> Sequence[TemplateSource]:
        """The app and the groups of the handler being served (none outside requests)."""
        request = request_var.get(None)
        if request is None or self._lineage_of is None:
            return ()
        return self._lineage_of(request.route)

    def _environment_of(self, lineage: Sequence[TemplateSource]) -> jinja2.Environment:
        """The environment that searches the folders of ``lineage``'s groups first."""
        folders = tuple(p for s in reversed(lineage[1:]) if (p := s.template_path) is not None)
        return self._overlay(folders) if folders else self._env

    def _overlay(self, folders: tuple[str, ...]) -> jinja2.Environment:
        env = self._overlays.get(folders)
        if env is None:
            loader = FolderLoader(folders + _folders_of(self._env))
            # A cache of its own: the same name may lead to another file here.
            env = self._overlays[folders] = self._env.overlay(loader=loader,
                                                              cache_size=CACHE_SIZE)
        return env

    def _get(self, env: jinja2.Environment, name: str) -> jinja2.Template:
        try:
            return env.get_template(name)
        except jinja2.TemplateNotFound:
            raise TemplateNotFound(name, _folders_of(env), debug=self.config.debug) from None
        except jinja2.TemplateError as exc:
            reraise(exc, name, _folders_of(env))

    def _generating(self, env: jinja2.Environment, template: jinja2.Template,
                    context: Mapping[str, Any]) -> Iterator[str]:
        try:
            yield from template.generate(context)
        except jinja2.TemplateError as exc:
            reraise(exc, template.name, _folders_of(env))


def _cache_of(env: jinja2.Environment) -> LRUCache:
    return cast("LRUCache", env.cache)


def _folders_of(env: jinja2.Environment) -> tuple[str, ...]:
    return cast("FolderLoader", env.loader).folders


def _merged(extra: dict[str, Any] | None, context: dict[str, Any]) -> dict[str, Any]:
    if extra is None:
        return context
    extra.update(context)  # what the handler passes wins over the processors
    return extra


def _processed_context(lineage: Sequence[TemplateSource]) -> dict[str, Any] | None:
    """What the context processors of ``lineage`` give (``None``: there are none)."""
    context: dict[str, Any] | None = None
    for source in lineage:
        for processor in source.context_processors:
            if context is None:
                context = {}
            context.update(_processed(processor))
    return context


def _processed(processor: ContextProcessor) -> Mapping[str, Any]:
    values = processor()
    if not isinstance(values, Mapping):
        raise TemplateError(
            f"context processor {getattr(processor, '__qualname__', processor)} returned a "
            f"{type(values).__name__}; a context processor returns a dict"
        )
    return values


# -- the handler API ------------------------------------------------------------------------


def current_templates(what: str) -> Templates:
    """The templates of the app handling the current request (``what`` names the caller)."""
    request = current_request(f"{what}()", " (outside one, use app.templates.render(...))")
    templates = request.services.templates
    if templates is None:
        raise ContextError(f"{what}() needs a request handled by a Zephyr app")
    return cast("Templates", templates())


def render_template(name: str, /, *, block: str | None = None,
                    blocks: Sequence[str] | None = None, htmx_block: str | None = None,
                    status_code: int = 200, headers: HeadersInit = None,
                    **context: Any) -> HTMLResponse:
    """Render template ``name`` with ``context`` as an HTML response.

    ``block="row"`` renders that one block alone, ``blocks=["row", "count"]``
    several, one after the other (fragments for partial page updates).
    ``htmx_block="list"`` renders that block for an htmx request that asks for
    part of a page and the whole page otherwise, with the ``Vary`` that tells
    caches so. A missing template is a :class:`TemplateNotFound` (404).
    """
    if sum(choice is not None for choice in (block, blocks, htmx_block)) > 1:
        raise TemplateError("render_template(): give one of block=, blocks= or htmx_block=")
    templates = current_templates("render_template")
    if block is not None:
        blocks = (block,)
    if htmx_block is None:
        return _rendered(templates, name, blocks, status_code, headers, context)
    request = current_request("render_template(htmx_block=...)",
                              "; outside one, choose the fragment with block=")
    # Boosted links and history restores get the whole page, as htmx expects.
    chosen = (htmx_block,) if request.htmx.is_partial else None
    response = _rendered(templates, name, chosen, status_code, headers, context)
    response.headers.add_vary(*FRAGMENT_VARY)
    return response


def _rendered(templates: Templates, name: str, blocks: Sequence[str] | None, status_code: int,
              headers: HeadersInit, context: dict[str, Any]) -> HTMLResponse:
    if blocks is None:
        html = templates.render(name, **context)
    else:
        html = templates.render_blocks(name, blocks, **context)
    return HTMLResponse(html, status_code, headers)


def render_template_string(source: str, /, *, status_code: int = 200,
                           headers: HeadersInit = None, **context: Any) -> HTMLResponse:
    """Render the template ``source`` with ``context`` as an HTML response (autoescaped)."""
    html = current_templates("render_template_string").render_string(source, **context)
    return HTMLResponse(html, status_code, headers)


def stream_template(name: str, /, *, status_code: int = 200, headers: HeadersInit = None,
                    **context: Any) -> StreamingResponse:
    """Render template ``name`` while sending it: for long pages.

    The page goes out in chunks of about 16 KiB, and other requests are served
    between two chunks. Its headers leave first, so the session, the CSP nonce,
    the CSRF token and the flashed messages are settled before: the template
    must not change the session.
    """
    templates = current_templates("stream_template")
    pieces = templates.generate(name, **context)
    prepare_for_streaming(templates.csrf_token)
    return StreamingResponse(_in_chunks(pieces), status_code, headers, media_type="text/html")


async def _in_chunks(pieces: Iterator[str]) -> AsyncIterator[str]:
    """Jinja2's small pieces joined into chunks; the event loop runs others in between."""
    buffer: list[str] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= STREAM_CHUNK:
            yield "".join(buffer)
            buffer.clear()
            size = 0
            # NOTE: rendering is CPU work on the event loop: let other tasks run between chunks.
            await asyncio.sleep(0)
    if buffer:
        yield "".join(buffer)
