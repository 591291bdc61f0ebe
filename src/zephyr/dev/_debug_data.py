"""What the debug page shows, collected so that nothing in it can fail or leak: the exception
chain with each frame's source and locals, and a template error's own lines, every value
masked where secret and cut to a sane length."""

from __future__ import annotations

import linecache
import os
import re
import reprlib
import sys
import sysconfig
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from types import FrameType
from typing import Any

__all__ = ["MASK", "OUTER_FRAMES", "Failure", "Frame", "Masker", "TemplateProblem", "chain_of",
           "template_problem"]

MASK = "********"
#: Names whose values are never shown: locals, dict keys, query parameters, headers.
SECRET_NAME = re.compile(r"key|secret|password|passwd|token|auth|cookie|session|csrf|api_key",
                         re.IGNORECASE)
MIN_SECRET = 6  # shorter secret values are not searched for (they would mask everything)
MAX_CHAIN = 10  # exceptions of one chain shown
MAX_FRAMES = 60  # frames of one traceback shown: the outermost few, the innermost most
OUTER_FRAMES = 10
MAX_LOCALS = 60  # locals of one frame shown
MAX_LINE = 300  # characters of one source line
MAX_VALUE = 1000  # characters of one value
CONTEXT = {"app": 5, "template": 5, "library": 3}  # source lines shown around the failing one
_ZEPHYR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# NOTE: the standard library, installed packages and Zephyr are "library" frames (collapsed).
_LIBRARIES = tuple(sorted(
    {os.path.join(os.path.abspath(path), "")
     for key in ("stdlib", "platstdlib", "purelib", "platlib")
     if (path := sysconfig.get_paths().get(key))} | {os.path.join(_ZEPHYR, "")}
))
_PACKAGE_DIRS = (f"{os.sep}site-packages{os.sep}", f"{os.sep}dist-packages{os.sep}")
# What every Zephyr template sees besides its functions (zephyr._template_context): the same
# in each template frame, so left out of their locals.
_TEMPLATE_GLOBALS = frozenset({"config", "request", "session", "g"})


class Masker:
    """Hides secrets: the values of secret-sounding names, and the given secret values
    (the secret settings) wherever they appear."""

    __slots__ = ("_repr", "_values")

    def __init__(self, secrets: Iterable[str]) -> None:
        self._values = sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True)
        self._repr = _SafeRepr(self)

    def mask(self, text: str) -> str:
        """``text`` with every secret value in it masked."""
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def text(self, text: str, limit: int = MAX_VALUE) -> str:
        """``text`` masked, cut to ``limit`` and sendable: a lone surrogate (from a file name
        that is not UTF-8) becomes its escape."""
        return _cut(self.mask(text), limit).encode("utf-8", "backslashreplace").decode("utf-8")

    def field(self, name: str, text: str) -> str:
        """A named piece of text (a header, a query parameter): hidden if the name is secret."""
        return MASK if SECRET_NAME.search(name) else self.text(text)

    def value(self, name: str, value: Any) -> str:
        """A named Python value (a local), as its cut ``repr``: hidden if the name is secret."""
        return MASK if SECRET_NAME.search(name) else self.repr(value)

    def repr(self, value: Any) -> str:
        """The ``repr`` of ``value``, cut short, masked, and never an exception."""
        try:
            text = self._repr.repr(value)
        except Exception as exc:
            text = f"<{type(value).__name__} (repr failed: {type(exc).__name__})>"
        return self.text(text)


class _SafeRepr(reprlib.Repr):
    """``reprlib`` with masking: a secret value is masked before it is cut (so no part of it
    shows), a dict's value under a secret key is hidden, and bytes are cut before ``repr``."""

    def __init__(self, masker: Masker) -> None:
        super().__init__()
        self._masker = masker
        self.maxlevel = 3
        self.maxstring = self.maxother = 200
        self.maxlong = 60
        self.maxdict = self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = 12
        self.maxdeque = self.maxarray = 12

    def repr_str(self, x: str, level: int) -> str:
        return super().repr_str(self._masker.mask(x), level)

    def repr_bytes(self, x: bytes, level: int) -> str:
        shown = self.maxstring // 4
        text = repr(x[:shown])
        return text[:-1] + "..." + text[-1] if len(x) > shown else text

    def repr_dict(self, x: dict[Any, Any], level: int) -> str:
        if not x:
            return "{}"
        if level <= 0:
            return "{...}"
        pieces = [
            f"{self.repr1(key, level - 1)}: "
            + (MASK if isinstance(key, str) and SECRET_NAME.search(key)
               else self.repr1(x[key], level - 1))
            for key in islice(x, self.maxdict)
        ]
        if len(x) > self.maxdict:
            pieces.append("...")
        return "{" + ", ".join(pieces) + "}"

    def repr_instance(self, x: object, level: int) -> str:
        try:
            text = self._masker.mask(repr(x))
        except Exception:
            return f"<{type(x).__name__} instance at {id(x):#x}>"
        return _cut(text, self.maxother, middle=True)


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame of a traceback, as shown: ``kind`` is ``app``, ``library`` or ``template``."""

    file: str
    line: int
    function: str
    kind: str
    source: tuple[tuple[int, str], ...]
    locals: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Failure:
    """One exception of the chain, numbered from the one raised last (``#1``).

    ``relation`` says how it is linked to exception number ``of``: ``"cause"`` (``raise ...
    from`` it), ``"context"`` (raised while it was handled) or ``"group"`` (one of its group).
    """

    exception: BaseException
    number: int
    type: str
    message: str
    relation: str | None
    of: int | None
    frames: tuple[Frame, ...]  # most recent call first
    omitted: int  # frames left out in the middle (a deep recursion)


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    """Where a template failed: its name, the line, what went wrong, its lines around it."""

    name: str
    line: int
    message: str
    source: tuple[tuple[int, str], ...]


def chain_of(exc: BaseException, masker: Masker) -> list[Failure]:
    """``exc`` and the exceptions behind it (causes, contexts, members of a group)."""
    failures: list[Failure] = []
    seen: set[int] = set()
    pending: list[tuple[BaseException, str | None, int | None]] = [(exc, None, None)]
    while pending and len(failures) < MAX_CHAIN:
        current, relation, of = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        number = len(failures) + 1
        frames, omitted = _frames_of(current, masker)
        failures.append(Failure(current, number, _type_name(current),
                                masker.text(_message_of(current)), relation, of, frames,
                                omitted))
        if isinstance(current, BaseExceptionGroup):
            pending.extend((member, "group", number) for member in current.exceptions)
        if current.__cause__ is not None:
            pending.append((current.__cause__, "cause", number))
        elif current.__context__ is not None and not current.__suppress_context__:
            pending.append((current.__context__, "context", number))
    return failures


def template_problem(chain: Sequence[Failure], masker: Masker) -> TemplateProblem | None:
    """The template error behind the chain: a syntax error, else the innermost template frame.

    Jinja2 rewrites tracebacks so that template code shows as frames of the template file.
    """
    jinja2 = sys.modules.get("jinja2")  # NOTE: no Jinja2 loaded, no template error possible
    for failure in chain:
        exc = failure.exception
        if jinja2 is not None and isinstance(exc, jinja2.TemplateSyntaxError):
            lines = (exc.source.splitlines() if exc.source
                     else linecache.getlines(exc.filename or ""))
            name = exc.name or _shown_path(exc.filename or "<string>")
            return TemplateProblem(masker.text(name), exc.lineno,
                                   masker.text(f"{failure.type}: {exc.message}"),
                                   _around(lines, exc.lineno, CONTEXT["template"], masker))
    for failure in chain:
        for frame in failure.frames:
            if frame.kind == "template":
                return TemplateProblem(frame.file, frame.line,
                                       f"{failure.type}: {failure.message}", frame.source)
    return None


def _type_name(exc: BaseException) -> str:
    """The exception's class, with its module unless it is a built-in."""
    cls = type(exc)
    if cls.__module__ in ("builtins", "__main__"):
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _message_of(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return "<exception str() failed>"  # as the traceback module says it


def _frames_of(exc: BaseException, masker: Masker) -> tuple[tuple[Frame, ...], int]:
    """The frames of ``exc``'s traceback, most recent call first, and how many were left out."""
    entries: list[tuple[FrameType, int | None]] = []
    tb = exc.__traceback__
    while tb is not None:
        entries.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    omitted = max(0, len(entries) - MAX_FRAMES)
    if omitted:
        entries = entries[:OUTER_FRAMES] + entries[-(MAX_FRAMES - OUTER_FRAMES):]
    return tuple(_frame(frame, line or 0, masker) for frame, line in reversed(entries)), omitted


def _frame(frame: FrameType, line: int, masker: Masker) -> Frame:
    code = frame.f_code
    # NOTE: Jinja2's template frames carry the exception in their globals (jinja2.debug).
    kind = "template" if "__jinja_exception__" in frame.f_globals else _kind_of(code.co_filename)
    lines = linecache.getlines(code.co_filename, frame.f_globals)
    return Frame(masker.text(_shown_path(code.co_filename)), line, masker.text(code.co_name),
                 kind, _around(lines, line, CONTEXT[kind], masker),
                 _locals_of(frame, kind, masker))


def _kind_of(filename: str) -> str:
    if filename.startswith("<"):  # <frozen importlib._bootstrap>, <string>...
        return "library"
    path = os.path.abspath(filename)
    if path.startswith(_LIBRARIES) or any(part in path for part in _PACKAGE_DIRS):
        return "library"
    return "app"


def _locals_of(frame: FrameType, kind: str, masker: Masker) -> tuple[tuple[str, str], ...]:
    """The frame's local variables (a template frame: its context, without the functions and
    the globals of every template)."""
    if frame.f_locals is frame.f_globals:  # module-level code: its globals are no locals
        return ()
    names = [(name, value) for name, value in frame.f_locals.items()
             if not name.startswith("__") and not (
                 kind == "template" and (callable(value) or name in _TEMPLATE_GLOBALS))]
    shown = tuple((masker.text(name), masker.value(name, value))
                  for name, value in names[:MAX_LOCALS])
    if len(names) > MAX_LOCALS:
        shown += (("...", f"{len(names) - MAX_LOCALS} more not shown"),)
    return shown


def _around(lines: Sequence[str], line: int, context: int,
            masker: Masker) -> tuple[tuple[int, str], ...]:
    """The numbered source lines around ``line``, masked and cut."""
    first = max(1, line - context)
    last = min(len(lines), line + context)
    return tuple((number, masker.text(lines[number - 1].rstrip("\r\n"), MAX_LINE))
                 for number in range(first, last + 1))


def _shown_path(filename: str) -> str:
    """``filename`` relative to the working directory when it is inside it."""
    if filename.startswith("<"):
        return filename
    path, here = os.path.abspath(filename), os.getcwd()
    return os.path.relpath(path, here) if path.startswith(os.path.join(here, "")) else path


def _cut(text: str, limit: int, *, middle: bool = False) -> str:
    """``text`` shortened to about ``limit`` characters, with ``...`` where it was cut."""
    if len(text) <= limit:
        return text
    if not middle:
        return text[: limit - 3] + "..."
    head = (limit - 3) // 2
    return text[:head] + "..." + text[len(text) - (limit - 3 - head):]
