"""Server-side components: a template (or a function) with typed props, reused across pages.

Registered with ``@app.component("card", template="components/card.html")`` on
a function (its parameters are the props), a msgspec ``Struct`` or a
dataclass (its fields are). Used in templates as
``{% component "card", title=... %}body{% endcomponent %}`` (the body is the
component's ``children``, and ``caller()``) or ``{{ component("card", title=...) }}``,
and from handlers with :func:`render_component`. Props are checked with
``msgspec.convert`` when the component renders.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, cast

import jinja2
import msgspec
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.parser import Parser
from markupsafe import Markup

from zephyr._template_errors import TemplateError, syntax_error
from zephyr.errors import SetupError
from zephyr.params import Query
from zephyr.responses import HeadersInit, HTMLResponse
from zephyr.templating import Templates, current_templates

__all__ = ["Component", "ComponentError", "ComponentExtension", "install_components",
           "render_component"]

_NO_CHILDREN = Markup("")
_AT_PROP = re.compile(r"^(?P<message>.*) - at `\$\.(?P<prop>[^`.\[]+)")
_MISSING = re.compile(r"^Object missing required field `(?P<prop>[^`]+)`")


class ComponentError(TemplateError):
    """A component that does not exist, or was given missing, unknown or mistyped props."""


class Component:
    """One registered component: what renders it and the props it takes."""

    __slots__ = ("fields", "name", "props", "takes_children", "target", "template")

    def __init__(self, name: str, target: Any, *, template: str | None = None) -> None:
        self.name = name
        self.target = target
        self.takes_children = False
        if isinstance(target, type) and (issubclass(target, msgspec.Struct)
                                         or dataclasses.is_dataclass(target)):
            template = template or getattr(target, "template", None)
            if not isinstance(template, str):
                raise SetupError(
                    f"component {name!r} is a class: give it a template (template='...' or a "
                    "`template: ClassVar[str]` attribute)"
                )
            self.props: type = target
            self.fields = _class_fields(target)
        elif inspect.isfunction(target) or inspect.ismethod(target):
            self.fields, self.takes_children = _function_fields(name, target)
            self.props = msgspec.defstruct(
                f"{name} props",
                [(n, t) if d is msgspec.NODEFAULT else (n, t, d) for n, t, d in self.fields],
                kw_only=True,
            )
        else:
            raise SetupError(
                f"component {name!r} must be a function, a msgspec Struct or a dataclass, "
                f"not {target!r}"
            )
        #: The template that renders it (``None``: the function returns its HTML).
        self.template = template

    def render(self, env: jinja2.Environment, props: Mapping[str, Any], *,
               children: Markup = _NO_CHILDREN, caller: Any = None) -> Markup:
        """The component's HTML for ``props`` (checked first), with ``env``'s templates."""
        checked = self._check(props)
        if self.props is self.target:  # a Struct or a dataclass
            context: dict[str, Any] = {n: getattr(checked, n) for n, _, _ in self.fields}
            context["props"] = checked
        else:
            context = msgspec.structs.asdict(checked)
            result = (self.target(**context, children=children) if self.takes_children
                      else self.target(**context))
            if self.template is None:
                return self._html(result)
            context.update(self._extra_context(result))
        context["children"] = children
        if caller is not None:
            context["caller"] = caller
        # A class always has a template; a function without one returned above.
        template = self._template(env, cast("str", self.template))
        # What the component's own template renders is its HTML (values were escaped in it).
        return Markup(template.render(context))  # noqa: S704

    def endpoint(self) -> Callable[..., Awaitable[HTMLResponse]]:
        """A GET handler rendering the component with props from the query string (typed)."""
        name = self.name

        async def render_from_query(**props: Any) -> HTMLResponse:
            return render_component(name, **props)

        annotations = {n: Annotated[str if t is Any else t, Query()] for n, t, _ in self.fields}
        # The handler's signature is the props': the argument plan reads and checks them.
        render_from_query.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
            inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=annotations[n],
                              default=inspect.Parameter.empty if d is msgspec.NODEFAULT else d)
            for n, _, d in self.fields
        ])
        render_from_query.__annotations__ = annotations
        render_from_query.__name__ = render_from_query.__qualname__ = f"component_{name}"
        return render_from_query

    def _check(self, props: Mapping[str, Any]) -> Any:
        known = [n for n, _, _ in self.fields]
        unknown = [p for p in props if p not in known]
        if unknown:
            raise ComponentError(
                f"component {self.name!r} got the unknown prop {unknown[0]!r} "
                f"(its props: {', '.join(known) or 'none'})"
            )
        try:
            return msgspec.convert(dict(props), self.props)
        except msgspec.ValidationError as exc:
            raise ComponentError(self._describe(str(exc))) from None

    def _describe(self, problem: str) -> str:
        if missing := _MISSING.match(problem):
            return f"component {self.name!r} is missing the required prop {missing['prop']!r}"
        if at := _AT_PROP.match(problem):
            return f"component {self.name!r}: prop {at['prop']!r}: {at['message']}"
        return f"component {self.name!r}: {problem}"

    def _html(self, result: Any) -> Markup:
        if not isinstance(result, str):
            raise ComponentError(
                f"component {self.name!r} has no template, so its function must return its "
                f"HTML (a str or Markup), not a {type(result).__name__}"
            )
        # The function's own HTML, as a handler's returned str is (documented).
        return Markup(result)  # noqa: S704

    def _extra_context(self, result: Any) -> Mapping[str, Any]:
        if result is None:
            return {}
        if not isinstance(result, Mapping):
            raise ComponentError(
                f"component {self.name!r} returned a {type(result).__name__}; with a template, "
                "its function returns a dict of values for the template, or None"
            )
        return result

    def _template(self, env: jinja2.Environment, name: str) -> jinja2.Template:
        try:
            return env.get_template(name)
        except jinja2.TemplateNotFound as exc:
            raise ComponentError(f"component {self.name!r}: {exc.message}") from None
        except jinja2.TemplateSyntaxError as exc:
            raise syntax_error(exc) from exc


def _class_fields(cls: Any) -> list[tuple[str, Any, Any]]:
    if issubclass(cls, msgspec.Struct):
        return [(f.name, f.type, f.default_factory() if f.default_factory is not msgspec.NODEFAULT
                 else f.default) for f in msgspec.structs.fields(cls)]
    hints = typing.get_type_hints(cls)
    return [(f.name, hints.get(f.name, Any),
             f.default if f.default is not dataclasses.MISSING else msgspec.NODEFAULT)
            for f in dataclasses.fields(cls)]


def _function_fields(name: str, fn: Callable[..., Any]) -> tuple[list[tuple[str, Any, Any]], bool]:
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:
        raise SetupError(f"cannot read the type hints of component {name!r}: {exc}") from exc
    fields, takes_children = [], False
    for parameter in inspect.signature(fn).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD,
                              parameter.POSITIONAL_ONLY):
            raise SetupError(
                f"component {name!r} takes {parameter}; name every prop (no *args, **kwargs or "
                "positional-only parameters)"
            )
        if parameter.name == "children":
            takes_children = True
            continue
        default = msgspec.NODEFAULT if parameter.default is parameter.empty else parameter.default
        fields.append((parameter.name, hints.get(parameter.name, Any), default))
    return fields, takes_children


# -- in templates ---------------------------------------------------------------------------


class ComponentExtension(Extension):
    """``{% component "card", title=... %}body{% endcomponent %}``."""

    tags = {"component"}  # noqa: RUF012 - Jinja2's Extension API: a class attribute
    #: The components by name (set by :func:`install_components`, shared by overlays).
    components: Mapping[str, Component] = {}

    def parse(self, parser: Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        name = parser.parse_expression()
        props = []
        while parser.stream.current.type != "block_end":
            parser.stream.skip_if("comma")
            if parser.stream.current.type == "block_end":
                break
            key = parser.stream.expect("name")
            parser.stream.expect("assign")
            props.append(nodes.Keyword(key.value, parser.parse_expression(), lineno=key.lineno))
        body = parser.parse_statements(("name:endcomponent",), drop_needle=True)
        call = self.call_method("_render_tag", [name], props, lineno=lineno)
        return nodes.CallBlock(call, [], [], body, lineno=lineno)

    def _render_tag(self, name: str, /, *, caller: Callable[[], str], **props: Any) -> Markup:
        # The body, rendered by the calling template (autoescaped there).
        children = Markup(caller())  # noqa: S704
        return self.find(name).render(self.environment, props, children=children, caller=caller)

    def find(self, name: str) -> Component:
        """The component registered as ``name``."""
        component = self.components.get(name)
        if component is None:
            known = ", ".join(sorted(self.components)) or "none are registered"
            raise ComponentError(f"no component named {name!r} (components: {known})")
        return component


@jinja2.pass_environment
def _component_global(env: jinja2.Environment, name: str, /, **props: Any) -> Markup:
    """``{{ component("card", title=...) }}``: a component without a body."""
    return _extension(env).find(name).render(env, props)


def _extension(env: jinja2.Environment) -> ComponentExtension:
    return cast("ComponentExtension", env.extensions[ComponentExtension.identifier])


def install_components(templates: Templates, components: Mapping[str, Component]) -> None:
    """Give ``templates`` the component tag and the ``component()`` global for ``components``."""
    env = templates.environment
    env.add_extension(ComponentExtension)
    _extension(env).components = components
    env.globals["component"] = _component_global


def render_component(name: str, /, *, status_code: int = 200, headers: HeadersInit = None,
                     **props: Any) -> HTMLResponse:
    """Render component ``name`` with ``props`` as an HTML response (for a handler)."""
    env = current_templates("render_component").current_environment()
    return HTMLResponse(_extension(env).find(name).render(env, props), status_code, headers)
