"""Settings: each resolved as default < settings module/file < ``ZEPHYR_*`` env < keyword.

``Config`` remembers where every value came from (``config.explain()``), parses
environment strings by the setting's type, and refuses unknown names with a
"did you mean".
"""

from __future__ import annotations

import copy
import importlib
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zephyr.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["DEFAULT_SETTINGS", "Config", "Setting"]

ENV_PREFIX = "ZEPHYR_"
MiB = 1024 * 1024
DAY = 24 * 60 * 60
# '{nonce}' is replaced by 'nonce-...' when a page asked for one (csp_nonce()), else dropped.
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'{nonce}; style-src 'self'{nonce}; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True, slots=True)
class Setting:
    """The definition of one setting: its name, type, default and meaning."""

    name: str
    #: The value's type; a tuple when several are accepted (``COMPRESSION``: bool or mapping).
    type: type | tuple[type, ...]
    default: Any
    doc: str
    secret: bool = False
    optional: bool = False
    choices: tuple[Any, ...] = ()


DEFAULT_SETTINGS: tuple[Setting, ...] = (
    Setting("DEBUG", bool, False, "Debug mode: tracebacks in error pages, ephemeral secret key."),
    Setting("SECRET_KEY", str, None, "Key that signs sessions and tokens.", True, True),
    Setting("THREAD_POOL_SIZE", int, 40, "Threads that run plain `def` handlers."),
    Setting("MAX_BODY_SIZE", int, MiB, "Largest body of any other content type, in bytes."),
    Setting("MAX_JSON_SIZE", int, MiB, "Largest JSON body, in bytes."),
    Setting("MAX_FORM_SIZE", int, MiB, "Largest url-encoded form body, in bytes."),
    Setting("MAX_MULTIPART_SIZE", int, 16 * MiB, "Largest multipart body, in bytes."),
    Setting("MULTIPART_MAX_FIELDS", int, 1000, "Most non-file fields in one multipart body."),
    Setting("MULTIPART_MAX_FILES", int, 100, "Most files in one multipart body."),
    Setting("MULTIPART_SPOOL_SIZE", int, MiB, "Upload size kept in memory before disk."),
    Setting("REDIRECT_SLASHES", bool, True, "Redirect /a/ <-> /a when only the other exists."),
    Setting("REDIRECT_STATUS", int, 308, "Status of trailing-slash redirects.",
            choices=(301, 302, 307, 308)),
    Setting("OPENAPI", bool, None, "Serve /openapi.json, /docs and /redoc (default: in debug).",
            optional=True),
    Setting("SERVER", str, "uvicorn", "Server used by app.run().", choices=("uvicorn", "granian")),
    Setting("HOST", str, "127.0.0.1", "Address app.run() listens on unless given one."),
    Setting("PORT", int, 8000, "Port app.run() listens on unless given one."),
    Setting("STATIC_MAX_AGE", int, 60, "Seconds a static file at its plain URL stays fresh in "
            "caches (hashed URLs from static_url(): a year, immutable); debug mode revalidates "
            "every time."),
    Setting("COMPRESSION", (bool, dict), False, "Compress responses (gzip; brotli and zstd "
            "when installed): True, or a mapping of minimum_size, level and algorithms."),
    Setting("GC_FREEZE", bool, True, "After startup, keep what exists out of the garbage "
            "collector's scans (gc.freeze()): shorter pauses under load."),
    Setting("TEMPLATE_AUTO_RELOAD", bool, None, "Check template files for changes at each "
            "render (default: in debug mode).", optional=True),
    Setting("TEMPLATE_SANDBOX", bool, False, "Render templates in Jinja2's sandbox, for "
            "template source that is not trusted."),
    # -- security (see docs/security.md) --
    Setting("SECRET_KEY_FALLBACKS", list, [], "Old secret keys still accepted when reading "
            "signed values (rotation).", True),
    Setting("ALLOWED_HOSTS", list, ["localhost", "127.0.0.1", "[::1]"],
            "Host names the app answers; '.example.com' matches subdomains, '*' any host."),
    Setting("TRUSTED_PROXIES", list, [], "Proxy addresses or networks whose X-Forwarded-* and "
            "Forwarded headers are believed."),
    Setting("PROXY_HEADERS", str, "x-forwarded", "Which forwarding headers the trusted "
            "proxies set: X-Forwarded-For/-Proto/-Host, or RFC 7239 Forwarded.",
            choices=("x-forwarded", "forwarded")),
    Setting("CSRF", bool, True, "Refuse cross-site unsafe requests (POST, PUT, PATCH, DELETE)."),
    Setting("CSRF_TRUSTED_ORIGINS", list, [], "Other origins allowed to send unsafe requests, "
            "like 'https://admin.example.com'."),
    Setting("SESSION_BACKEND", str, "cookie", "Where session data lives.",
            choices=("cookie", "memory", "redis")),
    Setting("SESSION_COOKIE_NAME", str, "session", "Name of the session cookie."),
    Setting("SESSION_MAX_AGE", int, 14 * DAY, "Seconds a session lives without being saved."),
    Setting("SESSION_COOKIE_SECURE", bool, None, "Mark the session and CSRF cookies Secure "
            "(default: when the request came over https).", optional=True),
    Setting("COOKIE_HOST_PREFIX", bool, True, "Name the Secure session and CSRF cookies "
            "__Host-<name>, which only this host can set, over https."),
    Setting("CSRF_COOKIE_NAME", str, "csrf", "Name of the signed cookie holding the visitor's "
            "CSRF secret."),
    Setting("REDIS_URL", str, "redis://127.0.0.1:6379/0", "Redis for the redis backends.", True),
    Setting("SECURITY_HEADERS", bool, True, "Send nosniff, frame, referrer, opener, CSP and HSTS "
            "headers."),
    Setting("CONTENT_SECURITY_POLICY", str, DEFAULT_CSP, "The Content-Security-Policy; "
            "'{nonce}' marks where a per-request nonce goes; None sends none.", optional=True),
    Setting("HSTS_SECONDS", int, 365 * DAY, "Strict-Transport-Security max-age over https "
            "(0: not sent)."),
    Setting("REFERRER_POLICY", str, "strict-origin-when-cross-origin", "Referrer-Policy header."),
    Setting("FRAME_OPTIONS", str, "DENY", "X-Frame-Options header ('' sends none).",
            choices=("DENY", "SAMEORIGIN", "")),
    Setting("MAX_HEADER_COUNT", int, 100, "Most request headers; more is a 431."),
    Setting("MAX_HEADER_SIZE", int, 16 * 1024, "Largest total size of the request headers in "
            "bytes; more is a 431."),
    Setting("BODY_TIMEOUT", float, 60.0, "Seconds a request body may take to arrive; slower "
            "is a 408."),
    Setting("BODY_IDLE_TIMEOUT", float, 15.0, "Seconds a request body may stop arriving (no "
            "new bytes) before it is a 408."),
    Setting("RATE_LIMIT_BACKEND", str, "memory", "Where rate-limit counters live.",
            choices=("memory", "redis")),
    Setting("RATE_LIMITS", dict, {}, "Global rate limits by path prefix, like "
            "{'/api': '100/minute'}."),
    Setting("FAILURE_LIMIT", str, "20/minute", "Security failures (bad CSRF, logins, "
            "signatures) one client may cause before getting 429s; None turns it off.",
            optional=True),
    Setting("LOGIN_URL", str, None, "Where a browser refused for not being logged in is sent "
            "(303, with ?next= the page it asked for): a path of this app or a route name; "
            "None answers 401.", optional=True),
    Setting("RATE_LIMIT_IPV6_PREFIX", int, 64, "Rate limits and the failure throttle count "
            "an IPv6 client by its network of this prefix length (1-128); IPv4 by address."),
    # -- CORS (see docs/cors.md): off unless origins are allowed --
    Setting("CORS_ALLOW_ORIGINS", list, [], "Origins whose pages may call the app and read its "
            "answers, like 'https://app.example.com' ('*': any site, without credentials)."),
    Setting("CORS_ALLOW_ORIGIN_REGEX", str, None, "A regular expression that allowed origins "
            r"match in full, like r'https://[a-z0-9-]+\.example\.com'.", optional=True),
    Setting("CORS_ALLOW_METHODS", list, ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
            "Methods other origins may use ('*': any)."),
    Setting("CORS_ALLOW_HEADERS", list, [], "Request headers other origins may send besides "
            "Accept, Accept-Language, Content-Language and Content-Type ('*': any)."),
    Setting("CORS_ALLOW_CREDENTIALS", bool, False, "Let other origins send cookies and read "
            "the answers to them."),
    Setting("CORS_EXPOSE_HEADERS", list, [], "Response headers the other origins' scripts may "
            "read besides the simple ones (Content-Type, Cache-Control...)."),
    Setting("CORS_MAX_AGE", int, 600, "Seconds a browser may reuse a preflight answer."),
)

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


class Config(Mapping[str, Any]):
    """The resolved settings of one application.

    ``app.config["DEBUG"]`` reads a value; before the app starts serving,
    ``app.config["DEBUG"] = True`` changes one. Keyword names are
    case-insensitive (``debug=True`` sets ``DEBUG``).
    """

    def __init__(
        self,
        *,
        settings: str | Path | Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        overrides: Mapping[str, Any] | None = None,
        definitions: Iterable[Setting] = DEFAULT_SETTINGS,
    ) -> None:
        self._definitions = {s.name: s for s in definitions}
        # Copies, so that changing one app's list or mapping never changes the defaults.
        self._values = {name: copy.copy(s.default) for name, s in self._definitions.items()}
        self._sources = dict.fromkeys(self._definitions, "default")
        self._frozen = False
        if settings is not None:
            label, values = _load_settings(settings)
            for key, value in values.items():
                self._set(self._known(key, label), value, label)
        env = os.environ if environ is None else environ
        self._environ = env
        for name, setting in self._definitions.items():
            raw = env.get(ENV_PREFIX + name)
            if raw is not None:
                self._set(name, _parse_env(setting, raw), f"environment {ENV_PREFIX}{name}")
        for key, value in (overrides or {}).items():
            self._set(self._known(key.upper(), "keyword argument"), value, "keyword argument")

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __setitem__(self, name: str, value: Any) -> None:
        if self._frozen:
            raise ConfigError(
                f"cannot change {name!r}: the app has started serving and its settings are "
                "fixed; set it before startup (keyword argument, settings module or env)"
            )
        self._set(self._known(name, "assignment"), value, "assignment")

    def as_dict(self) -> dict[str, Any]:
        """A plain copy of every resolved value."""
        return dict(self._values)

    def public(self) -> Mapping[str, Any]:
        """A read-only live view of the settings without the secret ones (for templates)."""
        return _PublicSettings(self._values, frozenset(self.secrets()))

    def secrets(self) -> dict[str, Any]:
        """The secret settings (``SECRET_KEY``...) with their values: to mask wherever shown."""
        return {name: self._values[name] for name, s in self._definitions.items() if s.secret}

    def source_of(self, name: str) -> str:
        """Where the value of ``name`` came from (``"default"``, ``"environment ..."``...)."""
        return self._sources[self._known(name, "lookup")]

    def explain(self) -> str:
        """A table of every setting, its value and where that value came from.

        Secret values are masked.
        """
        rows = [("setting", "value", "source")]
        for name, setting in sorted(self._definitions.items()):
            value = self._values[name]
            shown = "********" if setting.secret and value else _shorten(repr(value))
            rows.append((name, shown, self._sources[name]))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        return "\n".join(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in rows
        )

    def environment_warnings(self) -> list[str]:
        """What to say about ``ZEPHYR_*`` variables that look like a misspelt setting.

        Such a variable is ignored (the app logs these when it starts). Names that
        resemble no setting are left alone: other tools share the prefix (the Zephyr
        RTOS's ``ZEPHYR_BASE``, this project's test suite).
        """
        warnings = []
        for key in sorted(self._environ):
            name = key.removeprefix(ENV_PREFIX)
            if name == key or name in self._definitions:
                continue
            close = self._closest(name)
            if close is not None:
                warnings.append(f"environment variable {key} is not a Zephyr setting and is "
                                f"ignored; did you mean {ENV_PREFIX}{close}?")
        return warnings

    def freeze(self) -> None:
        """Refuse changes from now on (called when the app starts serving)."""
        self._frozen = True

    def _known(self, name: str, where: str) -> str:
        if name in self._definitions:
            return name
        close = self._closest(name)
        hint = f"; did you mean {close!r}?" if close else ""
        raise ConfigError(f"unknown setting {name!r} (from {where}){hint}")

    def _closest(self, name: str) -> str | None:
        """The setting whose name is most like ``name``, if any is close."""
        import difflib  # NOTE: only a misspelt setting needs it

        close = difflib.get_close_matches(name.upper(), self._definitions, n=1)
        return close[0] if close else None

    def _set(self, name: str, value: Any, source: str) -> None:
        setting = self._definitions[name]
        if not _fits(setting, value):
            raise ConfigError(
                f"setting {name} must be {_type_name(setting)}, "
                f"got {value!r} from {source}"
            )
        if setting.choices and value not in setting.choices:
            allowed = ", ".join(map(repr, setting.choices))
            raise ConfigError(
                f"setting {name} must be one of {allowed}, got {value!r} from {source}"
            )
        self._values[name] = value
        self._sources[name] = source


class _PublicSettings(Mapping[str, Any]):
    """The settings that are not secret, as they are now."""

    __slots__ = ("_secret", "_values")

    def __init__(self, values: Mapping[str, Any], secret: frozenset[str]) -> None:
        self._values = values
        self._secret = secret

    def __getitem__(self, name: str) -> Any:
        if name in self._secret:
            raise KeyError(name)
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._values if name not in self._secret)

    def __len__(self) -> int:
        return len(self._values) - len(self._secret)


def _shorten(text: str, width: int = 60) -> str:
    """``text`` cut to ``width`` characters (a CSP would make the table 200 columns wide)."""
    return text if len(text) <= width else text[: width - 1] + "…"


def _read_toml(path: str) -> dict[str, Any]:
    # NOTE: tomllib loads with the first .toml settings file, not with Zephyr.
    import tomllib

    with open(path, "rb") as fh:
        try:
            return tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"settings file {path!r} is not valid TOML: {exc}") from None


def _load_settings(settings: str | Path | Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Read upper-case names from a mapping, a module name, a .py file or a .toml file."""
    if isinstance(settings, Mapping):
        return "settings mapping", {str(k).upper(): v for k, v in settings.items()}
    text = str(settings)
    try:
        if text.endswith(".toml"):
            return f"settings file {text}", {k.upper(): v for k, v in _read_toml(text).items()}
        if text.endswith(".py"):
            import runpy  # NOTE: only a .py settings file needs it

            namespace = runpy.run_path(text)
            label = f"settings file {text}"
        else:
            namespace = vars(importlib.import_module(text))
            label = f"settings module {text}"
    except FileNotFoundError as exc:
        if exc.filename != text:
            raise  # the settings file itself reads a missing file
        raise ConfigError(f"settings file {text!r} does not exist") from None
    except ModuleNotFoundError as exc:
        if exc.name is None or not (text + ".").startswith(exc.name + "."):
            raise  # the settings module itself imports something missing
        raise ConfigError(
            f"settings module {text!r} cannot be imported ({exc}); give a module on sys.path "
            "like 'myproject.settings', or the path of a .py or .toml file"
        ) from None
    return label, {k: v for k, v in namespace.items() if k.isupper() and not k.startswith("_")}


def _parse_env(setting: Setting, raw: str) -> Any:
    source = f"environment {ENV_PREFIX}{setting.name}={raw!r}"
    kinds = setting.type if isinstance(setting.type, tuple) else (setting.type,)
    for kind in kinds:
        try:
            return _parse_as(kind, raw)
        except ValueError:
            continue
    raise ConfigError(
        f"setting {setting.name} must be {_type_name(setting)}, cannot parse {source}"
        + ("; use 1/0/true/false" if bool in kinds else "")
    )


def _parse_as(kind: type, raw: str) -> Any:
    """``raw`` read as a value of ``kind`` (``ValueError`` when it is not one)."""
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(raw)
    if kind is list:
        return [item.strip() for item in raw.split(",") if item.strip()]
    if kind is dict:
        pairs = [item.split("=", 1) for item in raw.split(",") if item.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError(raw)
        return {key.strip(): value.strip() for key, value in pairs}
    return kind(raw)


def _fits(setting: Setting, value: Any) -> bool:
    if value is None:
        return setting.optional
    kinds = setting.type if isinstance(setting.type, tuple) else (setting.type,)
    return any(_is_a(kind, value) for kind in kinds)


def _is_a(kind: type, value: Any) -> bool:
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is list:
        return isinstance(value, list | tuple)
    if kind is dict:
        return isinstance(value, Mapping)
    return isinstance(value, kind)


def _type_name(setting: Setting) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "a list (comma-separated in the environment)",
             dict: "a mapping ('key=value,key=value' in the environment)"}
    kinds = setting.type if isinstance(setting.type, tuple) else (setting.type,)
    name = " or ".join(names.get(kind, kind.__name__) for kind in kinds)
    return name + (" or None" if setting.optional else "")
