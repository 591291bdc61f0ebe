"""The body the OpenAPI document shows for error responses: RFC 9457 problems, or the app's own.

An app whose error handlers reshape errors names its error body once,
``OpenAPIConfig(error_model=...)``, or per group, ``app.group(..., error_model=...)``;
every 4xx/5xx response Zephyr documents for a route then shows that model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from zephyr.endpoints import RouteEndpoint

__all__ = ["PROBLEM", "VALIDATION_PROBLEM", "ErrorBodies"]

REF = "#/components/schemas/{name}"
PROBLEM = {
    "type": "object",
    "description": "An error, as RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    "required": ["type", "title", "status"],
}
VALIDATION_PROBLEM = {
    "type": "object",
    "description": "Invalid request values, each listed in `errors`.",
    "allOf": [{"$ref": REF.format(name="Problem")}],
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "location": {"enum": ["path", "query", "header", "cookie", "body", "form"]},
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "value": {},
                },
                "required": ["location", "field", "message"],
            },
        },
    },
    "required": ["errors"],
}


class Schemas(Protocol):
    """What the error bodies need from the document's schema collector."""

    def ref(self, annotation: Any) -> dict[str, Any]: ...

    def want_problems(self) -> None: ...


class ErrorBodies:
    """Which body each route's error responses show: the nearest ``error_model`` or problems."""

    __slots__ = ("_default", "_schemas")

    def __init__(self, schemas: Schemas, default_model: Any) -> None:
        self._schemas = schemas
        self._default = default_model

    def of(self, record: RouteEndpoint) -> tuple[dict[str, Any], dict[str, Any]]:
        """The content of ``record``'s error responses: ``(any error, a 422)``."""
        model = self._default
        for scaffold in record.lineage:  # the app first: the innermost group that says wins
            model = scaffold.options.get("error_model", model)
        if model is not None:
            content = {"application/json": {"schema": self._schemas.ref(model)}}
            return content, content
        self._schemas.want_problems()
        return _problem("Problem"), _problem("ValidationProblem")


def _problem(name: str) -> dict[str, Any]:
    return {"application/problem+json": {"schema": {"$ref": REF.format(name=name)}}}
