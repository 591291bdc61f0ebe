"""What the deployment check reports: each problem's stable id and :class:`DeployProblem`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

__all__ = ["PROBLEM_IDS", "DeployProblem", "Settings", "problem"]

#: Resolved settings, as the checks read them.
Settings = Mapping[str, Any]

_FAR = "far above its default, or has no limit"

#: Every problem :func:`~zephyr.security.deploy.check_deploy` reports: id -> (setting to
#: change, summary). ``E`` ids are errors (unsafe in any deployment), ``W`` ids warnings
#: (unsafe unless you know why). Ids are stable: a retired id is never reused.
PROBLEM_IDS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "zephyr.security.E001": ("SECRET_KEY", "the secret key is missing or weak"),
    "zephyr.security.E002": ("SECRET_KEY_FALLBACKS", "an old secret key is weak"),
    "zephyr.security.E003": ("DEBUG", "debug mode is on"),
    "zephyr.security.E004": ("ALLOWED_HOSTS", "any Host header is accepted ('*')"),
    "zephyr.security.E005": ("ALLOWED_HOSTS", "no Host header is accepted (empty list)"),
    "zephyr.security.E006": ("TRUSTED_PROXIES", "every address may set forwarded headers"),
    "zephyr.security.W001": ("SECRET_KEY_FALLBACKS", "an old secret key equals SECRET_KEY"),
    "zephyr.security.W002": ("ALLOWED_HOSTS", "only local host names are accepted"),
    "zephyr.security.W003": ("CSRF", "CSRF protection is off"),
    "zephyr.security.W004": ("SECURITY_HEADERS", "security headers are off"),
    "zephyr.security.W005": ("CONTENT_SECURITY_POLICY", "no Content-Security-Policy is sent"),
    "zephyr.security.W006": ("CONTENT_SECURITY_POLICY", "scripts allow 'unsafe-inline' or "
                             "'unsafe-eval'"),
    "zephyr.security.W007": ("HSTS_SECONDS", "HSTS is off"),
    "zephyr.security.W008": ("HSTS_SECONDS", "HSTS lasts less than a year"),
    "zephyr.security.W009": ("FRAME_OPTIONS", "pages may be framed by other sites"),
    "zephyr.security.W010": ("SESSION_COOKIE_SECURE", "the session cookie may travel over http"),
    "zephyr.security.W011": ("OPENAPI", "the API docs are public"),
    "zephyr.security.W012": ("SESSION_BACKEND", "sessions live in one process's memory"),
    "zephyr.security.W013": ("RATE_LIMIT_BACKEND", "rate-limit counters live in one process's "
                             "memory"),
    "zephyr.security.W014": ("FAILURE_LIMIT", "repeated security failures are never throttled"),
    "zephyr.security.W015": ("SESSION_COOKIE_SECURE", "behind a proxy, the session cookie is "
                             "Secure (and HSTS sent) only if the proxy forwards the scheme"),
    "zephyr.security.W016": ("CONTENT_SECURITY_POLICY", "scripts, plugins or the base URL may "
                             "come from any origin"),
    "zephyr.security.W017": ("CSRF_TRUSTED_ORIGINS", "a trusted origin is 'null' or plain http"),
    "zephyr.security.W018": ("ALLOWED_HOSTS", "an entry matches every name under a public "
                             "suffix"),
    "zephyr.security.W019": ("TRUSTED_PROXIES", "a trusted network is far larger than any "
                             "proxy setup"),
    "zephyr.security.W020": ("MAX_BODY_SIZE", f"the limit on other bodies is {_FAR}"),
    "zephyr.security.W021": ("MAX_JSON_SIZE", f"the limit on JSON bodies is {_FAR}"),
    "zephyr.security.W022": ("MAX_FORM_SIZE", f"the limit on form bodies is {_FAR}"),
    "zephyr.security.W023": ("MAX_MULTIPART_SIZE", f"the limit on multipart bodies is {_FAR}"),
    "zephyr.security.W024": ("MULTIPART_MAX_FIELDS", f"the limit on form fields is {_FAR}"),
    "zephyr.security.W025": ("MULTIPART_MAX_FILES", f"the limit on uploaded files is {_FAR}"),
    "zephyr.security.W026": ("MULTIPART_SPOOL_SIZE", f"the upload size kept in memory is {_FAR}"),
    "zephyr.security.W027": ("BODY_TIMEOUT", f"the time a body may take is {_FAR}"),
    "zephyr.security.W028": ("MAX_HEADER_COUNT", f"the limit on request headers is {_FAR}"),
    "zephyr.security.W029": ("MAX_HEADER_SIZE", f"the limit on header size is {_FAR}"),
    "zephyr.security.W030": ("CSRF", "a route authenticated by the session has CSRF off"),
})


@dataclass(frozen=True, slots=True)
class DeployProblem:
    """One unsafe production setting: what is wrong, why it matters and what to set."""

    id: str
    setting: str
    message: str
    fix: str
    severity: Literal["error", "warning"]

    def __str__(self) -> str:
        return f"{self.id} {self.setting}: {self.message} Fix: {self.fix}"


def problem(problem_id: str, message: str, fix: str) -> DeployProblem:
    """The problem ``problem_id`` (its setting and severity from :data:`PROBLEM_IDS`)."""
    setting = PROBLEM_IDS[problem_id][0]
    severity: Literal["error", "warning"] = "error" if ".E" in problem_id else "warning"
    return DeployProblem(problem_id, setting, message, fix, severity)
