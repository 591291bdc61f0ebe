"""Fragments: the blocks of the templates a template extends, chained as a full render
chains them, so that a block rendered alone can call ``super()``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from weakref import WeakKeyDictionary

import jinja2
from jinja2 import nodes

__all__ = ["ParentBlocks"]

BlockRenderers = dict[str, list[Callable[..., Iterator[str]]]]


class ParentBlocks:
    """Finds what each template extends (parsed once per compiled template) and adds the
    parents' blocks to a render context's."""

    __slots__ = ("_parents",)

    def __init__(self) -> None:
        self._parents: WeakKeyDictionary[jinja2.Template, str | None] = WeakKeyDictionary()

    def add(self, env: jinja2.Environment, template: jinja2.Template,
            blocks: BlockRenderers) -> None:
        """Chain the blocks of the templates ``template`` extends, as a full render would."""
        seen = {template.name}
        while (parent_name := self._parent_of(env, template)) is not None:
            template = env.get_template(parent_name, parent=template.name)
            if template.name in seen:
                return
            seen.add(template.name)
            for block, render in template.blocks.items():
                blocks.setdefault(block, []).append(render)

    def _parent_of(self, env: jinja2.Environment, template: jinja2.Template) -> str | None:
        """The name ``template`` extends (a constant ``{% extends "..." %}``), if any."""
        if template in self._parents:
            return self._parents[template]
        parent = None
        if template.name is not None and env.loader is not None:
            source, filename, _ = env.loader.get_source(env, template.name)
            extends = env.parse(source, template.name, filename).find(nodes.Extends)
            if extends is not None and isinstance(extends.template, nodes.Const):
                parent = str(extends.template.value)
        self._parents[template] = parent
        return parent
