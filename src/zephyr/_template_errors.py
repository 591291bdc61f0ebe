"""The exceptions of templates, and Zephyr's in place of Jinja2's (naming file and line).

Users import them from :mod:`zephyr.templating`; :mod:`zephyr.errors` draws
where they hang in the exception tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

import jinja2
from jinja2.exceptions import SecurityError

from zephyr._template_loader import not_found_message
from zephyr.errors import NotFound, ZephyrError

__all__ = [
    "BlockNotFoundError",
    "TemplateError",
    "TemplateNotFound",
    "TemplateSecurityError",
    "TemplateSyntaxError",
    "reraise",
    "syntax_error",
]


class TemplateError(ZephyrError):
    """A template could not be compiled or rendered: the app's fault, a 500."""


class TemplateSyntaxError(TemplateError):
    """A template is not valid Jinja2; ``filename`` and ``lineno`` say where."""

    def __init__(self, message: str, filename: str | None, lineno: int) -> None:
        self.filename = filename
        self.lineno = lineno
        super().__init__(f"{filename or '<string>'}, line {lineno}: {message}")


class TemplateSecurityError(TemplateError):
    """The sandbox (``TEMPLATE_SANDBOX``) refused what a template tried to do."""


class BlockNotFoundError(TemplateError):
    """A fragment (``block=``) names a block the template does not have."""


class TemplateNotFound(NotFound):
    """The template asked for is in no template folder: a 404 when a handler asked for it.

    Its message names the template and every folder searched; the response
    body says so only in debug mode (the name may come from the request).
    """

    def __init__(self, name: str, folders: Sequence[str], *, debug: bool) -> None:
        self.name = name
        self.searched = tuple(folders)
        self.message = not_found_message(name, folders)
        super().__init__(self.message if debug else None)

    def __str__(self) -> str:
        return self.message


def reraise(exc: jinja2.TemplateError, name: str | None, folders: Sequence[str]) -> NoReturn:
    """Raise Zephyr's exception for a Jinja2 one: naming the file and line, or what was
    missing; other errors (an undefined value...) as they are."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        raise syntax_error(exc) from exc
    if isinstance(exc, jinja2.TemplateNotFound):
        raise TemplateError(
            f"template {name or '<string>'!r} uses {exc.name!r}, which was not found; "
            f"searched: {', '.join(folders)}"
        ) from exc
    if isinstance(exc, SecurityError):
        raise TemplateSecurityError(f"the template sandbox refused: {exc}") from exc
    raise exc


def syntax_error(exc: jinja2.TemplateSyntaxError) -> TemplateSyntaxError:
    """A Jinja2 syntax error as Zephyr's, whose message names the file and the line."""
    return TemplateSyntaxError(exc.message or str(exc), exc.filename, exc.lineno)
