"""Security: sessions, CSRF, hosts, headers, limits, rate limits, auth, outbound guards.

Everything here is on by default where the settings say so (see
``docs/security.md``); this package gathers the names applications use.
"""

from zephyr.security.auth import (
    ANONYMOUS,
    AnonymousUser,
    APIKeyAuth,
    AuthBackend,
    AuthenticationFailed,
    AuthUser,
    BasicAuth,
    BearerAuth,
    JWTAuth,
    authorization_credentials,
    static_passwords,
    static_tokens,
)
from zephyr.security.csrf import CSRFError, csrf_token, htmx_csrf_headers
from zephyr.security.deploy import (
    DeployProblem,
    InsecureConfigError,
    check_deploy,
    format_report,
    secret_key_problem,
)
from zephyr.security.headers import csp_nonce
from zephyr.security.jwt import InvalidTokenError, JWTCodec
from zephyr.security.login import SessionAuth, login_user, logout_user
from zephyr.security.passwords import (
    PasswordCheck,
    PasswordHasher,
    check_password,
    hash_password,
    verify_password,
)
from zephyr.security.permissions import (
    AllowAny,
    HasRole,
    HasScope,
    IsAuthenticated,
    LoginRequired,
    Permission,
    PermissionDenied,
)
from zephyr.security.ratelimit import Limit, client_address, limit, record_failure
from zephyr.security.ratelimit_backends import (
    MemoryRateLimitBackend,
    Rate,
    RateLimitBackend,
    RateLimitResult,
    RedisRateLimitBackend,
)
from zephyr.security.redirects import is_safe_redirect, redirect
from zephyr.security.session_backends import (
    CookieSessionBackend,
    MemorySessionBackend,
    RedisSessionBackend,
    SessionBackend,
)
from zephyr.security.sessions import Session, load_session
from zephyr.security.ssrf import (
    OutboundTarget,
    UnsafeURLError,
    validate_outbound_url,
    validate_outbound_url_async,
)

__all__ = [
    "ANONYMOUS",
    "APIKeyAuth",
    "AllowAny",
    "AnonymousUser",
    "AuthBackend",
    "AuthUser",
    "AuthenticationFailed",
    "BasicAuth",
    "BearerAuth",
    "CSRFError",
    "CookieSessionBackend",
    "DeployProblem",
    "HasRole",
    "HasScope",
    "InsecureConfigError",
    "InvalidTokenError",
    "IsAuthenticated",
    "JWTAuth",
    "JWTCodec",
    "Limit",
    "LoginRequired",
    "MemoryRateLimitBackend",
    "MemorySessionBackend",
    "OutboundTarget",
    "PasswordCheck",
    "PasswordHasher",
    "Permission",
    "PermissionDenied",
    "Rate",
    "RateLimitBackend",
    "RateLimitResult",
    "RedisRateLimitBackend",
    "RedisSessionBackend",
    "Session",
    "SessionAuth",
    "SessionBackend",
    "UnsafeURLError",
    "authorization_credentials",
    "check_deploy",
    "check_password",
    "client_address",
    "csp_nonce",
    "csrf_token",
    "format_report",
    "hash_password",
    "htmx_csrf_headers",
    "is_safe_redirect",
    "limit",
    "load_session",
    "login_user",
    "logout_user",
    "record_failure",
    "redirect",
    "secret_key_problem",
    "static_passwords",
    "static_tokens",
    "validate_outbound_url",
    "validate_outbound_url_async",
    "verify_password",
]
