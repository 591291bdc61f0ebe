"""The debug page: an unhandled exception in full, for a developer on this machine.

Only an app in debug mode builds one, and it shows itself only to a client on a
loopback address that came through no proxy. Browsers get the HTML page, API clients
problem+json with the traceback and the chain; if the page itself fails, a plain-text
traceback. Secrets are masked throughout: values of secret-sounding names, and the
values of the secret settings wherever they appear.
"""

from __future__ import annotations

import ipaddress
import logging
import traceback
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from zephyr.dev import _debug_html
from zephyr.dev._debug_data import Masker, chain_of
from zephyr.error_handlers import instance_of
from zephyr.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

if TYPE_CHECKING:
    from zephyr.config import Config
    from zephyr.requests import Request

__all__ = ["DebugPage"]

logger = logging.getLogger("zephyr.error")

#: Headers a proxy adds: behind one, every client may look local.
_FORWARDING = {b"forwarded": "Forwarded", b"x-forwarded-for": "X-Forwarded-For",
               b"x-real-ip": "X-Real-IP"}


class DebugPage:
    """The debug page of an app in debug mode, built at startup from its settings."""

    __slots__ = ("_config", "_masker")

    def __init__(self, config: Config) -> None:
        self._config = config
        self._masker = Masker(_secret_texts(config.secrets().values()))

    def refusal(self, request: Request) -> str | None:
        """Why this request's client may not see the page (``None``: it may).

        SECURITY: the page shows source code, locals and settings: it is for a client on
        a loopback address only, and not for a request that came through a proxy (which
        makes every client look local), whether or not ``TRUSTED_PROXIES`` believes it.
        """
        client = request.scope.get("client")
        if not client:
            return "the server did not say which address the client has"
        host = str(client[0])
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return f"the client address {host!r} is not an IP address"
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        if not (mapped or address).is_loopback:
            return f"the client {host} is not on this machine"
        for name, _ in request.scope["headers"]:
            if name in _FORWARDING:
                return (f"the request came through a proxy ({_FORWARDING[name]}), which hides "
                        "the real client")
        return None

    def __call__(self, request: Request, exc: BaseException, request_id: str, *,
                 wants_html: bool) -> Response:
        """The 500 response that shows ``exc``; never an exception of its own."""
        try:
            if wants_html:
                page = _debug_html.render_page(request, exc, request_id, masker=self._masker,
                                               config=self._config)
                return HTMLResponse(page, 500)
            return JSONResponse(self._problem(exc, request_id), 500,
                                headers={"content-type": "application/problem+json"})
        except Exception as failure:
            logger.exception("the debug page failed to render; a plain-text traceback was "
                             "sent instead")
            return self._plain_text(exc, failure, request_id)

    def _problem(self, exc: BaseException, request_id: str) -> dict[str, Any]:
        """problem+json with the traceback (as Python prints it) and the chain, frame by frame."""
        masker = self._masker
        chain = chain_of(exc, masker)
        return {
            "type": "about:blank",
            "title": "Internal Server Error",
            "status": 500,
            "detail": masker.text(f"{type(exc).__name__}: {chain[0].message}"),
            "instance": instance_of(request_id),
            "request_id": request_id,
            "traceback": [masker.text(line, limit=10_000)
                          for line in traceback.format_exception(exc)],
            "chain": [
                {"number": failure.number, "type": failure.type, "message": failure.message,
                 "relation": failure.relation, "of": failure.of,
                 "frames": [{"file": frame.file, "line": frame.line,
                             "function": frame.function, "kind": frame.kind}
                            for frame in failure.frames],
                 "frames_left_out": failure.omitted}
                for failure in chain
            ],
        }

    def _plain_text(self, exc: BaseException, failure: Exception, request_id: str) -> Response:
        """The traceback as Python prints it: what is left when the page itself failed."""
        why = traceback.format_exception_only(failure)[-1].strip()
        text = (f"500 Internal Server Error (request id {request_id})\n\n"
                f"The debug page failed ({why}); here is the traceback:\n\n"
                + "".join(traceback.format_exception(exc)))
        return PlainTextResponse(self._masker.text(text, limit=1_000_000), 500)


def _secret_texts(values: Iterable[Any]) -> Iterator[str]:
    """The texts to mask for the secret settings' values: each string, each item of a list,
    and the password of a URL (``redis://:password@host``)."""
    for value in values:
        if isinstance(value, str):
            yield value
            if "://" in value:
                password = urlsplit(value).password
                if password:
                    yield password
        elif isinstance(value, list | tuple):
            yield from _secret_texts(value)
