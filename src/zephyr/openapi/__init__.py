"""OpenAPI 3.1: a schema generated from the routes, and the pages that show it.

The schema is built from what the app already knows (argument plans, response
models, docstrings, groups) and served at ``/openapi.json``, with Swagger UI
at ``/docs`` and ReDoc at ``/redoc``, their assets served by the app itself
(no CDN). It is on in debug mode and off otherwise unless ``OPENAPI=True``;
``OpenAPIConfig(dependencies=[...])`` puts the pages behind dependencies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from zephyr.models import require_model

if TYPE_CHECKING:
    from zephyr.di import Depends

__all__ = ["OpenAPIConfig"]


@dataclass(frozen=True, slots=True)
class OpenAPIConfig:
    """What the OpenAPI document says about the API, and where it and its pages are served.

    ``app.openapi_config = OpenAPIConfig(title="Notes", version="1.2.0")``
    before the app starts. A path set to ``None`` is not served. ``error_model``
    (a model) is the JSON body every documented error response shows, for an app
    whose error handlers reshape errors; ``None`` documents problem+json (RFC 9457).
    A group's ``error_model=`` option overrides it for the group's routes.
    """

    title: str = "Zephyr API"
    version: str = "0.1.0"
    description: str | None = None
    openapi_url: str = "/openapi.json"
    docs_url: str | None = "/docs"
    redoc_url: str | None = "/redoc"
    dependencies: Sequence[Depends] = ()
    servers: Sequence[dict[str, Any]] = field(default_factory=tuple)
    error_model: Any = None

    def __post_init__(self) -> None:
        if self.error_model is not None:
            require_model(self.error_model, "OpenAPIConfig: error_model")
