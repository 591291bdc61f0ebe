"""One handler argument each: where its value comes from and how it is checked.

Built once per handler parameter by :mod:`zephyr.params`; per request only
``extract`` (or ``aextract`` for arguments that read the body or run a
dependency) runs. Validation problems are raised as
:class:`~zephyr.errors.RequestValidationError` so the plan can report all of
them in one 422.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

from zephyr.background import BackgroundTasks
from zephyr.errors import RequestValidationError
from zephyr.requests import UploadFile, require_json
from zephyr.validation import problem

if TYPE_CHECKING:
    from zephyr.di import Dependency
    from zephyr.params import ParamInfo
    from zephyr.requests import Request

MISSING: Any = object()
Convert = Callable[[Any], Any]
#: Where a request keeps the BackgroundTasks its handler and dependencies share.
BACKGROUND_TASKS = "zephyr.background_tasks"


class Argument:
    """One parameter of a handler or dependency: its name, type, default and source."""

    location: ClassVar[str] = ""
    __slots__ = ("alias", "annotation", "convert", "default", "info", "is_list", "name")

    def __init__(self, name: str, annotation: Any, *, alias: str | None = None,
                 default: Any = MISSING, convert: Convert | None = None,
                 is_list: bool = False, info: ParamInfo | None = None) -> None:
        self.name = name
        self.alias = alias or name
        self.annotation = annotation
        self.default = default
        self.convert = convert
        self.is_list = is_list
        self.info = info

    @property
    def required(self) -> bool:
        """Whether the request must supply a value."""
        return self.default is MISSING

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.annotation!r})"


class LookupArgument(Argument, ABC):
    """A value read without awaiting: from the path, query string, headers or cookies."""

    __slots__ = ()

    def extract(self, request: Request) -> Any:
        """The converted value, the default, or a validation problem."""
        raw = self.raw(request)
        if raw is None or (self.is_list and not raw):
            if self.default is MISSING:
                raise RequestValidationError(
                    [problem(self.location, self.alias, "a value is required")]
                )
            return self.default
        return raw if self.convert is None else self.convert(raw)

    @abstractmethod
    def raw(self, request: Request) -> Any:
        """The unconverted value (``None`` when absent)."""


class PathArgument(LookupArgument):
    """A path parameter, already converted by the router (re-converted if annotated)."""

    location = "path"
    __slots__ = ()

    def raw(self, request: Request) -> Any:
        return request.path_params[self.alias]


class QueryArgument(LookupArgument):
    """A query string value (or all values of a repeated key, for list types)."""

    location = "query"
    __slots__ = ()

    def raw(self, request: Request) -> Any:
        query = request.query
        return query.getlist(self.alias) if self.is_list else query.get(self.alias)


class HeaderArgument(LookupArgument):
    """A request header (``user_agent`` reads ``User-Agent``)."""

    location = "header"
    __slots__ = ()

    def raw(self, request: Request) -> Any:
        headers = request.headers
        return headers.getlist(self.alias) if self.is_list else headers.get(self.alias)


class CookieArgument(LookupArgument):
    """A cookie sent by the client."""

    location = "cookie"
    __slots__ = ()

    def raw(self, request: Request) -> Any:
        return request.cookies.get(self.alias)


class RequestArgument(LookupArgument):
    """The request itself."""

    location = "request"
    __slots__ = ()

    def extract(self, request: Request) -> Any:
        return request

    def raw(self, request: Request) -> Any:
        return request


class BackgroundTasksArgument(LookupArgument):
    """The request's :class:`~zephyr.background.BackgroundTasks`, shared by the handler and
    its dependencies."""

    location = "background"
    __slots__ = ()

    def extract(self, request: Request) -> Any:
        scope = request.scope
        tasks = scope.get(BACKGROUND_TASKS)
        if tasks is None:
            # Only a plan made without it gets here (a dependency override registered after
            # the app started): the tasks then run as a cleanup, unless the request failed.
            tasks = scope[BACKGROUND_TASKS] = BackgroundTasks()
            request.add_cleanup(tasks.after_response)
        return tasks

    def raw(self, request: Request) -> Any:
        return self.extract(request)


class BodyArgument(Argument):
    """The JSON body, decoded into the annotated type while it is validated."""

    location = "body"
    __slots__ = ("decode",)

    def __init__(self, name: str, annotation: Any, *, decode: Callable[[bytes], Any],
                 **options: Any) -> None:
        super().__init__(name, annotation, **options)
        self.decode = decode

    async def aextract(self, request: Request) -> Any:
        body = await request.body()
        if not body:
            if self.default is MISSING:
                raise RequestValidationError(
                    [problem("body", "body", "a JSON request body is required")]
                )
            return self.default
        require_json(request)
        return self.decode(body)


class EmbeddedBodyArgument(Argument):
    """One member of a JSON object body shared by several ``Body()`` parameters."""

    location = "body"
    __slots__ = ()

    async def aextract(self, request: Request) -> Any:
        document = await _json_object(request)
        if self.alias not in document:
            if self.default is MISSING:
                raise RequestValidationError(
                    [problem("body", f"body.{self.alias}", "a value is required")]
                )
            return self.default
        value = document[self.alias]
        return value if self.convert is None else self.convert(value)


class FormArgument(Argument):
    """A form field (url-encoded or multipart), or the whole form as a model."""

    location = "form"
    __slots__ = ("list_fields", "whole_form")

    def __init__(self, name: str, annotation: Any, *, whole_form: bool = False,
                 list_fields: frozenset[str] = frozenset(), **options: Any) -> None:
        super().__init__(name, annotation, **options)
        self.whole_form = whole_form
        self.list_fields = list_fields

    async def aextract(self, request: Request) -> Any:
        form = await request.form()
        if self.whole_form:
            # Fields the model declares as lists get every value; the others the first.
            fields = {key: form.getlist(key) if key in self.list_fields else value
                      for key, value in form.items()}
            return self.convert(fields) if self.convert is not None else fields
        items = form.getlist(self.alias)
        if any(isinstance(item, UploadFile) for item in items):
            raise RequestValidationError(
                [problem("form", self.alias, "expected a text field, got a file")]
            )
        return _required_or_default(self, items if self.is_list else form.get(self.alias))


class FileArgument(Argument):
    """An uploaded file (or all files of a repeated field, for ``list[UploadFile]``)."""

    location = "form"
    __slots__ = ()

    async def aextract(self, request: Request) -> Any:
        form = await request.form()
        items = form.getlist(self.alias)
        if any(not isinstance(item, UploadFile) for item in items):
            raise RequestValidationError(
                [problem("form", self.alias, "expected a file upload, got a text field")]
            )
        return _required_or_default(self, items if self.is_list else form.get(self.alias))


class DependencyArgument(Argument):
    """The value of a dependency (``Depends(fn)``)."""

    location = "dependency"
    __slots__ = ("aextract", "dependency")

    def __init__(self, name: str, annotation: Any, *, dependency: Dependency) -> None:
        super().__init__(name, annotation)
        self.dependency = dependency
        # PERF: the dependency's own solve() is the extractor, one coroutine fewer.
        self.aextract: Callable[[Request], Awaitable[Any]] = dependency.solve


def _required_or_default(argument: Argument, raw: Any) -> Any:
    if raw is None or (argument.is_list and not raw):
        if argument.default is MISSING:
            raise RequestValidationError([problem("form", argument.alias, "a value is required")])
        return argument.default
    return raw if argument.convert is None else argument.convert(raw)


async def _json_object(request: Request) -> dict[str, Any]:
    document = await request.json() if await request.body() else {}
    if not isinstance(document, dict):
        raise RequestValidationError(
            [problem("body", "body", f"expected a JSON object, got {type(document).__name__}")]
        )
    return document
