"""OpenAPI security schemes: one per authentication backend, and what each operation needs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from zephyr import Zephyr
from zephyr.security import (
    APIKeyAuth,
    AuthBackend,
    BasicAuth,
    BearerAuth,
    IsAuthenticated,
    JWTCodec,
    SessionAuth,
    static_tokens,
)
from zephyr.security.auth import JWTAuth
from zephyr.testing import TestClient

TOKENS = static_tokens({"token-0123456789": object()})


class HeaderTicket(AuthBackend):
    """A backend of the app's own, described for OpenAPI with ``openapi_scheme``."""

    openapi_scheme = ("ticket", {"type": "apiKey", "in": "header", "name": "X-Ticket"})

    async def authenticate(self, request: Any) -> Any:
        return None

    def challenge(self) -> str:
        return 'Ticket realm="api"'


class Undescribed(HeaderTicket):
    openapi_scheme = None  # type: ignore[assignment]


def document(app: Zephyr) -> dict[str, Any]:
    with TestClient(app) as client:
        body: dict[str, Any] = client.get("/openapi.json").json()
    validate(body)
    return body


BUILT_IN = [
    (BearerAuth(TOKENS), "bearer", {"type": "http", "scheme": "bearer"}),
    (JWTAuth(JWTCodec(key="k" * 32)), "bearerJWT",
     {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}),
    (BasicAuth(lambda user, password: None), "basic", {"type": "http", "scheme": "basic"}),
    (APIKeyAuth(TOKENS, header="X-Key"), "apiKey.X-Key",
     {"type": "apiKey", "in": "header", "name": "X-Key"}),
    (SessionAuth(lambda user_id: None), "session",
     {"type": "apiKey", "in": "cookie", "name": "sid"}),
]


@pytest.mark.parametrize(("backend", "name", "scheme"), [
    *BUILT_IN,
    (HeaderTicket(), "ticket", {"type": "apiKey", "in": "header", "name": "X-Ticket"}),
    (BearerAuth(TOKENS, scheme="bearer"), "bearer", {"type": "http", "scheme": "bearer"}),
    # Swagger UI sends http schemes other than basic and bearer nowhere: another scheme word
    # is an API key in the Authorization header, its value typed with the word.
    (BearerAuth(TOKENS, scheme="Token"), "token",
     {"type": "apiKey", "in": "header", "name": "Authorization",
      "description": "Send `Authorization: Token <token>`: type `Token`, a space, "
                     "then the token."}),
    (JWTAuth(JWTCodec(key="k" * 32), scheme="Token"), "tokenJWT",
     {"type": "apiKey", "in": "header", "name": "Authorization",
      "description": "Send `Authorization: Token <JWT>`: type `Token`, a space, "
                     "then the JWT."}),
    (BearerAuth(TOKENS, scheme="X-Ticket+1"), "x-ticket_1",
     {"type": "apiKey", "in": "header", "name": "Authorization",
      "description": "Send `Authorization: X-Ticket+1 <token>`: type `X-Ticket+1`, a space, "
                     "then the token."}),
])
def test_each_backend_is_a_security_scheme(backend: AuthBackend, name: str,
                                           scheme: dict[str, Any]) -> None:
    app = Zephyr(openapi=True, session_cookie_name="sid")

    @app.get("/me", auth=[backend], permissions=[IsAuthenticated()])
    async def me() -> dict[str, str]:
        return {}

    body = document(app)
    assert body["components"]["securitySchemes"] == {name: scheme}
    assert body["paths"]["/me"]["get"]["security"] == [{name: []}]


def test_without_permissions_credentials_are_optional_and_public_routes_need_none() -> None:
    app = Zephyr(openapi=True)
    app.auth_backends.extend([BearerAuth(TOKENS), APIKeyAuth(TOKENS), Undescribed()])

    @app.get("/feed")
    async def feed() -> list[str]:
        return []

    @app.get("/public", auth=[])
    async def public() -> list[str]:
        return []

    body = document(app)
    # Any one scheme, or none ({}); the backend nobody described is left out.
    assert body["paths"]["/feed"]["get"]["security"] == [
        {"bearer": []}, {"apiKey.X-API-Key": []}, {}]
    assert "security" not in body["paths"]["/public"]["get"]
    assert sorted(body["components"]["securitySchemes"]) == ["apiKey.X-API-Key", "bearer"]


def test_an_app_without_backends_has_no_security_schemes() -> None:
    app = Zephyr(openapi=True)

    @app.get("/open")
    async def open_route() -> list[str]:
        return []

    body = document(app)
    assert "securitySchemes" not in body.get("components", {})
    assert "security" not in body["paths"]["/open"]["get"]


def test_the_docs_name_each_built_in_scheme_as_the_document_does() -> None:
    page = Path(__file__).resolve().parents[1] / "docs" / "openapi.md"
    # The table rows: | `Backend(...)` | `name` | ...
    documented = dict(re.findall(r"^\| `(\w+)[^`]*` \| `([^`]+)` \|", page.read_text(),
                                 flags=re.MULTILINE))
    # An API key's scheme is named after its header (X-Key in BUILT_IN, X-API-Key in the docs).
    named = {type(backend).__name__: name.replace("X-Key", "X-API-Key")
             for backend, name, _ in BUILT_IN}
    assert documented == named


@pytest.mark.parametrize("cors", [None, {"allow_origins": ["https://app.example.com"]}])
def test_a_route_with_cors_documents_its_security_as_without(cors: Any) -> None:
    app = Zephyr(__name__, openapi=True)
    options = {} if cors is None else {"cors": cors}

    @app.post("/notes", auth=[BearerAuth(TOKENS)], permissions=[IsAuthenticated()], **options)
    async def add_note() -> dict[str, str]:
        return {"ok": "yes"}

    operation = document(app)["paths"]["/notes"]["post"]
    assert operation["security"] == [{"bearer": []}]
    assert {"401", "403", "429"} <= set(operation["responses"])
