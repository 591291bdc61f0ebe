"""HTMX: what an htmx request says about itself (``request.htmx``), and the ``HX-*`` answers.

Each response helper sets one ``HX-*`` header on a response and returns the response,
so they chain: ``return htmx.push_url(htmx.trigger(response, "saved"), "/notes/3")``.
The module only reads request headers and writes response headers, so it sits in the
messages layer beside ``requests`` (which builds :class:`HtmxDetails` on first use).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Protocol
from urllib.parse import unquote, urlsplit

import msgspec

from zephyr.datastructures import Headers
from zephyr.errors import HeaderValueError
from zephyr.responses import Response, header_url, to_response

__all__ = [
    "HtmxDetails",
    "location",
    "page_or_fragment",
    "push_url",
    "redirect",
    "refresh",
    "replace_url",
    "reselect",
    "reswap",
    "retarget",
    "trigger",
    "vary",
]

#: The request headers a page-or-fragment answer depends on (see :func:`page_or_fragment`).
FRAGMENT_VARY = ("HX-Request", "HX-Boosted", "HX-History-Restore-Request")
# https://htmx.org/attributes/hx-swap/: the first word of a swap specification.
SWAP_STYLES = frozenset({"innerHTML", "outerHTML", "textContent", "beforebegin", "afterbegin",
                         "beforeend", "afterend", "delete", "none"})
_TRIGGER_HEADERS = {"receive": "HX-Trigger", "settle": "HX-Trigger-After-Settle",
                    "swap": "HX-Trigger-After-Swap"}
_NO_DETAIL: Any = object()


class HtmxDetails:
    """What htmx sent with a request: ``if request.htmx:`` is true for htmx requests only.

    Text values are ``None`` when the header is missing or empty, and decoded when
    htmx had to URI-encode them (a value outside latin-1, marked ``…-URI-AutoEncoded``).
    """

    __slots__ = ("_headers", "_origin")

    def __init__(self, headers: Headers, origin: str) -> None:
        """``origin`` is the request's own ``scheme://host`` (for :attr:`current_url_abs_path`)."""
        self._headers = headers
        self._origin = origin

    def __bool__(self) -> bool:
        return self._flag("hx-request")

    @property
    def boosted(self) -> bool:
        """Whether a boosted link or form (``hx-boost``) sent it: it swaps in a whole page."""
        return self._flag("hx-boosted")

    @property
    def history_restore_request(self) -> bool:
        """Whether htmx restores a page missing from its history cache (send the whole page)."""
        return self._flag("hx-history-restore-request")

    @property
    def is_partial(self) -> bool:
        """Whether the request wants part of a page: htmx, neither boosted nor a history restore."""
        return bool(self) and not self.boosted and not self.history_restore_request

    @property
    def target(self) -> str | None:
        """The ``id`` of the element the answer goes into (``HX-Target``)."""
        return self._text("hx-target")

    @property
    def trigger(self) -> str | None:
        """The ``id`` of the element that triggered the request (``HX-Trigger``)."""
        return self._text("hx-trigger")

    @property
    def trigger_name(self) -> str | None:
        """The ``name`` of the element that triggered the request (``HX-Trigger-Name``)."""
        return self._text("hx-trigger-name")

    @property
    def prompt(self) -> str | None:
        """What the user typed into an ``hx-prompt`` dialog (``HX-Prompt``)."""
        return self._text("hx-prompt")

    @property
    def current_url(self) -> str | None:
        """The URL of the page the request came from (``HX-Current-URL``)."""
        return self._text("hx-current-url")

    @property
    def current_url_abs_path(self) -> str | None:
        """:attr:`current_url` as a path (with query and fragment) if it is on this origin.

        A safe ``?next=`` value: another origin's URL gives ``None``.
        """
        url = self.current_url
        if url is None:
            return None
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}".lower() != self._origin.lower():
            return None
        return parts._replace(scheme="", netloc="").geturl() or "/"

    def _flag(self, name: str) -> bool:
        # NOTE: htmx sends its booleans as exactly "true".
        return bool(self._headers.get(name) == "true")

    def _text(self, name: str) -> str | None:
        value: str | None = self._headers.get(name) or None
        if value is not None and self._headers.get(f"{name}-uri-autoencoded") == "true":
            # NOTE: htmx encodes a value the browser refuses to send (encodeURIComponent).
            value = unquote(value)
        return value

    def __repr__(self) -> str:
        return f"<HtmxDetails htmx={bool(self)}>"


class _HasHtmx(Protocol):
    @property
    def htmx(self) -> HtmxDetails: ...


# -- answers ---------------------------------------------------------------------------------


def redirect(response: Response, url: str) -> Response:
    """Send the browser to ``url`` with a full page load (``HX-Redirect``)."""
    response.headers["HX-Redirect"] = header_url(url)
    return response


def refresh(response: Response) -> Response:
    """Reload the whole page (``HX-Refresh: true``)."""
    response.headers["HX-Refresh"] = "true"
    return response


def location(response: Response, path: str, *, source: str | None = None,
             event: str | None = None, handler: str | None = None, target: str | None = None,
             swap: str | None = None, values: Mapping[str, Any] | None = None,
             headers: Mapping[str, str] | None = None, select: str | None = None) -> Response:
    """Load ``path`` into the page without a full reload, as ``hx-get`` would (``HX-Location``).

    The options are those of htmx's ``htmx.ajax()`` context; with none, the header is the path.
    """
    url = header_url(path)
    if swap is not None:
        _check_swap(swap)
    context = {"source": source, "event": event, "handler": handler, "target": target,
               "swap": swap, "values": values, "headers": headers, "select": select}
    given = {name: value for name, value in context.items() if value is not None}
    value = _json({"path": url, **given}, "the location") if given else url
    response.headers["HX-Location"] = value
    return response


def push_url(response: Response, url: str | Literal[False]) -> Response:
    """Push ``url`` into the browser history (``HX-Push-Url``); ``False`` pushes nothing."""
    response.headers["HX-Push-Url"] = _url_or_false(url)
    return response


def replace_url(response: Response, url: str | Literal[False]) -> Response:
    """Replace the current URL in the location bar (``HX-Replace-Url``); ``False``: keep it."""
    response.headers["HX-Replace-Url"] = _url_or_false(url)
    return response


def retarget(response: Response, selector: str) -> Response:
    """Swap the answer into the element ``selector`` finds instead (``HX-Retarget``)."""
    response.headers["HX-Retarget"] = selector
    return response


def reselect(response: Response, selector: str) -> Response:
    """Swap in only the part of the answer ``selector`` finds (``HX-Reselect``)."""
    response.headers["HX-Reselect"] = selector
    return response


def reswap(response: Response, swap: str) -> Response:
    """Swap the answer in another way, like ``"outerHTML"`` or ``"beforeend swap:1s"``."""
    _check_swap(swap)
    response.headers["HX-Reswap"] = swap
    return response


def trigger(response: Response, event: str | Sequence[str] | Mapping[str, Any],
            detail: Any = _NO_DETAIL, *,
            after: Literal["receive", "settle", "swap"] = "receive") -> Response:
    """Trigger client-side events: ``trigger(response, "saved", {"id": 3})``.

    ``event`` is a name (with an optional ``detail``), a list of names, or a mapping
    of names to details. Events accumulate over calls. ``after`` chooses when they
    fire: on receiving the answer (``HX-Trigger``), after the swap (``HX-Trigger-After-Swap``)
    or after the settle (``HX-Trigger-After-Settle``).
    """
    header = _TRIGGER_HEADERS.get(after)
    if header is None:
        raise HeaderValueError(f"trigger(after={after!r}): use 'receive', 'swap' or 'settle'")
    if isinstance(event, str):
        events = {event: detail}
    elif detail is not _NO_DETAIL:
        raise HeaderValueError(
            f"trigger({event!r}, {detail!r}): a detail goes with one event name; for several "
            "events give a mapping of names to details"
        )
    elif isinstance(event, Mapping):
        events = dict(event)
    else:
        events = dict.fromkeys(event, _NO_DETAIL)
    for name in events:
        _check_event_name(name)
    headers = response.headers
    existing = headers.get(header)
    if existing is not None:
        events = {**_parse_trigger(existing), **events}
    if all(value is _NO_DETAIL for value in events.values()):
        value = ", ".join(events)
    else:
        details = {name: {} if d is _NO_DETAIL else d for name, d in events.items()}
        value = _json(details, "the detail")
    headers[header] = value
    return response


def vary(response: Response) -> Response:
    """Add ``Vary: HX-Request``: for a route that answers htmx requests differently.

    Caches (the browser's too) then keep the page and the fragment apart.
    """
    response.headers.add_vary("HX-Request")
    return response


def page_or_fragment(request: _HasHtmx, block: str,
                     render: Callable[[str | None], Any]) -> Response:
    """``render(block)`` for an htmx request that wants part of a page, else ``render(None)``.

    ``render`` returns anything a handler may return. The answer varies on the headers
    that chose it (``Vary: HX-Request, HX-Boosted, HX-History-Restore-Request``): boosted
    links and history restores get the whole page, as htmx expects.
    """
    chosen = block if request.htmx.is_partial else None
    response = to_response(render(chosen), 200, render)
    response.headers.add_vary(*FRAGMENT_VARY)
    return response


# -- header values ---------------------------------------------------------------------------


def _url_or_false(url: str | Literal[False]) -> str:
    if url is False:
        return "false"
    if not isinstance(url, str):
        raise HeaderValueError(f"expected a URL or False, got {url!r}")
    return header_url(url)


def _check_swap(swap: str) -> None:
    style = swap.split(None, 1)[0] if swap.strip() else swap
    if style not in SWAP_STYLES:
        raise HeaderValueError(
            f"{style!r} is not an htmx swap style; use one of {', '.join(sorted(SWAP_STYLES))}"
        )


def _check_event_name(name: object) -> None:
    if not (isinstance(name, str) and name
            and not any(ch.isspace() or ch in ",{}" for ch in name)):
        raise HeaderValueError(
            f"event name {name!r} cannot be sent: use a non-empty name without spaces, "
            "commas or braces, like 'note-saved'"
        )


def _parse_trigger(value: str) -> dict[str, Any]:
    """The events of an ``HX-Trigger`` value this module wrote (JSON or a list of names)."""
    if value.startswith("{"):
        try:
            events: dict[str, Any] = msgspec.json.decode(value, type=dict[str, Any])
        except msgspec.DecodeError:
            raise HeaderValueError(f"the response's trigger header {value[:100]!r} is not a "
                                   "JSON object; set it with htmx.trigger() only") from None
        return events
    return dict.fromkeys((name.strip() for name in value.split(",")), _NO_DETAIL)


def _json(value: Any, what: str) -> str:
    """``value`` as JSON in ASCII: header values are read as latin-1, so others are escaped."""
    try:
        text = msgspec.json.encode(value).decode()
    except (TypeError, msgspec.EncodeError) as exc:
        raise HeaderValueError(f"cannot encode {what} as JSON: {exc}") from None
    if text.isascii():
        return text
    return "".join(ch if ch.isascii() else _escape(ord(ch)) for ch in text)


def _escape(code: int) -> str:
    """A ``\\u`` escape, as a UTF-16 surrogate pair beyond the basic plane (RFC 8259 §7)."""
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
