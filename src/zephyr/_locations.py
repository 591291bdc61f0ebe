"""One declared handler parameter -> the argument that fills it, by where its value comes from.

:mod:`zephyr._plan` reads the signature and the markers; the builders here turn
each parameter, with its annotation and marker, into a path, query, header,
cookie, body, form or file argument (:mod:`zephyr._arguments`), refusing at
registration what cannot work.
"""

from __future__ import annotations

import enum
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

import msgspec

from zephyr._arguments import (
    MISSING,
    Argument,
    BodyArgument,
    CookieArgument,
    EmbeddedBodyArgument,
    FileArgument,
    FormArgument,
    HeaderArgument,
    LookupArgument,
    PathArgument,
    QueryArgument,
)
from zephyr.converters import Param, PathConverter, StringConverter
from zephyr.errors import SetupError
from zephyr.models import json_decoder, model_fields, model_of, python_converter
from zephyr.params import Body, ParamInfo
from zephyr.requests import UploadFile

__all__ = ["LOCATIONS", "Declared", "default_location", "embed_bodies", "name_of",
           "split_annotated"]

_SCALARS: tuple[type, ...] = (
    str, int, float, bool, uuid.UUID, Decimal, datetime, date, time, timedelta,
)
# Text converters hand over str; the others already produce their own type.
_TEXT_CONVERTERS = (StringConverter, PathConverter)
_SEQUENCES = (list, tuple, set, frozenset)


class Declared(NamedTuple):
    """One parameter as its signature declares it: what each location's builder starts from."""

    fn: Callable[..., Any]
    name: str
    annotation: Any  # with the marker's constraints folded in
    bare: Any  # without Annotated[...]
    default: Any
    info: ParamInfo | None
    path_params: Mapping[str, Param]

    @property
    def alias(self) -> str:
        """The name on the wire: the marker's alias, else the parameter's name."""
        return self.info.alias if self.info and self.info.alias else self.name


def default_location(name: str, bare: Any, path_params: Mapping[str, Param]) -> str:
    if name in path_params:
        return "path"
    if _is_upload(bare):
        return "file"
    body = _non_optional(bare)  # ``item: Item | None = None`` is an optional body
    if model_of(body) is not None or body is dict or typing.get_origin(body) is dict:
        return "body"
    return "query"


def _path(p: Declared) -> Argument:
    alias = p.alias
    if alias not in p.path_params:
        raise SetupError(
            f"{name_of(p.fn)}: parameter {p.name!r} is a Path() parameter but the route has no "
            f"{{{alias}}}; path parameters: {', '.join(p.path_params) or 'none'}"
        )
    text = type(p.path_params[alias].converter) in _TEXT_CONVERTERS
    needs = (text and p.bare not in (Any, str)) or _has_constraints(p.annotation)
    if needs:
        _check_scalar(p.fn, p.name, p.bare)
    convert = python_converter(p.annotation, location="path", root=alias) if needs else None
    return PathArgument(p.name, p.annotation, alias=alias, convert=convert, info=p.info)


def _lookup(cls: type[LookupArgument], location: str) -> Any:
    def build(p: Declared) -> Argument:
        item = _sequence_item(p.bare)
        is_list = item is not MISSING
        _check_scalar(p.fn, p.name, item if is_list else p.bare)
        alias = p.info.alias if p.info and p.info.alias else (
            p.name.replace("_", "-") if location == "header" else p.name
        )
        needs = p.bare is not str or _has_constraints(p.annotation)
        convert = python_converter(p.annotation, location=location, root=alias) if needs else None
        return cls(p.name, p.annotation, alias=alias, default=p.default, convert=convert,
                   is_list=is_list, info=p.info)

    return build


def _body(p: Declared) -> Argument:
    alias = p.alias
    if isinstance(p.info, Body) and p.info.embed:
        convert = python_converter(p.annotation, location="body", root=f"body.{alias}")
        return EmbeddedBodyArgument(p.name, p.annotation, alias=alias, default=p.default,
                                    convert=convert, info=p.info)
    return BodyArgument(p.name, p.annotation, alias=alias, default=p.default, info=p.info,
                        decode=json_decoder(p.annotation))


def _form(p: Declared) -> Argument:
    alias = p.alias
    model = model_of(p.bare)
    if model is not None and model is p.bare:
        lists = frozenset(
            field for field, kind in model_fields(model).items()
            if typing.get_origin(split_annotated(kind)[0]) in _SEQUENCES
        )
        return FormArgument(p.name, p.annotation, alias=alias, default=p.default, info=p.info,
                            whole_form=True, list_fields=lists,
                            convert=python_converter(p.annotation, location="form", root="form"))
    item = _sequence_item(p.bare)
    is_list = item is not MISSING
    _check_scalar(p.fn, p.name, item if is_list else p.bare)
    needs = p.bare is not str or _has_constraints(p.annotation)
    convert = python_converter(p.annotation, location="form", root=alias) if needs else None
    return FormArgument(p.name, p.annotation, alias=alias, default=p.default, convert=convert,
                        is_list=is_list, info=p.info)


def _file(p: Declared) -> Argument:
    if not _is_upload(p.bare):
        raise SetupError(
            f"{name_of(p.fn)}: file parameter {p.name!r} must be annotated UploadFile or "
            f"list[UploadFile], not {p.bare!r}"
        )
    alias = p.alias
    is_list = typing.get_origin(_non_optional(p.bare)) in _SEQUENCES
    return FileArgument(p.name, p.annotation, alias=alias, default=p.default, is_list=is_list,
                        info=p.info)


LOCATIONS: dict[str, Callable[[Declared], Argument]] = {
    "path": _path,
    "query": _lookup(QueryArgument, "query"),
    "header": _lookup(HeaderArgument, "header"),
    "cookie": _lookup(CookieArgument, "cookie"),
    "body": _body,
    "form": _form,
    "file": _file,
}


def embed_bodies(arguments: list[Argument]) -> list[Argument]:
    """Several body parameters share one JSON object, each under its own name."""
    bodies = [a for a in arguments if isinstance(a, BodyArgument)]
    if len(bodies) + sum(isinstance(a, EmbeddedBodyArgument) for a in arguments) < 2:
        return arguments
    return [
        EmbeddedBodyArgument(
            a.name, a.annotation, alias=a.alias, default=a.default, info=a.info,
            convert=python_converter(a.annotation, location="body", root=f"body.{a.alias}"),
        ) if isinstance(a, BodyArgument) else a
        for a in arguments
    ]


def split_annotated(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    if typing.get_origin(annotation) is typing.Annotated:
        bare, *metadata = typing.get_args(annotation)
        return bare, tuple(metadata)
    return annotation, ()


def _has_constraints(annotation: Any) -> bool:
    """Whether ``annotation`` carries ``msgspec.Meta`` constraints (from a marker or the user)."""
    return any(isinstance(m, msgspec.Meta) for m in split_annotated(annotation)[1])


def _non_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            return options[0]
    return annotation


def _sequence_item(annotation: Any) -> Any:
    """The item type of ``list[T]`` (or ``list[T] | None``), else ``MISSING``."""
    bare = _non_optional(annotation)
    if typing.get_origin(bare) in _SEQUENCES and typing.get_args(bare):
        return typing.get_args(bare)[0]
    return MISSING


def _is_upload(annotation: Any) -> bool:
    bare = _non_optional(annotation)
    if typing.get_origin(bare) in _SEQUENCES:
        bare = typing.get_args(bare)[0]
    return bare is UploadFile


def _check_scalar(fn: Callable[..., Any], name: str, annotation: Any) -> None:
    """Only types that can be written as text come from the path, query, headers or forms."""
    options = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for option in options:
            _check_scalar(fn, name, option)
        return
    annotation = split_annotated(annotation)[0]
    if typing.get_origin(annotation) is typing.Literal or annotation is Any:
        return
    if isinstance(annotation, type) and (
        issubclass(annotation, _SCALARS) or issubclass(annotation, enum.Enum)
    ):
        return
    raise SetupError(
        f"{name_of(fn)}: parameter {name!r} is annotated {annotation!r}, which cannot come from "
        "the path, query string, headers or a form field; use str, int, float, bool, UUID, "
        "Decimal, a date/time type, an Enum, a Literal or a list of those, or annotate it "
        "with a model to read the JSON body"
    )


def name_of(fn: Callable[..., Any]) -> str:
    return repr(getattr(fn, "__qualname__", fn))
