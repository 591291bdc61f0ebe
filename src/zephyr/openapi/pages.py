"""The routes that serve the OpenAPI document, Swagger UI and ReDoc, assets included.

The assets come from the ``openapi-ui-bundles`` package (the ``openapi``
extra), so the pages work without any CDN; without it, ``/docs`` and
``/redoc`` say how to install it.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zephyr.errors import NotFound
from zephyr.openapi.schema import build_document
from zephyr.requests import Request  # at runtime: the handlers below are annotated with it
from zephyr.responses import FileResponse, HTMLResponse, JSONResponse, Response

if TYPE_CHECKING:
    from zephyr.endpoints import RouteEndpoint
    from zephyr.openapi import OpenAPIConfig
    from zephyr.routing import Router, RouteTable
    from zephyr.scaffold import Group, Scaffold

__all__ = ["install"]

_SWAGGER_ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")
_REDOC_ASSETS = ("redoc.standalone.js",)
_CACHE = {"cache-control": "public, max-age=86400"}


def install(app: Scaffold, router: Router[RouteEndpoint], config: OpenAPIConfig,
            session_cookie: str) -> None:
    """Register the document and page routes on ``app`` (hidden from the schema itself)."""
    group = app.group("", dependencies=config.dependencies)
    hidden: dict[str, Any] = {"include_in_schema": False}
    cached: dict[str, Any] = {"table": None, "document": None}

    async def openapi_document(request: Request) -> Response:
        # Routes can change while serving; rebuild when the route table did.
        table: RouteTable[RouteEndpoint] = router.table
        if cached["table"] is not table:
            cached["document"] = build_document(table.records, config, session_cookie)
            cached["table"] = table
        document: dict[str, Any] = cached["document"]
        root: str = request.scope.get("root_path", "")
        if root and not config.servers:
            # Behind a path prefix, "Try it out" must call the prefixed URLs.
            document = {**document, "servers": [{"url": root.rstrip("/") or "/"}]}
        return JSONResponse(document)

    group.add_route(config.openapi_url, openapi_document, name="openapi.document", **hidden)
    viewers = (
        ("swagger_ui", config.docs_url, _swagger_html, _SWAGGER_ASSETS),
        ("redoc", config.redoc_url, _redoc_html, _REDOC_ASSETS),
    )
    for bundle, url, render, assets in viewers:
        if url is not None:
            _add_viewer(group, config, bundle, url, render, assets)


# Swagger UI and ReDoc style their widgets with injected <style> elements (ReDoc also
# parses the document in a blob: worker): their pages alone get this policy.
VIEWER_CSP = (
    "default-src 'self'; script-src 'self'{nonce}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'"
)


def _add_viewer(group: Group, config: OpenAPIConfig, bundle: str, url: str,
                render: Callable[[str, str, str, str], str], assets: tuple[str, ...]) -> None:
    """The page of one documentation viewer at ``url`` and its assets below it."""

    async def page(request: Request) -> Response:
        return _page(request, config, url, render)

    async def asset(asset: str) -> Response:
        return _asset(bundle, asset, assets)

    group.add_route(url, page, name=f"openapi.{bundle}", include_in_schema=False,
                    security_headers={"Content-Security-Policy": VIEWER_CSP})
    group.add_route(url + "/{asset}", asset, name=f"openapi.{bundle}_asset",
                    include_in_schema=False)


def _page(request: Request, config: OpenAPIConfig, base: str,
          render: Callable[[str, str, str, str], str]) -> Response:
    if _bundle_dir("swagger_ui") is None:
        return HTMLResponse(
            "<!doctype html><title>API docs</title><p>The API documentation pages need the "
            "<code>openapi</code> extra: <code>pip install 'zephyr[openapi]'</code>. The "
            f"schema itself is at <a href='{html.escape(_url(request, config.openapi_url))}'>"
            f"{html.escape(config.openapi_url)}</a>.</p>",
            status_code=501,
        )
    assets = _url(request, base)
    page = render(config.title, _url(request, config.openapi_url), assets, request.csp_nonce)
    return HTMLResponse(page)


def _url(request: Request, path: str) -> str:
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/") + path


def _swagger_html(title: str, document: str, assets: str, nonce: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)} - Swagger UI</title>"
        f'<link rel=icon href="{html.escape(assets)}/favicon-32x32.png">'
        f'<link rel=stylesheet href="{html.escape(assets)}/swagger-ui.css"></head>'
        '<body><div id="swagger-ui"></div>'
        f'<script src="{html.escape(assets)}/swagger-ui-bundle.js"></script>'
        f'<script nonce="{nonce}">window.ui = SwaggerUIBundle({{url: '
        f"{_js_string(document)}, dom_id: '#swagger-ui', deepLinking: true}});</script>"
        "</body></html>"
    )


def _redoc_html(title: str, document: str, assets: str, nonce: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)} - ReDoc</title>"
        '<meta name=viewport content="width=device-width, initial-scale=1"></head>'
        f'<body><redoc spec-url="{html.escape(document)}"></redoc>'
        f'<script src="{html.escape(assets)}/redoc.standalone.js"></script></body></html>'
    )


def _js_string(value: str) -> str:
    # SECURITY: json.dumps quotes the string; escaping '<' keeps '</script>' out of it.
    return json.dumps(value).replace("<", "\\u003c")


def _asset(bundle: str, name: str, allowed: tuple[str, ...]) -> Response:
    # SECURITY: only the listed files are served; no path from the client reaches the disk.
    directory = _bundle_dir(bundle)
    if directory is None or name not in allowed:
        raise NotFound("no such documentation asset", received={"asset": name})
    return FileResponse(directory / name, headers=_CACHE)


def _bundle_dir(bundle: str) -> Path | None:
    try:
        import openapi_ui_bundles
    except ImportError:
        return None
    directory: Path = getattr(openapi_ui_bundles, bundle).static_path
    return directory
