"""Secret keys: how strong a signing key is, the startup guard that refuses a weak one outside
debug mode, and the deployment check of ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS``.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator, Mapping
from typing import Any

from zephyr.errors import ConfigError
from zephyr.security.problems import DeployProblem, Settings, problem

__all__ = [
    "MAKE_KEY",
    "InsecureConfigError",
    "check_secret_keys",
    "require_secret_key",
    "secret_key_problem",
]

MIN_KEY_LENGTH = 32
MIN_KEY_CHARACTERS = 5
MAKE_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(50))"'
_SET_KEY = f"set ZEPHYR_SECRET_KEY (or secret_key=...) to a random value: {MAKE_KEY}"

# Compared with the key lower-cased and stripped of everything but letters and digits,
# so 'Change-Me' and 'CHANGE_ME' match too. Whole words (or repeats of one) only:
# a random key that happens to contain 'test' is fine.
_PLACEHOLDER_WORDS = frozenset({
    "changeme", "secret", "secretkey", "yoursecretkey", "insecure", "dev", "development",
    "test", "testing", "password", "default", "example",
})
_PLACEHOLDER_PREFIXES = ("djangoinsecure", "insecure", "change", "yoursecretkey", "replaceme")


class InsecureConfigError(ConfigError):
    """Settings unsafe enough that the app refuses to start (a weak key outside debug)."""


def secret_key_problem(key: str | None) -> str | None:
    """Why ``key`` is unfit to sign sessions and tokens, or None when it is strong."""
    weakness = _key_weakness(key)
    if weakness is None:
        return None
    return f"the key {weakness}; make a random one with: {MAKE_KEY}"


def require_secret_key(config: Mapping[str, Any], *, needed_for: str) -> None:
    """Raise :class:`InsecureConfigError` outside debug mode when SECRET_KEY is missing or weak.

    ``needed_for`` names what needs the key ("sessions", "CSRF protection").
    In debug mode this does nothing: the caller makes an ephemeral key.
    """
    if config.get("DEBUG"):
        return
    weakness = _key_weakness(config.get("SECRET_KEY"))
    if weakness is None:
        return
    wanted = "it" if weakness == "is missing" else "a strong one"
    raise InsecureConfigError(
        f"SECRET_KEY {weakness}; {needed_for} needs {wanted} outside debug mode. "
        f"Set ZEPHYR_SECRET_KEY (or secret_key=...) to a random value: {MAKE_KEY}, "
        "or run with DEBUG=True for an ephemeral key"
    )


def _key_weakness(key: object) -> str | None:
    """How ``key`` is weak ('is missing', ...) or None; the phrase never quotes the key."""
    if not isinstance(key, str) or not key.strip():
        return "is missing"
    normalized = "".join(char for char in key.lower() if char.isalnum())
    if normalized.startswith(_PLACEHOLDER_PREFIXES) or _is_placeholder_word(normalized):
        return "is a known placeholder"
    if len(key) < MIN_KEY_LENGTH:
        return f"is shorter than {MIN_KEY_LENGTH} characters"
    if len(set(key)) < MIN_KEY_CHARACTERS:
        return f"has fewer than {MIN_KEY_CHARACTERS} distinct characters"
    return None


def _is_placeholder_word(normalized: str) -> bool:
    """Whether ``normalized`` is a placeholder word or that word repeated ('secretsecret')."""
    return any(
        normalized and len(normalized) % len(word) == 0
        and normalized == word * (len(normalized) // len(word))
        for word in _PLACEHOLDER_WORDS
    )


def check_secret_keys(settings: Settings) -> Iterator[DeployProblem]:
    """E001 (a missing or weak key), E002 (a weak old key), W001 (an old key not rotated)."""
    # SECURITY: whoever knows or guesses a signing key can forge sessions and CSRF tokens.
    key = settings["SECRET_KEY"]
    weakness = _key_weakness(key)
    if weakness == "is missing":
        yield problem("zephyr.security.E001", "SECRET_KEY is missing: outside debug mode the "
                      "app cannot sign sessions, CSRF tokens or other values.", _SET_KEY)
    elif weakness is not None:
        yield problem("zephyr.security.E001", f"SECRET_KEY {weakness}: anyone who guesses "
                      "it can forge sessions, CSRF tokens and signed values.", _SET_KEY)
    for number, old in enumerate(settings["SECRET_KEY_FALLBACKS"], start=1):
        old_weakness = _key_weakness(old)
        if old_weakness is not None:
            old_weakness = "is empty" if old_weakness == "is missing" else old_weakness
            yield problem(
                "zephyr.security.E002",
                f"entry {number} of SECRET_KEY_FALLBACKS {old_weakness}: signatures made with "
                "it are still accepted, so anyone who guesses it can forge sessions and tokens.",
                f"remove entry {number}, or replace it with the real previous key",
            )
        elif isinstance(key, str) and hmac.compare_digest(old.encode(), key.encode()):
            yield problem(
                "zephyr.security.W001",
                f"entry {number} of SECRET_KEY_FALLBACKS is the current SECRET_KEY: the key "
                "was not actually rotated.",
                f"set SECRET_KEY to a new random value ({MAKE_KEY}) and keep the old one in "
                "SECRET_KEY_FALLBACKS only until existing sessions expire",
            )
