"""Validators, conditional requests and byte ranges (RFC 9110 §8.8, §13, §14), as pure functions.

Entity-tag lists compared weakly or strongly, HTTP dates in their three
formats, the order in which the preconditions of a ``GET`` are evaluated, and
the single byte range a server answers with 206. Nothing here knows a file,
an app or a route: static files and compression hand in the values they have.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Mapping

from zephyr.errors import HTTPException

__all__ = [
    "CONDITIONAL_HEADERS",
    "RangeNotSatisfiable",
    "byte_range",
    "entity_tags",
    "etag_in",
    "parse_http_date",
    "precondition_status",
]

#: The request headers that conditional and range requests read (lower-case bytes).
CONDITIONAL_HEADERS = frozenset({
    b"if-match", b"if-none-match", b"if-modified-since", b"if-unmodified-since", b"range",
    b"if-range",
})

# NOTE: RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; etagc may be a comma.
_ENTITY_TAG = re.compile(r'\s*(W/)?("[^"]*")\s*(?:,|$)')
_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
# NOTE: RFC 9110 §5.6.7: recipients accept IMF-fixdate, the obsolete RFC 850 form, and asctime.
_IMF_FIXDATE = re.compile(r"[A-Z][a-z]{2}, (\d\d) ([A-Z][a-z]{2}) (\d{4}) (\d\d):(\d\d):(\d\d) GMT")
_RFC_850 = re.compile(r"[A-Z][a-z]{5,8}, (\d\d)-([A-Z][a-z]{2})-(\d\d) (\d\d):(\d\d):(\d\d) GMT")
_ASCTIME = re.compile(r"[A-Z][a-z]{2} ([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d) (\d{4})")


class RangeNotSatisfiable(HTTPException):
    """416: no byte of the requested range exists; ``Content-Range: bytes */<size>`` says why."""

    def __init__(self, size: int) -> None:
        super().__init__(416, f"the requested range lies outside the file ({size} bytes)",
                         headers={"Content-Range": f"bytes */{size}"})


def etag_in(field: str, etag: str, *, weak: bool) -> bool:
    """Whether the ``If-Match``/``If-None-Match`` value ``field`` lists ``etag`` (or is ``*``).

    ``weak=True`` is the weak comparison ``If-None-Match`` uses (``W/"x"`` matches
    ``"x"``); ``weak=False`` the strong one of ``If-Match`` and ``If-Range``, where a
    weak tag matches nothing (RFC 9110 §8.8.3.2). Malformed members match nothing.
    """
    if field == etag and (weak or not etag.startswith("W/")):
        return True  # PERF: a client echoing the one tag it was given, the common case
    tags = entity_tags(field)
    if tags == ["*"]:
        return True
    if not weak:
        return not etag.startswith("W/") and etag in tags
    opaque = etag.removeprefix("W/")
    return any(tag.removeprefix("W/") == opaque for tag in tags)


def entity_tags(field: str) -> list[str]:
    """The members of an ``If-None-Match``/``If-Match`` value as written (``W/"x"``, ``*``),
    up to the first malformed one."""
    if field.strip() == "*":
        return ["*"]
    tags, position = [], 0
    while position < len(field) and (member := _ENTITY_TAG.match(field, position)) is not None:
        tags.append((member.group(1) or "") + member.group(2))
        position = member.end()
    return tags


def parse_http_date(value: str) -> int | None:
    """Seconds since the epoch for an HTTP date in any of its three forms; ``None`` if invalid."""
    value = value.strip()
    if match := _IMF_FIXDATE.fullmatch(value):
        day, month, year, hour, minute, second = match.groups()
    elif match := _RFC_850.fullmatch(value):
        day, month, short_year, hour, minute, second = match.groups()
        # NOTE: RFC 9110 §5.6.7: a two-digit year more than 50 years ahead is in the past.
        this_year = time.gmtime().tm_year
        year = str(this_year - this_year % 100 + int(short_year))
        if int(year) > this_year + 50:
            year = str(int(year) - 100)
    elif match := _ASCTIME.fullmatch(value):
        month, day, hour, minute, second, year = match.groups()
    else:
        return None
    number = _MONTHS.get(month)
    if number is None:
        return None
    try:
        fields = (int(year), number, int(day), int(hour), int(minute), int(second))
    except ValueError:
        return None
    if not (1 <= fields[2] <= 31 and fields[3] < 24 and fields[4] < 60 and fields[5] < 61):
        return None
    return calendar.timegm(fields)


def precondition_status(fields: Mapping[bytes, str], etag: str, last_modified: int,
                        last_modified_text: str) -> int | None:
    """412 or 304 when a precondition of a ``GET``/``HEAD`` answers, else ``None``.

    The order is RFC 9110 §13.2.2's.

    ``fields`` holds the request's conditional headers by lower-case name;
    ``last_modified`` is the representation's modification time in whole seconds
    and ``last_modified_text`` the ``Last-Modified`` value sent for it.
    """
    if_match = fields.get(b"if-match")
    if if_match is not None:
        if not etag_in(if_match, etag, weak=False):
            return 412
    else:
        since = fields.get(b"if-unmodified-since")
        if since is not None:
            date = parse_http_date(since)
            if date is not None and last_modified > date:
                return 412
    if_none_match = fields.get(b"if-none-match")
    if if_none_match is not None:
        return 304 if etag_in(if_none_match, etag, weak=True) else None
    # NOTE: RFC 9110 §13.1.3: If-Modified-Since is ignored when If-None-Match is present.
    since = fields.get(b"if-modified-since")
    if since is not None:
        if since == last_modified_text:
            return 304  # PERF: a client echoing Last-Modified, parsed no further
        date = parse_http_date(since)
        # NOTE: RFC 9110 §13.1.3: a date later than the server's clock is invalid.
        if date is not None and date <= time.time() and last_modified <= date:
            return 304
    return None


def byte_range(fields: Mapping[bytes, str], size: int, etag: str,
               last_modified: int) -> tuple[int, int] | None:
    """The one ``(start, stop)`` byte range to answer with 206, or ``None`` for the whole (200).

    ``Range`` is honoured only when ``If-Range`` (if sent) still names this
    representation: its strong ``etag`` or, for a date, exactly ``last_modified``.
    Several ranges, another unit or a malformed value mean the whole file (a
    server may ignore ``Range``, RFC 9110 §14.2). Raises :class:`RangeNotSatisfiable`
    when no requested byte exists.
    """
    header = fields.get(b"range")
    if header is None:
        return None
    if_range = fields.get(b"if-range")
    if if_range is not None and not _if_range_holds(if_range.strip(), etag, last_modified):
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = (part.strip() for part in spec.partition("-"))
    if not dash or not (first or last) or not all(_is_number(p) for p in (first, last) if p):
        return None
    if not first:  # a suffix: the last N bytes
        if int(last) == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return max(0, size - int(last)), size
    start = int(first)
    if last and int(last) < start:
        return None  # NOTE: RFC 9110 §14.1.1: last-pos below first-pos is invalid, not empty
    if start >= size:
        raise RangeNotSatisfiable(size)
    return start, min(int(last) + 1, size) if last else size


def _if_range_holds(value: str, etag: str, last_modified: int) -> bool:
    """RFC 9110 §13.1.5: an entity tag compared strongly, or a date that matches exactly."""
    if value.startswith(('"', 'W/"')):
        return etag_in(value, etag, weak=False)
    return parse_http_date(value) == last_modified


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()
