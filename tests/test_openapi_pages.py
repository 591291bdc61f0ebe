"""The routes serving the OpenAPI document, Swagger UI and ReDoc (zephyr.openapi.pages)."""

import sys
from typing import Annotated, Any

import openapi_ui_bundles
import pytest

from zephyr import Depends, Header, HTTPException, Zephyr
from zephyr.openapi import OpenAPIConfig
from zephyr.testing import TestClient

PAGES = ("/openapi.json", "/docs", "/redoc")
HTML = "text/html; charset=utf-8"
JAVASCRIPT = "text/javascript; charset=utf-8"


def api_app(**settings: Any) -> Zephyr:
    app = Zephyr(**settings)

    @app.get("/items")
    def items() -> list[str]:
        return []

    return app


# -- when the pages are served -------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "served"),
    [
        ({}, False),
        ({"debug": True}, True),
        ({"openapi": True}, True),
        ({"debug": True, "openapi": False}, False),
    ],
)
def test_pages_are_served_in_debug_or_when_asked(settings: dict[str, Any], served: bool) -> None:
    with TestClient(api_app(**settings)) as client:
        responses = {url: client.get(url) for url in PAGES}
    for url, response in responses.items():
        if served:
            assert response.status_code == 200, url
        else:
            assert response.status_code == 404, url
            assert response.json()["detail"] == "no route matches this path"


def test_the_pages_are_not_in_the_document() -> None:
    with TestClient(api_app(openapi=True)) as client:
        assert list(client.get("/openapi.json").json()["paths"]) == ["/items"]


# -- the HTML pages ------------------------------------------------------------------------


def test_swagger_ui_page_loads_its_assets_and_the_document() -> None:
    with TestClient(api_app(openapi=True)) as client:
        response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"] == HTML
    page = response.text
    assert "<title>Zephyr API - Swagger UI</title>" in page
    assert 'href="/docs/swagger-ui.css"' in page
    assert '<script src="/docs/swagger-ui-bundle.js"></script>' in page
    assert 'SwaggerUIBundle({url: "/openapi.json",' in page


def test_redoc_page_loads_its_asset_and_the_document() -> None:
    with TestClient(api_app(openapi=True)) as client:
        response = client.get("/redoc")
    assert response.status_code == 200
    assert response.headers["content-type"] == HTML
    page = response.text
    assert "<title>Zephyr API - ReDoc</title>" in page
    assert '<redoc spec-url="/openapi.json"></redoc>' in page
    assert '<script src="/redoc/redoc.standalone.js"></script>' in page


@pytest.mark.parametrize("url", ["/docs", "/redoc"])
def test_the_title_cannot_break_out_of_the_page(url: str) -> None:
    app = api_app(openapi=True)
    app.openapi_config = OpenAPIConfig(title='Shop </script><script>alert("x")</script>')
    with TestClient(app) as client:
        page = client.get(url).text
    assert "<script>alert" not in page
    assert "Shop &lt;/script&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; - " in page


@pytest.mark.parametrize(("url", "scripts"), [("/docs", 2), ("/redoc", 1)])
def test_a_hostile_root_path_cannot_break_out_of_the_page(url: str, scripts: int) -> None:
    root = '/p"></redoc></script><script>alert(1)</script>'
    with TestClient(api_app(openapi=True), root_path=root) as client:
        page = client.get(url).text
    assert page.count("<script") == scripts  # the page's own, nothing injected
    assert page.count("</redoc>") == (url == "/redoc")
    if url == "/docs":
        assert r'{url: "/p\">\u003c/redoc>\u003c/script>\u003cscript>alert(1)' in page
    else:
        assert '<redoc spec-url="/p&quot;&gt;&lt;/redoc&gt;&lt;/script&gt;' in page


def test_root_path_prefixes_every_url_in_the_pages_and_the_document() -> None:
    with TestClient(api_app(openapi=True), root_path="/shop") as client:
        swagger = client.get("/docs").text
        redoc = client.get("/redoc").text
        document = client.get("/openapi.json").json()
        asset = client.get("/docs/swagger-ui.css")
    assert 'SwaggerUIBundle({url: "/shop/openapi.json",' in swagger
    assert '<script src="/shop/docs/swagger-ui-bundle.js"></script>' in swagger
    assert 'href="/shop/docs/swagger-ui.css"' in swagger
    assert '<redoc spec-url="/shop/openapi.json"></redoc>' in redoc
    assert '<script src="/shop/redoc/redoc.standalone.js"></script>' in redoc
    # "Try it out" calls the API through the same prefix.
    assert document["servers"] == [{"url": "/shop"}]
    assert asset.status_code == 200


def test_configured_servers_win_over_the_root_path() -> None:
    app = api_app(openapi=True)
    app.openapi_config = OpenAPIConfig(servers=[{"url": "https://api.example"}])
    with TestClient(app, root_path="/shop") as client:
        document = client.get("/openapi.json").json()
    assert document["servers"] == [{"url": "https://api.example"}]


def test_no_root_path_no_servers() -> None:
    with TestClient(api_app(openapi=True)) as client:
        assert "servers" not in client.get("/openapi.json").json()


# -- assets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "bundle", "content_type"),
    [
        ("/docs/swagger-ui-bundle.js", "swagger_ui", JAVASCRIPT),
        ("/docs/swagger-ui.css", "swagger_ui", "text/css; charset=utf-8"),
        ("/docs/favicon-32x32.png", "swagger_ui", "image/png"),
        ("/redoc/redoc.standalone.js", "redoc", JAVASCRIPT),
    ],
)
def test_assets_are_served_from_the_bundles_with_caching(
    url: str, bundle: str, content_type: str
) -> None:
    with TestClient(api_app(openapi=True)) as client:
        response = client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["cache-control"] == "public, max-age=86400"
    expected = getattr(openapi_ui_bundles, bundle).static_path / url.rsplit("/", 1)[1]
    assert response.content == expected.read_bytes()


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("/docs/index.html", "no such documentation asset"),
        ("/docs/redoc.standalone.js", "no such documentation asset"),
        ("/redoc/swagger-ui.css", "no such documentation asset"),
        ("/docs/%2E%2E", "no such documentation asset"),
        ("/docs/..%2Fpages.py", "no route matches this path"),
        ("/docs/..%2F..%2Fetc%2Fpasswd", "no route matches this path"),
        ("/docs/swagger-ui.css/x", "no route matches this path"),
    ],
)
def test_unknown_assets_and_traversal_attempts_are_404(url: str, detail: str) -> None:
    with TestClient(api_app(openapi=True)) as client:
        response = client.get(url)
    assert response.status_code == 404
    assert response.json()["detail"] == detail


# -- configuration ---------------------------------------------------------------------------


def test_custom_urls_and_switched_off_pages() -> None:
    app = api_app(openapi=True)
    app.openapi_config = OpenAPIConfig(openapi_url="/api/schema.json", docs_url="/api/ui",
                                       redoc_url=None)
    with TestClient(app) as client:
        status = {url: client.get(url).status_code for url in (
            "/api/schema.json", "/api/ui", "/api/ui/swagger-ui.css",
            "/openapi.json", "/docs", "/redoc", "/redoc/redoc.standalone.js",
        )}
        page = client.get("/api/ui").text
    assert status == {
        "/api/schema.json": 200, "/api/ui": 200, "/api/ui/swagger-ui.css": 200,
        "/openapi.json": 404, "/docs": 404, "/redoc": 404, "/redoc/redoc.standalone.js": 404,
    }
    assert 'SwaggerUIBundle({url: "/api/schema.json",' in page
    assert 'href="/api/ui/swagger-ui.css"' in page


def test_docs_switched_off_leaves_redoc() -> None:
    app = api_app(openapi=True)
    app.openapi_config = OpenAPIConfig(docs_url=None)
    with TestClient(app) as client:
        assert client.get("/docs").status_code == 404
        assert client.get("/docs/swagger-ui.css").status_code == 404
        assert client.get("/redoc").status_code == 200


def require_token(x_token: Annotated[str, Header()] = "") -> None:
    if x_token != "let-me-in":
        raise HTTPException(401, "the API docs need an X-Token header",
                            headers={"WWW-Authenticate": "Token"})


@pytest.mark.parametrize("url", [*PAGES, "/docs/swagger-ui.css", "/redoc/redoc.standalone.js"])
def test_dependencies_guard_every_page(url: str) -> None:
    app = api_app(openapi=True)
    app.openapi_config = OpenAPIConfig(dependencies=[Depends(require_token)])
    with TestClient(app) as client:
        refused = client.get(url)
        wrong = client.get(url, headers={"X-Token": "guess"})
        allowed = client.get(url, headers={"X-Token": "let-me-in"})
        api = client.get("/items")
    for response in (refused, wrong):
        assert response.status_code == 401
        assert response.json()["detail"] == "the API docs need an X-Token header"
        assert response.headers["www-authenticate"] == "Token"
    assert allowed.status_code == 200
    assert api.status_code == 200  # the API itself is not behind the docs' dependencies


def test_without_the_bundles_the_pages_say_how_to_install_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "openapi_ui_bundles", None)  # import fails
    with TestClient(api_app(openapi=True), root_path="/shop") as client:
        pages = {url: client.get(url) for url in ("/docs", "/redoc")}
        asset = client.get("/docs/swagger-ui.css")
        document = client.get("/openapi.json")
    for response in pages.values():
        assert response.status_code == 501
        assert response.headers["content-type"] == HTML
        assert "<code>pip install 'zephyr[openapi]'</code>" in response.text
        assert "<a href='/shop/openapi.json'>/openapi.json</a>" in response.text
    assert asset.status_code == 404
    assert asset.json()["detail"] == "no such documentation asset"
    assert document.status_code == 200
    assert list(document.json()["paths"]) == ["/items"]
