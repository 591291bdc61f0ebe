"""The segment tree behind the route table, and the searches that walk it.

The tree is generic over what its leaves hold (the route table keeps each
route's compiled endpoint record there), so it knows nothing of routes.

Each level holds literal children by text and parameter children by rank
(more specific converters first). :func:`descend` follows the first viable
branch without backtracking, which is what almost every request needs;
:class:`Search` is the full depth-first walk that also collects the methods
allowed on a path for 405 answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from zephyr.converters import Compound, Param, Segment

__all__ = ["Node", "Search", "descend"]

R = TypeVar("R")


class Node(Generic[R]):
    """One level of the segment tree: literal children by text, then parameters by rank."""

    __slots__ = ("methods", "params", "rest", "simple_params", "static")

    def __init__(self) -> None:
        self.static: dict[str, Node[R]] = {}
        self.params: list[tuple[Param | Compound, Node[R]]] = []
        # The leading one-segment parameters as (to_python, child), for descend().
        self.simple_params: list[tuple[Callable[[str], Any], Node[R]]] = []
        # A `path` parameter right after them that ends its routes (see settle()).
        self.rest: tuple[Callable[[str], Any], Node[R]] | None = None
        self.methods: dict[str, R] = {}

    def child(self, segment: Segment) -> Node[R]:
        if isinstance(segment, str):
            return self.static.setdefault(segment, Node[R]())
        for existing, node in self.params:
            if existing.key == segment.key:
                return node
        node = Node[R]()
        self.params.append((segment, node))
        # Stable sort: lower rank (more specific converters) first, then registration order.
        self.params.sort(key=lambda item: _rank(item[0]))
        self.simple_params = []
        for param, child in self.params:
            if not isinstance(param, Param) or param.converter.spans_segments:
                break  # descend stops here and leaves the rest to the full search
            self.simple_params.append((param.converter.to_python, child))
        return node


    def settle(self) -> None:
        """Once every route is in: find, here and below, the trailing ``path`` parameters
        that descend() may take the rest of a path with.

        Nothing lies below such a parameter, so the full search would give it every
        remaining segment too (``/static/<path:filename>``).
        """
        self.rest = None
        for param, child in self.params[len(self.simple_params):len(self.simple_params) + 1]:
            if (isinstance(param, Param) and param.converter.spans_segments
                    and not child.static and not child.params):
                self.rest = (param.converter.to_python, child)
        for node in (*self.static.values(), *(child for _, child in self.params)):
            node.settle()


def _rank(segment: Param | Compound) -> int:
    if isinstance(segment, Compound):
        return 0
    return segment.converter.rank


def descend(root: Node[R], parts: list[str], method: str) -> tuple[R, list[Any]] | None:
    """Follow the first viable branch at each level, without backtracking.

    When this finds a route it is the one the full search would find first
    (same order: literal, then parameters by rank); when it fails, the full
    search decides.
    """
    # PERF: a loop instead of recursion; most paths never need to backtrack.
    node = root
    values: list[Any] = []
    remaining = iter(parts)
    next(remaining)  # the empty segment before the leading slash
    for part in remaining:
        child = node.static.get(part)
        if child is None:
            for convert, param_child in node.simple_params:
                try:
                    values.append(convert(part))
                except ValueError:
                    continue
                child = param_child
                break
            else:
                if node.rest is None:
                    return None
                convert, child = node.rest
                try:  # a trailing `path` parameter: all that is left of the path
                    values.append(convert("/".join((part, *remaining))))
                except ValueError:
                    return None
        node = child
    route = node.methods.get(method)
    return None if route is None else (route, values)


class Search(Generic[R]):
    """One full depth-first search of the tree, for paths :func:`descend` gave up on.

    Literal children are tried before parameters; ``values`` collects the
    converted parameters of the route found and ``allowed`` the methods of
    routes that match the path but not the method (for 405 and OPTIONS).
    """

    __slots__ = ("allowed", "method", "parts", "values")

    def __init__(self, parts: list[str], method: str, allowed: set[str]) -> None:
        self.parts = parts
        self.method = method
        self.values: list[Any] = []
        self.allowed = allowed

    def run(self, node: Node[R], index: int = 1) -> R | None:
        """The first route matching ``parts[index:]`` below ``node``."""
        if index == len(self.parts):
            if not node.methods:
                return None
            route = node.methods.get(self.method)
            if route is None:
                self.allowed.update(node.methods)
            return route
        child = node.static.get(self.parts[index])
        if child is not None:
            found = self.run(child, index + 1)
            if found is not None:
                return found
        for segment, child in node.params:
            if isinstance(segment, Compound):
                found = self._compound(segment, child, index)
            elif segment.converter.spans_segments:
                found = self._rest(segment, child, index)
            else:
                found = self._param(segment, child, index)
            if found is not None:
                return found
        return None

    def _param(self, segment: Param, child: Node[R], index: int) -> R | None:
        """One segment through a converter, then the rest below it."""
        try:
            value = segment.converter.to_python(self.parts[index])
        except ValueError:
            return None
        self.values.append(value)
        found = self.run(child, index + 1)
        if found is None:
            self.values.pop()
        return found

    def _compound(self, segment: Compound, child: Node[R], index: int) -> R | None:
        """A segment like ``{name}.{ext}``, then the rest below it."""
        converted = segment.match(self.parts[index])
        if converted is None:
            return None
        self.values.extend(converted)
        found = self.run(child, index + 1)
        if found is None:
            del self.values[len(self.values) - len(converted) :]
        return found

    def _rest(self, segment: Param, child: Node[R], index: int) -> R | None:
        """A ``path`` parameter taking as many segments as leave a match for the rest.

        Leaving segments for the routes below comes first: ``/f/<path:p>/edit``
        beats ``/f/<path:q>``.
        """
        parts = self.parts
        for end in (*range(len(parts) - 1, index, -1), len(parts)):
            try:
                value = segment.converter.to_python("/".join(parts[index:end]))
            except ValueError:
                continue
            self.values.append(value)
            found = self.run(child, end)
            if found is not None:
                return found
            self.values.pop()
        return None
