"""The deployment check: problem ids, secret key strength, the startup guard, the report."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from zephyr import Zephyr
from zephyr.config import DEFAULT_SETTINGS, Config
from zephyr.errors import ConfigError
from zephyr.security.auth import BearerAuth, static_tokens
from zephyr.security.deploy import (
    PROBLEM_IDS,
    DeployProblem,
    InsecureConfigError,
    check_deploy,
    format_report,
    require_secret_key,
    secret_key_problem,
)
from zephyr.security.login import SessionAuth
from zephyr.testing import TestClient

KEY = "genVH6zsf6cLSCSAHjg3yPWcB_5dokx8OnUydcFe_MBB9zlU1EJLpmQCwS0Vp6pAfn4"
OLD_KEY = "brKpmCf_87RCM0IP74ldb1UkTh3umgrDJVNSRAE4DPH4VAh0v1FsKyT1uh6idbHiJAI"
MAKE_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(50))"'
HARDENED: dict[str, Any] = {
    "DEBUG": False,
    "SECRET_KEY": KEY,
    "SECRET_KEY_FALLBACKS": [OLD_KEY],
    "ALLOWED_HOSTS": ["example.com", "www.example.com"],
    "TRUSTED_PROXIES": ["10.0.0.5", "10.1.0.0/24"],
    "CSRF": True,
    "SECURITY_HEADERS": True,
    "HSTS_SECONDS": 31_536_000,
    "FRAME_OPTIONS": "DENY",
    "SESSION_COOKIE_SECURE": True,
    "OPENAPI": False,
    "SESSION_BACKEND": "redis",
    "RATE_LIMIT_BACKEND": "redis",
    "RATE_LIMITS": {"/api": "100/minute"},
    "FAILURE_LIMIT": "20/minute",
}
NO_FRAME_ANCESTORS = "default-src 'self'; script-src 'self'"
ROUTE_PROBLEM = "zephyr.security.W030"


def ids_for(**overrides: Any) -> list[str]:
    config = Config(environ={}, overrides={**HARDENED, **overrides})
    return [problem.id for problem in check_deploy(config)]


def test_hardened_config_has_no_problems() -> None:
    assert check_deploy(Config(environ={}, overrides=HARDENED)) == []


def test_default_config_lacks_a_key_and_a_domain() -> None:
    assert [p.id for p in check_deploy(Config(environ={}))] == [
        "zephyr.security.E001", "zephyr.security.W002",
    ]


def test_missing_settings_count_as_defaults() -> None:
    assert [p.id for p in check_deploy({"DEBUG": True})] == [
        "zephyr.security.E001", "zephyr.security.E003",
        "zephyr.security.W002", "zephyr.security.W011",
    ]


PROBLEM_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"SECRET_KEY": None}, ["E001"]),
    ({"SECRET_KEY": "too-short-but-random-9x"}, ["E001"]),
    ({"SECRET_KEY_FALLBACKS": [OLD_KEY, "changeme"]}, ["E002"]),
    ({"SECRET_KEY_FALLBACKS": ["", "a" * 40]}, ["E002", "E002"]),
    ({"DEBUG": True}, ["E003"]),
    ({"DEBUG": True, "OPENAPI": None}, ["E003", "W011"]),
    ({"ALLOWED_HOSTS": ["example.com", "*"]}, ["E004"]),
    ({"ALLOWED_HOSTS": []}, ["E005"]),
    ({"TRUSTED_PROXIES": ["10.0.0.5", "0.0.0.0/0"]}, ["E006"]),
    ({"TRUSTED_PROXIES": ["::/0"]}, ["E006"]),
    ({"TRUSTED_PROXIES": ["*"]}, ["E006"]),
    ({"TRUSTED_PROXIES": ["10.0.0.0/8", "fd00::/8"]}, []),
    ({"SECRET_KEY_FALLBACKS": [OLD_KEY, KEY]}, ["W001"]),
    ({"ALLOWED_HOSTS": ["localhost", "127.0.0.1", "[::1]"]}, ["W002"]),
    ({"ALLOWED_HOSTS": ["localhost", "example.com"]}, []),
    ({"CSRF": False}, ["W003"]),
    # The header settings have no effect while the headers are off: one warning only.
    ({"SECURITY_HEADERS": False, "HSTS_SECONDS": 0, "CONTENT_SECURITY_POLICY": None}, ["W004"]),
    ({"CONTENT_SECURITY_POLICY": None}, ["W005"]),
    ({"CONTENT_SECURITY_POLICY": "default-src 'self'; script-src 'self' 'unsafe-inline'"},
     ["W006"]),
    ({"CONTENT_SECURITY_POLICY": "default-src 'self' 'UNSAFE-EVAL'; img-src *;"}, ["W006"]),
    ({"CONTENT_SECURITY_POLICY": "script-src 'self'; script-src-attr 'unsafe-inline'"},
     ["W006"]),
    ({"CONTENT_SECURITY_POLICY": "default-src 'unsafe-inline'; script-src 'self'{nonce}"}, []),
    ({"CONTENT_SECURITY_POLICY": "script-src 'self'; style-src 'self' 'unsafe-inline'"}, []),
    ({"HSTS_SECONDS": 0}, ["W007"]),
    ({"HSTS_SECONDS": 3600}, ["W008"]),
    ({"FRAME_OPTIONS": "", "CONTENT_SECURITY_POLICY": NO_FRAME_ANCESTORS}, ["W009"]),
    ({"FRAME_OPTIONS": "", "CONTENT_SECURITY_POLICY": None}, ["W005", "W009"]),
    ({"FRAME_OPTIONS": ""}, []),  # the default policy has frame-ancestors 'none'
    ({"SESSION_COOKIE_SECURE": False}, ["W010"]),
    ({"SESSION_COOKIE_SECURE": None, "TRUSTED_PROXIES": []}, []),
    ({"OPENAPI": True}, ["W011"]),
    ({"OPENAPI": None}, []),
    ({"SESSION_BACKEND": "memory"}, ["W012"]),
    ({"SESSION_BACKEND": "cookie"}, []),
    ({"RATE_LIMIT_BACKEND": "memory"}, ["W013"]),
    ({"RATE_LIMIT_BACKEND": "memory", "RATE_LIMITS": {}}, []),
    ({"FAILURE_LIMIT": None}, ["W014"]),
    ({"DEBUG": True, "CSRF": False, "SECRET_KEY": None}, ["E001", "E003", "W003"]),
    # Behind a proxy, Secure and HSTS follow the forwarded scheme.
    ({"SESSION_COOKIE_SECURE": None}, ["W015"]),
    ({"SESSION_COOKIE_SECURE": None, "PROXY_HEADERS": "forwarded"}, ["W015"]),
    ({"SESSION_COOKIE_SECURE": None, "SECURITY_HEADERS": False}, ["W004", "W015"]),
    # Sources that let code come from anywhere (not only unsafe keywords).
    *[({"CONTENT_SECURITY_POLICY": policy}, codes) for policy, codes in [
        ("default-src 'self'; script-src *", ["W016"]),
        ("default-src *", ["W016"]),
        ("default-src 'self'; script-src 'self' https:", ["W016"]),
        ("default-src 'self'; script-src 'self' DATA:", ["W016"]),
        ("default-src http:", ["W016"]),
        ("default-src 'self'; script-src-elem https://*", ["W016"]),
        ("default-src 'self'; object-src *", ["W016"]),
        ("default-src 'self'; worker-src blob:", ["W016"]),
        ("default-src 'self'; base-uri *", ["W016"]),
        ("frame-ancestors 'none'", ["W016"]),  # nothing limits scripts
        ("default-src 'self'; script-src 'unsafe-inline' *", ["W006", "W016"]),
        ("default-src 'self'; img-src * data:; style-src https:; connect-src *", []),
        ("default-src 'self'; script-src 'self' https://cdn.example.com *.example.com", []),
        # CSP3 §8.2: with 'strict-dynamic', host and scheme sources are ignored.
        ("script-src 'strict-dynamic' 'nonce-r4nd0m' https:; object-src 'none'; base-uri 'none'",
         []),
    ]],
    ({"CSRF_TRUSTED_ORIGINS": ["null"]}, ["W017"]),
    ({"CSRF_TRUSTED_ORIGINS": ["https://admin.example.com", "http://admin.example.com"]},
     ["W017"]),
    ({"CSRF_TRUSTED_ORIGINS": ["HTTP://Admin.example.com"]}, ["W017"]),
    ({"CSRF_TRUSTED_ORIGINS": ["https://admin.example.com"]}, []),
    ({"ALLOWED_HOSTS": ["example.com", ".com"]}, ["W018"]),
    ({"ALLOWED_HOSTS": [".COM"]}, ["W018"]),
    ({"ALLOWED_HOSTS": [".xyz"]}, ["W018"]),  # any single label
    ({"ALLOWED_HOSTS": [".co.uk"]}, ["W018"]),
    ({"ALLOWED_HOSTS": [".herokuapp.com"]}, ["W018"]),
    ({"ALLOWED_HOSTS": ["com", ".example.co.uk", ".myapp.herokuapp.com"]}, []),
    ({"TRUSTED_PROXIES": ["0.0.0.0/1"]}, ["W019"]),
    ({"TRUSTED_PROXIES": ["10.0.0.5", "64.0.0.0/7"]}, ["W019"]),
    ({"TRUSTED_PROXIES": ["2000::/3"]}, ["W019"]),
    ({"TRUSTED_PROXIES": ["0.0.0.0/1", "128.0.0.0/1"]}, ["E006"]),  # two halves: everyone
    ({"TRUSTED_PROXIES": ["11.0.0.0/8", "2001:db8::/16", "fc00::/7"]}, []),
    # Limits more than 100 times their default.
    *[({name: value}, codes) for name, factor, code in [
        ("MAX_BODY_SIZE", 1024 * 1024, "W020"),
        ("MAX_JSON_SIZE", 1024 * 1024, "W021"),
        ("MAX_FORM_SIZE", 1024 * 1024, "W022"),
        ("MAX_MULTIPART_SIZE", 16 * 1024 * 1024, "W023"),
        ("MULTIPART_MAX_FIELDS", 1000, "W024"),
        ("MULTIPART_MAX_FILES", 100, "W025"),
        ("MULTIPART_SPOOL_SIZE", 1024 * 1024, "W026"),
        ("BODY_TIMEOUT", 60, "W027"),
        ("MAX_HEADER_COUNT", 100, "W028"),
        ("MAX_HEADER_SIZE", 16 * 1024, "W029"),
    ] for value, codes in [(factor * 100 + 1, [code]), (factor * 100, []), (factor * 10, [])]],
    ({"BODY_TIMEOUT": float("inf")}, ["W027"]),
]


@pytest.mark.parametrize(("overrides", "expected"), PROBLEM_CASES)
def test_problems(overrides: dict[str, Any], expected: list[str]) -> None:
    assert ids_for(**overrides) == [f"zephyr.security.{code}" for code in expected]


def test_every_problem_id_is_tested() -> None:
    tested = {f"zephyr.security.{code}" for _, codes in PROBLEM_CASES for code in codes}
    assert tested | {ROUTE_PROBLEM} == set(PROBLEM_IDS)


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"SESSION_COOKIE_SECURE": None},
     "TRUSTED_PROXIES is set and SESSION_COOKIE_SECURE is None: the session cookie is marked "
     "Secure, and HSTS sent, only on requests the proxy says came over https (in "
     "X-Forwarded-Proto); if it does not say so, every request looks like http, so the cookie "
     "also travels over http and browsers are never told to insist on https."),
    ({"SESSION_COOKIE_SECURE": None, "HSTS_SECONDS": 0, "SECURITY_HEADERS": False},
     "TRUSTED_PROXIES is set and SESSION_COOKIE_SECURE is None: the session cookie is marked "
     "Secure only on requests the proxy says came over https (in X-Forwarded-Proto); if it "
     "does not say so, every request looks like http, so the cookie also travels over http."),
    ({"SESSION_COOKIE_SECURE": None, "PROXY_HEADERS": "forwarded"},
     "TRUSTED_PROXIES is set and SESSION_COOKIE_SECURE is None: the session cookie is marked "
     "Secure, and HSTS sent, only on requests the proxy says came over https (in "
     "Forwarded: proto=); if it does not say so, every request looks like http, so the cookie "
     "also travels over http and browsers are never told to insist on https."),
    ({"CONTENT_SECURITY_POLICY": "default-src 'self' https:; object-src *; base-uri *"},
     "CONTENT_SECURITY_POLICY lets scripts come from 'https:' (default-src), plugins come from "
     "'*' (object-src) and the base URL come from '*' (base-uri): an injected tag can load code "
     "from a site the attacker controls."),
    ({"CONTENT_SECURITY_POLICY": "frame-ancestors 'none'"},
     "CONTENT_SECURITY_POLICY lets scripts come from anywhere (it has no script-src or "
     "default-src): an injected tag can load code from a site the attacker controls."),
    ({"CSRF_TRUSTED_ORIGINS": ["null", "http://a.example", "https://b.example"]},
     "CSRF_TRUSTED_ORIGINS trusts 'null', 'http://a.example': any site can send the Origin "
     "'null' from a sandboxed frame, and anyone on the network path can put a page on a "
     "plain-http origin, so their unsafe requests pass the CSRF check with a visitor's "
     "cookies."),
    ({"ALLOWED_HOSTS": ["example.com", ".com", ".github.io"]},
     "ALLOWED_HOSTS contains '.com', '.github.io': each matches every name under a public "
     "suffix, so a Host header naming any site there (one an attacker registers) is accepted."),
    ({"TRUSTED_PROXIES": ["10.0.0.5", "0.0.0.0/2", "::/8"]},
     "TRUSTED_PROXIES contains '0.0.0.0/2', '::/8': networks that large hold far more than your "
     "proxies, and every client in them can send X-Forwarded-For or Forwarded and spoof its IP "
     "address."),
    ({"MAX_JSON_SIZE": 200 * 1024 * 1024},
     "MAX_JSON_SIZE is 209715200, 200 times its default (1048576): one request can make the "
     "server read and hold that much."),
    ({"MAX_JSON_SIZE": None},
     "MAX_JSON_SIZE is None: there is no limit, so one request can make the server read and "
     "hold as much as it sends."),
    ({"BODY_TIMEOUT": float("inf")},
     "BODY_TIMEOUT is inf: there is no limit, so a client sending its body slowly holds a "
     "connection and a worker for as long as it likes."),
    ({"MAX_HEADER_COUNT": 10_001},
     "MAX_HEADER_COUNT is 10001, 100 times its default (100): every request's headers are "
     "read and held before any check refuses it."),
])
def test_new_problem_messages(overrides: dict[str, Any], expected: str) -> None:
    found = check_deploy({**HARDENED, **overrides})
    [problem] = [p for p in found if p.id != "zephyr.security.W004"]  # headers off, on purpose
    assert problem.message == expected


def test_problem_table_names_real_settings() -> None:
    names = {setting.name for setting in DEFAULT_SETTINGS}
    assert {setting for setting, _ in PROBLEM_IDS.values()} <= names
    assert sorted(PROBLEM_IDS) == list(PROBLEM_IDS)


@pytest.mark.parametrize(("overrides", "expected"), PROBLEM_CASES)
def test_problem_fields_follow_the_table(overrides: dict[str, Any], expected: list[str]) -> None:
    for problem in check_deploy(Config(environ={}, overrides={**HARDENED, **overrides})):
        assert problem.setting == PROBLEM_IDS[problem.id][0]
        assert problem.severity == ("error" if ".E" in problem.id else "warning")
        assert problem.message.endswith(".")
        assert problem.fix


def test_problem_str_is_one_line() -> None:
    [problem] = check_deploy(Config(environ={}, overrides={**HARDENED, "DEBUG": True}))
    assert str(problem) == (
        "zephyr.security.E003 DEBUG: DEBUG is on: error pages show tracebacks, source and "
        "settings to every visitor. Fix: set DEBUG = False"
    )


@pytest.mark.parametrize(("key", "message"), [
    ("abc", "SECRET_KEY is shorter than 32 characters: anyone who guesses it can forge "
     "sessions, CSRF tokens and signed values."),
    (None, "SECRET_KEY is missing: outside debug mode the app cannot sign sessions, CSRF "
     "tokens or other values."),
])
def test_secret_key_problem_text(key: str | None, message: str) -> None:
    [problem] = check_deploy(Config(environ={}, overrides={**HARDENED, "SECRET_KEY": key}))
    assert problem == DeployProblem(
        id="zephyr.security.E001",
        setting="SECRET_KEY",
        message=message,
        fix=f"set ZEPHYR_SECRET_KEY (or secret_key=...) to a random value: {MAKE_KEY}",
        severity="error",
    )


SECRET_CASES: list[tuple[dict[str, Any], str]] = [
    ({"SECRET_KEY": "my-own-short-secret"}, "my-own-short-secret"),
    ({"SECRET_KEY": "insecure-" + OLD_KEY}, "insecure-" + OLD_KEY),
    ({"SECRET_KEY": "zZ" * 20}, "zZ" * 20),
    ({"SECRET_KEY_FALLBACKS": [KEY]}, KEY),
    ({"SECRET_KEY_FALLBACKS": ["weak-old-key"]}, "weak-old-key"),
    ({"SECRET_KEY_FALLBACKS": ["django-insecure-" + OLD_KEY]}, "django-insecure-" + OLD_KEY),
]


@pytest.mark.parametrize(("overrides", "secret"), SECRET_CASES)
def test_secrets_never_appear_in_messages(overrides: dict[str, Any], secret: str) -> None:
    problems = check_deploy(Config(environ={}, overrides={**HARDENED, **overrides}))
    assert problems
    for problem in problems:
        assert secret not in str(problem)
    assert secret not in format_report(problems)


@pytest.mark.parametrize("key", [
    KEY,
    "yFywD5gWvmTEmiyaGgYq71b2OjEdEJRfm5jtGbACvXCCsdBivZWacZDKk3MsHHWxC54",
    "Q9vXk3testZr7PmW2aLcN8sYd5hJ0uEbTfGq1oIiKyV6",  # contains "test" by chance
    "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",  # tests/conftest.py's key
    "abcde" * 6 + "xy",  # exactly 32 characters, 5 distinct
])
def test_strong_keys(key: str) -> None:
    assert secret_key_problem(key) is None


@pytest.mark.parametrize(("key", "reason"), [
    (None, "is missing"),
    ("", "is missing"),
    ("   ", "is missing"),
    ("changeme", "is a known placeholder"),
    ("CHANGE-ME", "is a known placeholder"),
    ("change_me_to_something_long_and_random_1234", "is a known placeholder"),
    ("django-insecure-" + OLD_KEY, "is a known placeholder"),
    ("Insecure-" + OLD_KEY, "is a known placeholder"),
    ("your-secret-key", "is a known placeholder"),
    ("secret", "is a known placeholder"),
    ("dev", "is a known placeholder"),
    ("Development", "is a known placeholder"),
    ("test", "is a known placeholder"),
    ("secret" * 6, "is a known placeholder"),
    ("x7Gk2-random-but-short", "is shorter than 32 characters"),
    ("a" * 40, "has fewer than 5 distinct characters"),
    ("abcd" * 10, "has fewer than 5 distinct characters"),
])
def test_weak_keys(key: str | None, reason: str) -> None:
    assert secret_key_problem(key) == f"the key {reason}; make a random one with: {MAKE_KEY}"


def test_require_secret_key_passes_strong_keys_and_debug_mode() -> None:
    require_secret_key({"DEBUG": False, "SECRET_KEY": KEY}, needed_for="sessions")
    require_secret_key({"DEBUG": True, "SECRET_KEY": None}, needed_for="sessions")
    require_secret_key(Config(environ={}, overrides={"debug": True}), needed_for="sessions")


@pytest.mark.parametrize(("key", "start"), [
    (None, "SECRET_KEY is missing; sessions needs it"),
    ("changeme", "SECRET_KEY is a known placeholder; sessions needs a strong one"),
    ("short", "SECRET_KEY is shorter than 32 characters; sessions needs a strong one"),
])
def test_require_secret_key_refuses(key: str | None, start: str) -> None:
    with pytest.raises(InsecureConfigError) as caught:
        require_secret_key(Config(environ={}, overrides={"secret_key": key}),
                           needed_for="sessions")
    assert str(caught.value) == (
        f"{start} outside debug mode. Set ZEPHYR_SECRET_KEY (or secret_key=...) to a random "
        f"value: {MAKE_KEY}, or run with DEBUG=True for an ephemeral key"
    )
    assert isinstance(caught.value, ConfigError)


def test_format_report_no_issues() -> None:
    assert format_report([]) == "No issues found."


def test_format_report_lists_errors_first() -> None:
    csrf = DeployProblem("zephyr.security.W003", "CSRF", "CSRF is off.", "set CSRF = True",
                         "warning")
    debug = DeployProblem("zephyr.security.E003", "DEBUG", "DEBUG is on.", "set DEBUG = False",
                          "error")
    assert format_report([csrf, debug, csrf]) == (
        "System check identified 3 issues (1 error, 2 warnings):\n"
        "\n"
        "ERRORS:\n"
        "  zephyr.security.E003 DEBUG: DEBUG is on.\n"
        "    Fix: set DEBUG = False\n"
        "\n"
        "WARNINGS:\n"
        "  zephyr.security.W003 CSRF: CSRF is off.\n"
        "    Fix: set CSRF = True\n"
        "  zephyr.security.W003 CSRF: CSRF is off.\n"
        "    Fix: set CSRF = True"
    )


def test_format_report_singular() -> None:
    [problem] = check_deploy(Config(environ={}, overrides={**HARDENED, "CSRF": False}))
    assert format_report([problem]).splitlines()[:3] == [
        "System check identified 1 issue (0 errors, 1 warning):",
        "",
        "WARNINGS:",
    ]


# -- routes ----------------------------------------------------------------------------------


def session_app(*, app_auth: bool = False, group_csrf: bool | None = None,
                methods: tuple[str, ...] = ("POST",), **route_options: Any) -> Zephyr:
    """An app with a route authenticated by the session (app-wide or on the route)."""
    app = Zephyr(__name__)
    backend = SessionAuth(lambda user_id: None)
    if app_auth:
        app.auth_backends.append(backend)
    else:
        route_options.setdefault("auth", [backend])
    group = app.group("/account", **({} if group_csrf is None else {"csrf": group_csrf}))

    @group.route("/email", methods=methods, **route_options)
    async def change_email() -> str:
        return "changed"

    return app


ROUTE_CASES: list[tuple[dict[str, Any], bool]] = [
    ({"csrf": False}, True),
    ({"csrf": False, "app_auth": True}, True),
    ({"group_csrf": False, "app_auth": True}, True),
    ({"csrf": False, "methods": ("GET", "DELETE")}, True),
    ({}, False),
    ({"group_csrf": False, "csrf": True}, False),
    ({"csrf": False, "methods": ("GET",)}, False),  # CSRF concerns unsafe methods only
    ({"csrf": False, "auth": [BearerAuth(static_tokens({"t0k3n-abcdef": "bot"}))]}, False),
]


@pytest.mark.parametrize(("options", "flagged"), ROUTE_CASES)
def test_a_session_route_without_csrf_is_reported_and_logged(
    options: dict[str, Any], flagged: bool, caplog: pytest.LogCaptureFixture
) -> None:
    app = session_app(**options)
    with caplog.at_level(logging.WARNING, logger="zephyr.security"), TestClient(app):
        found = check_deploy(app.config, routes=app.router.table.records)
    problems = [problem for problem in found if problem.id == ROUTE_PROBLEM]
    [route] = app.routes
    warnings = [r.getMessage() for r in caplog.records if "CSRF check is off" in r.getMessage()]
    if not flagged:
        assert (problems, warnings) == ([], [])
        return
    methods = ", ".join(sorted(route.methods))
    assert problems == [DeployProblem(
        id=ROUTE_PROBLEM, setting="CSRF", severity="warning",
        message=f"route '/account/email' ({methods}) at {route.source} is authenticated by the "
                "session, but its CSRF check is off: another site can make a logged-in "
                "visitor's browser send it.",
        fix="remove csrf=False from the route and its group; give clients that send tokens "
            "a route of their own without SessionAuth",
    )]
    assert warnings == [str(problems[0])]


def test_routes_are_checked_only_when_given() -> None:
    app = session_app(csrf=False)
    with TestClient(app):
        assert ROUTE_PROBLEM not in {problem.id for problem in check_deploy(app.config)}
