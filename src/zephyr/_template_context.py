"""What every template sees besides its own context: the values of the request being
handled, and the ``tojson`` filter.

Each value is looked up only when a template uses it: a page that never reads
``session`` never opens the session (which would make the response private:
``Cache-Control: no-store``), and a page that never calls ``csp_nonce()``
issues no nonce.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import msgspec
from markupsafe import Markup

from zephyr._template_errors import TemplateError
from zephyr.context import csp_nonce, g, request, request_var
from zephyr.errors import ContextError, SetupError
from zephyr.flash_messages import get_flashed_messages

if TYPE_CHECKING:
    from zephyr.datastructures import Session

__all__ = ["SessionView", "prepare_for_streaming", "template_globals", "tojson"]


def template_globals(*, url_for: Callable[..., str], static_url: Callable[..., str] | None,
                     csrf_token: Callable[[], str] | None,
                     csrf_headers: Callable[[], Any] | None, settings: Mapping[str, Any],
                     sandbox: bool) -> dict[str, Any]:
    """The names every template sees: ``url_for``, ``static_url``, ``csrf_token()``,
    ``htmx_csrf_headers()`` (the ``hx-headers`` attribute carrying a token),
    ``csp_nonce()``, ``get_flashed_messages()``, ``config`` and (outside the sandbox)
    ``request``, ``session`` and ``g``.

    ``url_for`` builds an app path (it is used outside requests); ``settings`` are the
    non-secret settings.
    """
    names: dict[str, Any] = {
        "url_for": _request_url_for(url_for),
        "static_url": static_url or _no_static_url,
        "csrf_token": csrf_token or _no_csrf_token,
        "htmx_csrf_headers": csrf_headers or _no_csrf_token,
        "csp_nonce": csp_nonce,
        "get_flashed_messages": get_flashed_messages,
        "config": settings,
    }
    if not sandbox:
        # SECURITY: a sandboxed (untrusted) template must not reach the app through
        # request.app, nor read or write the session.
        names.update(request=request, session=SessionView(), g=g)
    return names


def _request_url_for(app_url_for: Callable[..., str]) -> Callable[..., str]:
    def url_for(name: str, /, *, _query: Mapping[str, Any] | None = None,
                _external: bool = False, **params: Any) -> str:
        """The URL of route ``name``: below the mount point, absolute with ``_external=True``."""
        current = request_var.get(None)
        if current is not None:
            return current.url_for(name, _query=_query, _external=_external, **params)
        if _external:
            raise ContextError(
                f"url_for({name!r}, _external=True) needs a request to know the host; "
                "outside one, join your site's origin and url_for(...) yourself"
            )
        return app_url_for(name, _query=_query, **params)

    return url_for


class SessionView(Mapping[str, Any]):
    """``session`` in templates: the request's session, opened when a template first reads it."""

    __slots__ = ()

    @staticmethod
    def _session() -> Session:
        return request.session

    def __getitem__(self, key: str) -> Any:
        return self._session()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._session())

    def __len__(self) -> int:
        return len(self._session())

    def __contains__(self, key: object) -> bool:
        return key in self._session()

    def __repr__(self) -> str:
        return "<session of the current request>"


def prepare_for_streaming(csrf_token: Callable[[], str] | None) -> None:
    """Settle what a streamed page may read before its headers leave.

    The response headers are sent before the body renders: a session opened or
    changed later (a new CSRF secret, flashed messages taken) would not be saved,
    and a nonce issued later would miss the Content-Security-Policy.
    """
    current = request
    _ = current.session, current.csp_nonce
    get_flashed_messages()
    if csrf_token is not None:
        csrf_token()


def _no_static_url(filename: str, /, **options: Any) -> str:
    raise SetupError(
        f"static_url({filename!r}) is not available: this app serves no static files "
        "(give it a static_folder)"
    )


def _no_csrf_token() -> str:
    raise SetupError("csrf_token() is not available in templates that belong to no app")


_HTML_SAFE_JSON = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                                 "'": "\\u0027"})


def tojson(value: Any, indent: int | None = None) -> Markup:
    """The ``tojson`` filter: JSON (msgspec) that is safe in ``<script>`` and attributes.

    ``<``, ``>``, ``&`` and ``'`` are escaped as ``\\uXXXX`` (as Jinja2's
    ``htmlsafe_json_dumps`` does), so the text can neither end a script nor a
    single-quoted attribute.
    """
    try:
        encoded = msgspec.json.encode(value)
    except TypeError as exc:
        raise TemplateError(f"tojson cannot encode {type(value).__name__}: {exc}") from None
    if indent:
        encoded = msgspec.json.format(encoded, indent=indent)
    return Markup(encoded.decode().translate(_HTML_SAFE_JSON))  # noqa: S704 - escaped above
