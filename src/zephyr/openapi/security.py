"""The OpenAPI security schemes of the authentication backends, and each operation's needs.

A backend may describe itself with an ``openapi_scheme`` attribute:
``(name, scheme object)``; the built-in ones are known here.
"""

from __future__ import annotations

import re
from typing import Any

from zephyr.security.auth import APIKeyAuth, AuthBackend, BasicAuth, BearerAuth, JWTAuth
from zephyr.security.login import SessionAuth
from zephyr.security.protect import ProtectedEndpoint

__all__ = ["SecuritySchemes"]

Scheme = tuple[str, dict[str, Any]]


class SecuritySchemes:
    """Collects the schemes the operations use, for ``components.securitySchemes``."""

    def __init__(self, session_cookie: str) -> None:
        self.session_cookie = session_cookie
        self.schemes: dict[str, dict[str, Any]] = {}

    def requirements(self, endpoint: object) -> list[dict[str, list[str]]] | None:
        """The operation's ``security``: any one backend; ``{}`` too when none is required."""
        if not isinstance(endpoint, ProtectedEndpoint) or not endpoint.security.auth:
            return None
        alternatives: list[dict[str, list[str]]] = []
        for backend in endpoint.security.auth:
            described = self._scheme_of(backend)
            if described is not None:  # a backend nobody described is left out
                name, scheme = described
                self.schemes[name] = scheme
                alternatives.append({name: []})
        if not alternatives:
            return None
        return alternatives if endpoint.security.permissions else [*alternatives, {}]

    def _scheme_of(self, backend: AuthBackend) -> Scheme | None:
        described: Scheme | None = getattr(backend, "openapi_scheme", None)
        if described is not None:
            return described
        if isinstance(backend, JWTAuth | BearerAuth):
            return _token_scheme(backend.scheme, jwt=isinstance(backend, JWTAuth))
        if isinstance(backend, BasicAuth):
            return "basic", {"type": "http", "scheme": "basic"}
        if isinstance(backend, APIKeyAuth):
            return f"apiKey.{backend.header}", {"type": "apiKey", "in": "header",
                                                "name": backend.header}
        if isinstance(backend, SessionAuth):
            return "session", {"type": "apiKey", "in": "cookie", "name": self.session_cookie}
        return None


def _token_scheme(word: str, *, jwt: bool) -> Scheme:
    """A bearer-token backend's scheme: http bearer, or an API key typed with its word."""
    if word.lower() == "bearer":
        if jwt:
            return "bearerJWT", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        return "bearer", {"type": "http", "scheme": "bearer"}
    # NOTE: Swagger UI sends an http scheme other than basic or bearer nowhere, and OpenAPI
    # has no other way to say "this word, then the token": as an API key in the
    # Authorization header, the value typed with the word is sent as it is.
    what = "JWT" if jwt else "token"
    name = re.sub(r"[^A-Za-z0-9._-]", "_", word.lower()) + ("JWT" if jwt else "")
    return name, {
        "type": "apiKey", "in": "header", "name": "Authorization",
        "description": f"Send `Authorization: {word} <{what}>`: type `{word}`, a space, "
                       f"then the {what}.",
    }
