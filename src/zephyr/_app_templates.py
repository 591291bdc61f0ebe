"""An app's templates: whether it needs them, and building them from what the app and
its groups registered (folders, filters, tests, globals, components).

The app builds them at startup when it has a template folder or template
registrations, else at the first render; Jinja2 loads only then.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zephyr._route import Route
    from zephyr.config import Config
    from zephyr.scaffold import Scaffold
    from zephyr.templating import TemplateRegistry, Templates

__all__ = ["AppTemplates"]


class AppTemplates:
    """The templates of one app, built once from its registrations and settings."""

    __slots__ = ("_built", "_config", "_lineage_of", "_root", "_static_url", "_url_for")

    def __init__(self, root: Scaffold, config: Config, *,
                 url_for: Callable[..., str], static_url: Callable[..., str],
                 lineage_of: Callable[[Route], Sequence[Scaffold]]) -> None:
        """``root`` is the app (its registries are shared by its groups)."""
        self._root = root
        self._config = config
        self._url_for = url_for
        self._static_url = static_url
        self._lineage_of = lineage_of
        self._built: Templates | None = None

    @property
    def built(self) -> Templates | None:
        """The templates if they were built already."""
        return self._built

    def get(self) -> Templates:
        """The templates, built now if they were not yet."""
        if self._built is None:
            self._built = self._build()
        return self._built

    def is_wanted(self) -> bool:
        """Whether the app renders templates: a template folder exists, or it registered
        template filters, tests, globals, context processors or components."""
        root = self._root
        scaffolds = {s for leaf in {root, *root.registered_by.values()} for s in leaf.lineage()}
        return bool(
            root.template_filters or root.template_tests or root.template_globals
            or root.components or any(s.context_processors for s in scaffolds)
            or any((path := s.template_path) and os.path.isdir(path) for s in scaffolds)
        )

    def registered(self) -> None:
        """Add a template filter, test or global registered after the templates were built."""
        if self._built is not None:
            self._built.register(self._registry())

    def _build(self) -> Templates:
        # NOTE: Jinja2 loads with the templates, when the app first needs them; the
        # security package (for csrf_token) with them, as it does when any app starts serving.
        from zephyr.components import install_components
        from zephyr.security.csrf import csrf_token, htmx_csrf_headers
        from zephyr.templating import TemplateConfig, Templates

        config = self._config
        auto_reload = config["TEMPLATE_AUTO_RELOAD"]
        templates = Templates(
            TemplateConfig(self._root.template_path, sandbox=config["TEMPLATE_SANDBOX"],
                           auto_reload=config["DEBUG"] if auto_reload is None else auto_reload,
                           debug=config["DEBUG"], settings=config.public()),
            url_for=self._url_for, static_url=self._static_url, csrf_token=csrf_token,
            csrf_headers=htmx_csrf_headers, registry=self._registry(),
            lineage_of=self._lineage_of,
        )
        install_components(templates, self._root.components)
        return templates

    def _registry(self) -> TemplateRegistry:
        from zephyr.templating import TemplateRegistry  # NOTE: loaded with the templates

        root = self._root
        return TemplateRegistry(root.template_filters, root.template_tests,
                                root.template_globals)
