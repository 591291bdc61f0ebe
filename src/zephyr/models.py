"""Data models: what counts as one, and turning JSON or Python data into one.

A model is a ``msgspec.Struct``, a dataclass, a ``TypedDict`` or (when
pydantic is installed) a pydantic model. msgspec validates the first three,
pydantic its own; both report problems as :class:`~zephyr.errors.RequestValidationError`
entries of the same shape (see :mod:`zephyr.validation`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from typing import Any

import msgspec

from zephyr.errors import BadRequest, RequestValidationError, SetupError
from zephyr.validation import msgspec_errors, pydantic_errors

__all__ = [
    "is_model",
    "is_pydantic_model",
    "json_decoder",
    "model_fields",
    "model_of",
    "python_converter",
    "require_model",
]


def is_pydantic_model(annotation: Any) -> bool:
    """Whether ``annotation`` is a pydantic model class (without importing pydantic)."""
    return isinstance(annotation, type) and any(
        cls.__name__ == "BaseModel" and cls.__module__.startswith("pydantic")
        for cls in annotation.__mro__
    )


def is_model(annotation: Any) -> bool:
    """Whether ``annotation`` is a Struct, dataclass, TypedDict or pydantic model class."""
    if not isinstance(annotation, type):
        return False
    return (
        issubclass(annotation, msgspec.Struct)
        or dataclasses.is_dataclass(annotation)
        or typing.is_typeddict(annotation)
        or is_pydantic_model(annotation)
    )


def model_of(annotation: Any) -> Any:
    """The model inside ``annotation`` (itself, or the item of ``list[...]``), else None."""
    if is_model(annotation):
        return annotation
    if typing.get_origin(annotation) in (list, tuple, set, frozenset):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        if len(args) == 1 and is_model(args[0]):
            return args[0]
    return None


def require_model(value: Any, option: str) -> Any:
    """``value`` if it is a model or a list of models (see :func:`model_of`), else SetupError."""
    if model_of(value) is None:
        raise SetupError(f"{option} must be a model (a msgspec Struct, dataclass, TypedDict or "
                         f"pydantic model), not {value!r}")
    return value


def model_fields(model: Any) -> dict[str, Any]:
    """The fields of a model class and their annotations."""
    if is_pydantic_model(model):
        return {name: field.annotation for name, field in model.model_fields.items()}
    if isinstance(model, type) and issubclass(model, msgspec.Struct):
        return {field.name: field.type for field in msgspec.structs.fields(model)}
    return dict(typing.get_type_hints(model))


def json_decoder(annotation: Any, *, root: str = "body") -> Callable[[bytes], Any]:
    """A function that decodes JSON bytes into ``annotation``, validating as it goes.

    Malformed JSON raises ``BadRequest`` (400, with the parser's position);
    JSON that does not fit raises ``RequestValidationError`` (422).
    """
    if _uses_pydantic(annotation):
        return _pydantic_json_decoder(annotation, root)
    decode = msgspec.json.Decoder(annotation).decode

    def decode_json(data: bytes) -> Any:
        try:
            return decode(data)
        except msgspec.ValidationError as exc:
            if "Expected `int`, got `float`" in str(exc):
                return _with_whole_floats_as_ints(data, annotation, root)
            raise RequestValidationError(_body_errors(exc, data, root)) from None
        except msgspec.DecodeError as exc:
            detail = str(exc).removeprefix("JSON is malformed: ")
            if "UTF-8" in detail:  # msgspec >= 0.23 no longer says where
                _raise_for_bad_utf8(data)
            raise BadRequest(f"malformed JSON: {detail}") from None
        except UnicodeDecodeError:
            # msgspec < 0.23 reports bad bytes inside a string this way.
            _raise_for_bad_utf8(data)
        except RecursionError:
            raise _too_deep() from None

    return decode_json


def _too_deep() -> BadRequest:
    # SECURITY: nesting is bounded by the recursion limit; deeper is a 400, never a 500.
    return BadRequest("malformed JSON: the document is nested too deeply")


def _raise_for_bad_utf8(data: bytes) -> None:
    """Refuse ``data`` with the bytes around its first invalid UTF-8 sequence."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        near = data[max(exc.start - 20, 0) : exc.end]
        raise BadRequest(f"malformed JSON: a string is not valid UTF-8 at byte {exc.start}",
                         received={"near": repr(near)}) from None
    raise BadRequest("malformed JSON: a string is not valid UTF-8")


def _with_whole_floats_as_ints(data: bytes, annotation: Any, root: str) -> Any:
    """Decode again, reading ``1.0`` as ``1`` (JSON Schema counts it as an integer).

    Only reached when the strict decode refused a float for an int, so valid
    requests never pay for it; strings still never pass for numbers.
    """
    try:
        document = _integral_floats_to_ints(msgspec.json.decode(data))
        return msgspec.convert(document, annotation)
    except msgspec.ValidationError as exc:
        raise RequestValidationError(_body_errors(exc, data, root)) from None
    except RecursionError:
        # The strict decode stopped at the float, before the deep part: the parser, the
        # walk above or the conversion is where the nesting shows.
        raise _too_deep() from None


def _integral_floats_to_ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral_floats_to_ints(item) for item in value]
    if isinstance(value, dict):
        return {key: _integral_floats_to_ints(item) for key, item in value.items()}
    return value


def python_converter(annotation: Any, *, location: str, root: str) -> Callable[[Any], Any]:
    """A function that converts strings, lists and dicts (query, form...) into ``annotation``.

    Strings are read leniently (``"1"`` fits ``int``, ``"true"`` fits ``bool``).
    """
    if _uses_pydantic(annotation):
        from pydantic import TypeAdapter, ValidationError

        adapter = TypeAdapter(annotation)

        def convert_pydantic(value: Any) -> Any:
            try:
                return adapter.validate_python(value)
            except ValidationError as exc:
                raise RequestValidationError(pydantic_errors(exc, location, root=root)) from None

        return convert_pydantic

    def convert(value: Any) -> Any:
        try:
            return msgspec.convert(value, annotation, strict=False)
        except msgspec.ValidationError as exc:
            raise RequestValidationError(msgspec_errors(exc, location, value, root=root)) from None

    return convert


def _uses_pydantic(annotation: Any) -> bool:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]  # Annotated[Model, Body()]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        # Model | None: any pydantic model among the options makes pydantic validate it.
        return any(_uses_pydantic(option) for option in typing.get_args(annotation))
    model = model_of(annotation)
    return model is not None and is_pydantic_model(model)


def _pydantic_json_decoder(annotation: Any, root: str) -> Callable[[bytes], Any]:
    from pydantic import TypeAdapter, ValidationError

    adapter = TypeAdapter(annotation)

    def decode_json(data: bytes) -> Any:
        try:
            return adapter.validate_json(data)
        except ValidationError as exc:
            if any(error["type"] == "json_invalid" for error in exc.errors()):
                raise BadRequest(f"malformed JSON: {exc.errors()[0]['msg']}") from None
            raise RequestValidationError(pydantic_errors(exc, "body", root=root)) from None

    return decode_json


def _body_errors(
    exc: msgspec.ValidationError, data: bytes, root: str
) -> list[dict[str, Any]]:
    """The ``errors`` entries for a body that does not fit, quoting the offending value.

    Only on the error path is the document decoded again as plain data, to
    find that value; when even that fails (too deep), the value is left out.
    """
    try:
        document = msgspec.json.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return msgspec_errors(exc, "body", root=root)
    return msgspec_errors(exc, "body", document, root=root)
