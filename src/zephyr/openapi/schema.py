"""The OpenAPI 3.1 document of an app, built from its routes' argument plans and models.

Schemas come from msgspec (JSON Schema 2020-12, which OpenAPI 3.1 uses as
is) and, for pydantic models, from pydantic; named models become
``components/schemas`` entries referenced by ``$ref``.
"""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import msgspec

from zephyr._arguments import (
    MISSING,
    Argument,
    BackgroundTasksArgument,
    DependencyArgument,
    LookupArgument,
    PathArgument,
    RequestArgument,
)
from zephyr.converters import Compound
from zephyr.endpoints import response_model_of, success_status
from zephyr.models import is_pydantic_model, model_of
from zephyr.openapi.errors import PROBLEM, REF, VALIDATION_PROBLEM, ErrorBodies
from zephyr.openapi.parameters import parameter, request_body
from zephyr.openapi.security import SecuritySchemes
from zephyr.security.protect import ProtectedEndpoint

if TYPE_CHECKING:
    from collections.abc import Iterable

    from zephyr._plan import ArgumentPlan
    from zephyr.endpoints import RouteEndpoint
    from zephyr.openapi import OpenAPIConfig
    from zephyr.routing import Route

__all__ = ["build_document"]



def build_document(records: Iterable[RouteEndpoint], config: OpenAPIConfig,
                   session_cookie: str) -> dict[str, Any]:
    """The whole OpenAPI document for the compiled routes ``records``."""
    schemas = _SchemaCollector()
    errors = ErrorBodies(schemas, config.error_model)
    security = SecuritySchemes(session_cookie)
    paths: dict[str, dict[str, Any]] = {}
    operation_ids: set[str] = set()
    for record in records:
        route = record.route
        if record.plan is None or not route.options.get("include_in_schema", True):
            continue
        methods = sorted(route.methods - {"HEAD", "OPTIONS"}) or sorted(route.methods)
        needs = security.requirements(record.checked)
        for method in methods:
            operation = _operation(record, record.plan, method, schemas, errors, operation_ids)
            if needs is not None:
                operation["security"] = needs
            paths.setdefault(_path_template(route), {})[method.lower()] = operation
    info: dict[str, Any] = {"title": config.title, "version": config.version}
    if config.description:
        info["description"] = config.description
    document: dict[str, Any] = {"openapi": "3.1.0", "info": info, "paths": paths}
    if config.servers:
        document["servers"] = list(config.servers)
    components: dict[str, Any] = {}
    if resolved := schemas.resolve():
        components["schemas"] = resolved
    if security.schemes:
        components["securitySchemes"] = dict(sorted(security.schemes.items()))
    if components:
        document["components"] = components
    return document


def _path_template(route: Route) -> str:
    parts = []
    for segment in route.segments:
        if isinstance(segment, str):
            parts.append(segment)
        elif isinstance(segment, Compound):
            parts.append(re.sub("\x00([^\x00]+)\x00", r"{\1}", segment.template))
        else:
            parts.append(f"{{{segment.name}}}")
    return "/" + "/".join(parts)


def _operation(record: RouteEndpoint, plan: ArgumentPlan, method: str,
               schemas: _SchemaCollector, errors: ErrorBodies,
               operation_ids: set[str]) -> dict[str, Any]:
    route = record.route
    options = route.options
    doc = inspect.getdoc(route.handler) or ""
    first, _, rest = doc.partition("\n\n")
    operation: dict[str, Any] = {"operationId": _operation_id(route, method, operation_ids)}
    summary = options.get("summary") or " ".join(first.split())
    if summary:
        operation["summary"] = summary
    description = options.get("description") or rest.strip()
    if description:
        operation["description"] = description
    tags = options.get("tags") or [s.name for s in record.lineage[1:] if s.name]
    if tags:
        operation["tags"] = list(tags)
    if options.get("deprecated"):
        operation["deprecated"] = True
    arguments = _unique(_all_arguments(plan))
    parameters = [p for a in arguments if (p := parameter(route, a, schemas)) is not None]
    if parameters:
        operation["parameters"] = parameters
    body = request_body(arguments, schemas)
    if body is not None:
        operation["requestBody"] = body
    operation["responses"] = _responses(record, arguments, body is not None, schemas, errors)
    return operation


def _operation_id(route: Route, method: str, taken: set[str]) -> str:
    wanted = route.options.get("operation_id") or re.sub(r"\W", "_", f"{route.name}_{method}")
    candidate, n = wanted, 2
    while candidate in taken:
        candidate, n = f"{wanted}_{n}", n + 1
    taken.add(candidate)
    return str(candidate)


def _all_arguments(plan: ArgumentPlan) -> Iterator[Argument]:
    """The plan's arguments and, depth first, those of its dependencies."""
    for dependency in plan.dependencies:
        yield from _all_arguments(dependency.plan)  # type: ignore[arg-type]
    for argument in plan.arguments:
        if isinstance(argument, DependencyArgument):
            yield from _all_arguments(argument.dependency.plan)  # type: ignore[arg-type]
        else:
            yield argument


def _unique(arguments: Iterator[Argument]) -> list[Argument]:
    """One argument per name and location: dependencies may read the same value."""
    seen: dict[tuple[str, str], Argument] = {}
    for argument in arguments:
        seen.setdefault((argument.location, argument.alias), argument)
    return list(seen.values())


def _responses(record: RouteEndpoint, arguments: list[Argument], has_body: bool,
               schemas: _SchemaCollector, errors: ErrorBodies) -> dict[str, Any]:
    route = record.route
    status = str(success_status(route))
    success: dict[str, Any] = {"description": "Successful response"}
    model = response_model_of(route)
    if model is not None and status not in ("204", "304"):
        success["content"] = {"application/json": {"schema": schemas.ref(model)}}
    responses: dict[str, Any] = {status: success}
    refusals: dict[str, str] = {}
    if any(isinstance(a, PathArgument) for a in arguments):
        refusals["404"] = "Not found"
    if has_body:
        refusals.update({"400": "Malformed body", "413": "Body too large",
                         "415": "Unsupported content type"})
    if any(_can_be_refused(a) for a in arguments):
        refusals["422"] = "Invalid request values"
    refusals.update(_security_refusals(record.checked))
    if refusals:
        content, invalid = errors.of(record)
        for code, text in refusals.items():
            responses[code] = {"description": text,
                               "content": invalid if code == "422" else content}
    for code, extra in (route.options.get("responses") or {}).items():
        responses[str(code)] = extra
    return responses


def _security_refusals(endpoint: object) -> dict[str, str]:
    """The refusals the route's security checks may answer with, and their descriptions."""
    if not isinstance(endpoint, ProtectedEndpoint):
        return {}
    security, found = endpoint.security, {}
    if security.auth:
        found["401"] = "Missing or wrong credentials"
    if security.permissions:
        found["403"] = "Not permitted"
    elif endpoint.checks_csrf:
        found["403"] = "Refused as a cross-site request (CSRF)"
    if security.limits or endpoint.throttled:
        found["429"] = "Too many requests"
    if security.timeout is not None:
        found["503"] = "The handler took too long"
    return found


def _can_be_refused(argument: Argument) -> bool:
    """Whether validating this argument may end in a 422."""
    if isinstance(argument, RequestArgument | BackgroundTasksArgument):
        return False  # provided by Zephyr, never by the client
    if isinstance(argument, PathArgument):
        return argument.convert is not None  # else the router's converter already matched
    if isinstance(argument, LookupArgument):
        return argument.required or argument.convert is not None
    return True  # bodies and form fields


class _SchemaCollector:
    """Hands out schemas now and fills them in once every type is known.

    msgspec names components consistently only when it sees all types in one
    call, so :meth:`ref` returns a placeholder that :meth:`resolve` completes.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[Any, dict[str, Any]]] = []
        self._problems = False

    def ref(self, annotation: Any) -> dict[str, Any]:
        placeholder: dict[str, Any] = {}
        self._pending.append((annotation, placeholder))
        return placeholder

    def want_problems(self) -> None:
        self._problems = True

    def resolve(self) -> dict[str, Any]:
        components: dict[str, Any] = {}
        msgspec_types = []
        for annotation, placeholder in self._pending:
            special = _special_schema(annotation)
            if special is not None:
                placeholder.update(special)
            elif _is_pydantic(annotation):
                placeholder.update(_pydantic_schema(annotation, components))
            else:
                msgspec_types.append((annotation, placeholder))
        if msgspec_types:
            found, defined = msgspec.json.schema_components(
                [annotation for annotation, _ in msgspec_types], ref_template=REF
            )
            for (_, placeholder), schema in zip(msgspec_types, found, strict=True):
                placeholder.update(schema)
            for schema in defined.values():
                if "description" in schema:
                    # msgspec copies docstrings as written (indented before Python 3.13),
                    # and Markdown renders indented lines as code.
                    schema["description"] = inspect.cleandoc(schema["description"])
            components.update(defined)
        if self._problems:
            components["Problem"] = PROBLEM
            components["ValidationProblem"] = VALIDATION_PROBLEM
        return components


def _special_schema(annotation: Any) -> dict[str, Any] | None:
    if annotation is MISSING or annotation is Any:
        return {}
    if annotation is uuid.UUID:
        return {"type": "string", "format": "uuid"}
    return None


def _is_pydantic(annotation: Any) -> bool:
    model = model_of(annotation)
    return model is not None and is_pydantic_model(model)


def _pydantic_schema(annotation: Any, components: dict[str, Any]) -> dict[str, Any]:
    from pydantic import TypeAdapter

    schema = TypeAdapter(annotation).json_schema(ref_template=REF.replace("{name}", "{model}"))
    components.update(schema.pop("$defs", {}))
    model = model_of(annotation)
    if model is annotation:
        components[model.__name__] = schema
        return {"$ref": REF.format(name=model.__name__)}
    return dict(schema)
