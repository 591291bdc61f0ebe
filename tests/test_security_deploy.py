"""The deployment check: problem ids, secret key strength, the startup guard, the report."""

from __future__ import annotations

from typing import Any

import pytest

from zephyr.config import DEFAULT_SETTINGS, Config
from zephyr.errors import ConfigError
from zephyr.security.deploy import (
    PROBLEM_IDS,
    DeployProblem,
    InsecureConfigError,
    check_deploy,
    format_report,
    require_secret_key,
    secret_key_problem,
)

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
    ({"SESSION_COOKIE_SECURE": None}, []),
    ({"OPENAPI": True}, ["W011"]),
    ({"OPENAPI": None}, []),
    ({"SESSION_BACKEND": "memory"}, ["W012"]),
    ({"SESSION_BACKEND": "cookie"}, []),
    ({"RATE_LIMIT_BACKEND": "memory"}, ["W013"]),
    ({"RATE_LIMIT_BACKEND": "memory", "RATE_LIMITS": {}}, []),
    ({"FAILURE_LIMIT": None}, ["W014"]),
    ({"DEBUG": True, "CSRF": False, "SECRET_KEY": None}, ["E001", "E003", "W003"]),
]


@pytest.mark.parametrize(("overrides", "expected"), PROBLEM_CASES)
def test_problems(overrides: dict[str, Any], expected: list[str]) -> None:
    assert ids_for(**overrides) == [f"zephyr.security.{code}" for code in expected]


def test_every_problem_id_is_tested() -> None:
    tested = {f"zephyr.security.{code}" for _, codes in PROBLEM_CASES for code in codes}
    assert tested == set(PROBLEM_IDS)


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
