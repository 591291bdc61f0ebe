"""Request and response data as values: headers, multi-dicts, query strings, URLs, sessions.

Everything here is decoded lazily from the raw ASGI data and, unless its name
says ``Mutable``, immutable.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any, TypeVar
from urllib.parse import SplitResult, unquote_to_bytes, urlencode, urlsplit

from zephyr.errors import BadRequest, HeaderValueError

__all__ = [
    "URL",
    "Headers",
    "MultiDict",
    "MutableHeaders",
    "QueryParams",
    "Session",
    "decode_path",
    "http_date",
    "parse_query_string",
]

_T = TypeVar("_T")
RawHeaders = list[tuple[bytes, bytes]]

# SECURITY: a CR, LF or NUL in a header would let a value start a new header or
# end the head of the response (response splitting).
_FORBIDDEN_IN_HEADERS = frozenset(b"\r\n\x00")
# RFC 9110 §5.1: a field name is a token.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+")


class Headers(Mapping[str, str]):
    """Case-insensitive, multi-valued, immutable view over raw ASGI headers.

    ``headers["accept"]`` gives the first value, ``headers.getlist("accept")``
    all of them in order.
    """

    __slots__ = ("_raw",)

    def __init__(
        self,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        *,
        raw: RawHeaders | None = None,
    ) -> None:
        if raw is not None:
            self._raw: RawHeaders = raw
            return
        items = headers.items() if isinstance(headers, Mapping) else (headers or ())
        self._raw = [_encode_header(name, value) for name, value in items]

    @property
    def raw(self) -> RawHeaders:
        """The headers as the ASGI list of ``(name, value)`` byte pairs."""
        return self._raw

    def __getitem__(self, key: str) -> str:
        # "replace": a name outside latin-1 (now with "?", never in a name) just misses.
        wanted = key.lower().encode("latin-1", "replace")
        for name, value in self._raw:
            if name == wanted:
                return value.decode("latin-1")
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        wanted = key.lower().encode("latin-1", "replace")
        for name, value in self._raw:
            if name == wanted:
                return value.decode("latin-1")
        return default

    def getlist(self, key: str) -> list[str]:
        """Every value of ``key``, in the order received."""
        wanted = key.lower().encode("latin-1", "replace")
        return [value.decode("latin-1") for name, value in self._raw if name == wanted]

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        wanted = key.lower().encode("latin-1", "replace")
        return any(name == wanted for name, _ in self._raw)

    def __iter__(self) -> Iterator[str]:
        seen: set[bytes] = set()
        for name, _ in self._raw:
            if name not in seen:
                seen.add(name)
                yield name.decode("latin-1")

    def __len__(self) -> int:
        return len({name for name, _ in self._raw})

    def multi_items(self) -> list[tuple[str, str]]:
        """Every ``(name, value)`` pair, repeated names included."""
        return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in self._raw]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return sorted(self._raw) == sorted(other._raw)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.multi_items()!r})"


class MutableHeaders(Headers):
    """Headers of a response under construction; refuses values with CR/LF/NUL."""

    __slots__ = ()

    def __setitem__(self, key: str, value: str) -> None:
        """Set ``key`` to ``value``, replacing every earlier value."""
        name, encoded = _encode_header(key, value)
        self._raw[:] = [item for item in self._raw if item[0] != name]
        self._raw.append((name, encoded))

    def __delitem__(self, key: str) -> None:
        name = key.lower().encode("latin-1", "replace")
        kept = [item for item in self._raw if item[0] != name]
        if len(kept) == len(self._raw):
            raise KeyError(key)
        self._raw[:] = kept

    def append(self, key: str, value: str) -> None:
        """Add a value for ``key`` without removing the existing ones."""
        self._raw.append(_encode_header(key, value))

    def setdefault(self, key: str, value: str) -> str:
        """Set ``key`` unless present; return the value in effect."""
        existing: str | None = self.get(key)
        if existing is not None:
            return existing
        self[key] = value
        return value

    def update(self, other: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        """Set every pair of ``other``, each replacing earlier values."""
        items = other.items() if isinstance(other, Mapping) else other
        for key, value in items:
            self[key] = value

    def add_vary(self, *names: str) -> None:
        """Add ``names`` to ``Vary``: one header line, each name once, ``*`` left as it is.

        NOTE: RFC 9110 §12.5.5: a response lists every request header its content depends
        on, so caches keep one copy per combination of their values.
        """
        present = [name.strip() for value in self.getlist("vary") for name in value.split(",")
                   if name.strip()]
        if "*" in present:
            return
        seen = {name.lower() for name in present}
        for name in names:
            if name.lower() not in seen:
                seen.add(name.lower())
                present.append(name)
        self["vary"] = ", ".join(present)

    def pop(self, key: str, default: Any = None) -> Any:
        """Remove ``key`` and return its first value (or ``default``)."""
        value = self.get(key, default)
        if key in self:
            del self[key]
        return value


def _encode_header(name: str, value: object) -> tuple[bytes, bytes]:
    """Encode one header pair, refusing characters that would split the response."""
    try:
        raw_name = str(name).lower().encode("latin-1")
        raw_value = str(value).encode("latin-1")
    except UnicodeEncodeError:
        raise HeaderValueError(
            f"header {name!r} has a character outside latin-1 in its name or value {value!r}; "
            "percent-encode non-ASCII text first (e.g. urllib.parse.quote(value))"
        ) from None
    if _FORBIDDEN_IN_HEADERS.intersection(raw_value) or _FORBIDDEN_IN_HEADERS.intersection(
        raw_name
    ):
        raise HeaderValueError(
            f"header {name!r} has a CR, LF or NUL character in its name or value {value!r}; "
            "header values must be a single line: strip or encode the newline first"
        )
    if not _TOKEN.fullmatch(raw_name):
        raise HeaderValueError(
            f"{name!r} is not a valid header name; use letters, digits and !#$%&'*+-.^_`|~"
        )
    return raw_name, raw_value


class MultiDict(Mapping[str, _T]):
    """Immutable mapping where a key may have several values.

    ``d[key]`` and ``d.get(key)`` give the first value, ``d.getlist(key)`` all
    of them; ``d.multi_items()`` keeps every pair in order.
    """

    __slots__ = ("_dict", "_list")

    def __init__(self, items: Iterable[tuple[str, _T]] | Mapping[str, _T] = ()) -> None:
        pairs = list(items.items() if isinstance(items, Mapping) else items)
        self._list: list[tuple[str, _T]] = pairs
        first: dict[str, _T] = {}
        for key, value in pairs:
            first.setdefault(key, value)
        self._dict = first

    def __getitem__(self, key: str) -> _T:
        return self._dict[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def getlist(self, key: str) -> list[_T]:
        """Every value given for ``key``, in order (empty if none)."""
        return [value for k, value in self._list if k == key]

    def multi_items(self) -> list[tuple[str, _T]]:
        """Every ``(key, value)`` pair in order, repeated keys included."""
        return list(self._list)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MultiDict):
            return NotImplemented
        return sorted(self._list) == sorted(other._list)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._list!r})"


class QueryParams(MultiDict[str]):
    """The decoded query string of a request (``?tag=a&tag=b``)."""

    __slots__ = ()

    @classmethod
    def from_string(cls, query_string: str | bytes) -> QueryParams:
        """Parse a raw query string strictly; bad encoding raises ``BadRequest``."""
        return cls(parse_query_string(query_string))

    def __str__(self) -> str:
        return urlencode(self._list)


def parse_query_string(
    query_string: str | bytes, *, what: str = "query string"
) -> list[tuple[str, str]]:
    """Decode ``a=1&b=%C3%A9`` into pairs; malformed encoding is a 400, not garbage.

    ``+`` means a space, blank pairs are skipped, a key without ``=`` has the
    value ``""``. Invalid percent-escapes or bytes that are not UTF-8 raise
    :class:`~zephyr.errors.BadRequest` (with the offending part in its ``received``).
    """
    raw = query_string.encode("latin-1") if isinstance(query_string, str) else query_string
    pairs: list[tuple[str, str]] = []
    for chunk in raw.split(b"&"):
        if not chunk:
            continue
        key, _, value = chunk.partition(b"=")
        pairs.append((_decode_component(key, what), _decode_component(value, what)))
    return pairs


def _decode_component(raw: bytes, what: str) -> str:
    text = raw.replace(b"+", b" ")
    if b"%" in text:
        _check_percent_escapes(text, what)
        text = unquote_to_bytes(text)
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(f"the {what} is not valid UTF-8; percent-encode text as UTF-8",
                         received={what: repr(raw[:40])}) from None


_HEX = frozenset(b"0123456789abcdefABCDEF")


def _check_percent_escapes(raw: bytes, what: str) -> None:
    """Refuse a ``%`` that is not followed by two hex digits."""
    index = raw.find(b"%")
    while index != -1:
        escape = raw[index + 1 : index + 3]
        if len(escape) != 2 or not _HEX.issuperset(escape):
            raise BadRequest(
                f"the {what} has an invalid percent-escape; '%' must be followed by two hex "
                "digits (write a literal '%' as '%25')",
                received={what: repr(raw[index : index + 3])},
            )
        index = raw.find(b"%", index + 3)


def decode_path(raw_path: bytes) -> str:
    """Decode a raw request path strictly (400 on bad escapes or non-UTF-8 bytes)."""
    _check_percent_escapes(raw_path, "path")
    try:
        return unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the path is not valid UTF-8 once percent-decoded",
                         received={"path": repr(raw_path[:80])}) from None


class URL:
    """A URL with its parts as attributes (``url.path``, ``url.query``...).

    ``str(url)`` gives the text; a URL compares equal to its text.
    """

    __slots__ = ("_parts", "_text")

    def __init__(self, url: str = "") -> None:
        self._text = url
        self._parts: SplitResult = urlsplit(url)

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"URL({self._text!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, URL | str):
            return self._text == str(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._text)

    @property
    def scheme(self) -> str:
        """``http``, ``https``, ``ws`` or ``wss``."""
        return self._parts.scheme

    @property
    def netloc(self) -> str:
        """Host and port as written in the URL."""
        return self._parts.netloc

    @property
    def hostname(self) -> str | None:
        """The host, lower-cased, without port or brackets."""
        return self._parts.hostname

    @property
    def port(self) -> int | None:
        """The explicit port, if any."""
        return self._parts.port

    @property
    def path(self) -> str:
        """The (percent-encoded) path."""
        return self._parts.path

    @property
    def query(self) -> str:
        """The raw query string, without ``?``."""
        return self._parts.query

    @property
    def fragment(self) -> str:
        """The fragment, without ``#``."""
        return self._parts.fragment

    def replace(self, **parts: str) -> URL:
        """A copy with some parts replaced: ``url.replace(scheme="https")``."""
        return URL(self._parts._replace(**parts).geturl())

    def include_query_params(self, **params: Any) -> URL:
        """A copy whose query string also has ``params`` (replacing same names)."""
        pairs = [(k, v) for k, v in parse_query_string(self.query) if k not in params]
        pairs.extend((k, str(v)) for k, v in params.items())
        return self.replace(query=urlencode(pairs))


class Session(MutableMapping[str, Any]):
    """The session of one request: a mutable mapping that remembers whether it changed.

    ``regenerate()`` gives the session a new identity (call it on login, as
    ``login_user`` does, to defeat session fixation); ``clear()`` empties it.
    The visitor's CSRF secret travels beside the data, never in it: it is kept in
    a cookie of its own, so a session is never stored just to hold it.
    """

    __slots__ = ("_cookie", "_data", "_renewed", "csrf_secret", "csrf_secret_is_new", "modified",
                 "refused", "regenerated")

    def __init__(self, data: Mapping[str, Any] | None = None, cookie: str | None = None) -> None:
        self._data: dict[str, Any] = dict(data or {})
        self._cookie = cookie
        # The keys set since regenerate() (None before it is called).
        self._renewed: set[str] | None = None
        #: Why a session cookie the client sent was not accepted: "expired" or "forged".
        self.refused: str | None = None
        #: Whether the data changed (then it is saved with the response).
        self.modified = False
        #: Whether ``regenerate()`` was called.
        self.regenerated = False
        #: The visitor's CSRF secret once a token was asked for (``zephyr.security.csrf``).
        self.csrf_secret: str | None = None
        #: Whether ``csrf_secret`` was made for this response (its cookie is then sent).
        self.csrf_secret_is_new = False

    @property
    def cookie(self) -> str | None:
        """The cookie value the session was loaded from (``None`` for a new session)."""
        return self._cookie

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = value
        self.modified = True
        if self._renewed is not None:
            self._renewed.add(key)

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self.modified = True
        if self._renewed is not None:
            self._renewed.discard(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        """Remove everything (the cookie is deleted if nothing is added back)."""
        if self._data:
            self._data.clear()
            self.modified = True

    def regenerate(self) -> None:
        """Keep the data under a new session id, with a new CSRF secret.

        Should the old session be gone by the time the response is saved (a logout
        in another request, an admin), the new id gets only what was set after this
        call, never the old session's data.
        """
        self.regenerated = self.modified = True
        self._renewed = set()
        # The next csrf_token() makes a new secret; without one the old cookie is dropped.
        self.csrf_secret = None
        self.csrf_secret_is_new = False

    def renewed(self) -> dict[str, Any]:
        """What was set since :meth:`regenerate` (everything before it is left out)."""
        renewed = self._renewed or ()
        return {key: value for key, value in self._data.items() if key in renewed}

    def __repr__(self) -> str:
        return f"<Session keys={sorted(self._data)!r} modified={self.modified}>"


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(timestamp: float) -> str:
    """``timestamp`` as an HTTP date: ``Sun, 06 Nov 1994 08:49:37 GMT`` (RFC 9110 §5.6.7).

    Day and month names are always English, whatever the locale.
    """
    t = time.gmtime(timestamp)
    return (f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT")
