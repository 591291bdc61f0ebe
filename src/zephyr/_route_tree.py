"""The segment tree behind the route table, and the searches that walk it.

Each level holds literal children by text and parameter children by rank
(more specific converters first). :func:`descend` follows the first viable
branch without backtracking, which is what almost every request needs;
:func:`search` is the full depth-first walk that also collects the methods
allowed on a path for 405 answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from zephyr.converters import Compound, Param, Segment

if TYPE_CHECKING:
    from zephyr.routing import Route

__all__ = ["Node", "descend", "search"]


class Node:
    """One level of the segment tree: literal children by text, then parameters by rank."""

    __slots__ = ("methods", "params", "simple_params", "static")

    def __init__(self) -> None:
        self.static: dict[str, Node] = {}
        self.params: list[tuple[Param | Compound, Node]] = []
        # The leading one-segment parameters as (to_python, child), for descend().
        self.simple_params: list[tuple[Callable[[str], Any], Node]] = []
        self.methods: dict[str, Route] = {}

    def child(self, segment: Segment) -> Node:
        if isinstance(segment, str):
            return self.static.setdefault(segment, Node())
        for existing, node in self.params:
            if existing.key == segment.key:
                return node
        node = Node()
        self.params.append((segment, node))
        # Stable sort: lower rank (more specific converters) first, then registration order.
        self.params.sort(key=lambda item: _rank(item[0]))
        self.simple_params = []
        for param, child in self.params:
            if not isinstance(param, Param) or param.converter.spans_segments:
                break  # descend stops here and leaves the rest to the full search
            self.simple_params.append((param.converter.to_python, child))
        return node


def _rank(segment: Param | Compound) -> int:
    if isinstance(segment, Compound):
        return 0
    return segment.converter.rank


def descend(root: Node, parts: list[str], method: str) -> tuple[Route, list[Any]] | None:
    """Follow the first viable branch at each level, without backtracking.

    When this finds a route it is the one the full search would find first
    (same order: literal, then parameters by rank); when it fails, the full
    search decides.
    """
    # PERF: a loop instead of recursion; most paths never need to backtrack.
    node = root
    values: list[Any] = []
    for part in parts[1:]:
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
                return None
        node = child
    route = node.methods.get(method)
    return None if route is None else (route, values)


def search(
    node: Node, parts: list[str], index: int, method: str, values: list[Any], allowed: set[str]
) -> Route | None:
    """Depth-first match of ``parts[index:]``; literal children first, then parameters."""
    if index == len(parts):
        if not node.methods:
            return None
        route = node.methods.get(method)
        if route is None:
            allowed.update(node.methods)
        return route
    child = node.static.get(parts[index])
    if child is not None:
        found = search(child, parts, index + 1, method, values, allowed)
        if found is not None:
            return found
    for segment, child in node.params:
        if isinstance(segment, Compound):
            found = _search_compound(segment, child, parts, index, method, values, allowed)
        elif segment.converter.spans_segments:
            found = _search_rest(segment, child, parts, index, method, values, allowed)
        else:
            found = _search_param(segment, child, parts, index, method, values, allowed)
        if found is not None:
            return found
    return None


def _search_param(
    segment: Param,
    child: Node,
    parts: list[str],
    index: int,
    method: str,
    values: list[Any],
    allowed: set[str],
) -> Route | None:
    """Match one segment with a converter, then the rest below it."""
    try:
        value = segment.converter.to_python(parts[index])
    except ValueError:
        return None
    values.append(value)
    found = search(child, parts, index + 1, method, values, allowed)
    if found is None:
        values.pop()
    return found


def _search_compound(
    segment: Compound,
    child: Node,
    parts: list[str],
    index: int,
    method: str,
    values: list[Any],
    allowed: set[str],
) -> Route | None:
    """Match a segment like ``{name}.{ext}``, then the rest below it."""
    converted = segment.match(parts[index])
    if converted is None:
        return None
    values.extend(converted)
    found = search(child, parts, index + 1, method, values, allowed)
    if found is None:
        del values[len(values) - len(converted) :]
    return found


def _search_rest(
    segment: Param,
    child: Node,
    parts: list[str],
    index: int,
    method: str,
    values: list[Any],
    allowed: set[str],
) -> Route | None:
    """Let a ``path`` parameter take as many segments as leave a match for the rest.

    Leaving segments for the routes below comes first: ``/f/<path:p>/edit`` beats ``/f/<path:q>``.
    """
    for end in (*range(len(parts) - 1, index, -1), len(parts)):
        try:
            value = segment.converter.to_python("/".join(parts[index:end]))
        except ValueError:
            continue
        values.append(value)
        found = search(child, parts, end, method, values, allowed)
        if found is not None:
            return found
        values.pop()
    return None
