"""Validators, preconditions and byte ranges (RFC 9110 §8.8, §13, §14), as pure functions."""

from __future__ import annotations

import calendar
import time

import pytest

from zephyr._conditional import (
    RangeNotSatisfiable,
    byte_range,
    entity_tags,
    etag_in,
    parse_http_date,
    precondition_status,
)

NOV_6_1994 = calendar.timegm((1994, 11, 6, 8, 49, 37))
LAST_MODIFIED = "Sun, 06 Nov 1994 08:49:37 GMT"
ETAG = '"v1"'


@pytest.mark.parametrize(("field", "etag", "weak", "expected"), [
    ('"v1"', '"v1"', True, True),
    ('"v1"', '"v1"', False, True),
    ('"v0", "v1"', '"v1"', True, True),
    ('"v0","v1"', '"v1"', False, True),
    ('"a,b", "v1"', '"v1"', False, True),  # a comma inside a tag is part of it
    ('W/"v1"', '"v1"', True, True),  # weak comparison ignores W/
    ('W/"v1"', '"v1"', False, False),  # strong comparison: a weak tag matches nothing
    ('"v1"', 'W/"v1"', True, True),
    ('"v1"', 'W/"v1"', False, False),
    ("*", '"v1"', True, True),
    (" * ", '"v1"', False, True),
    ('"v2"', '"v1"', True, False),
    ("v1", '"v1"', True, False),  # unquoted: malformed
    ('"v0", garbage, "v1"', '"v1"', True, False),  # nothing after a malformed member
    ("", '"v1"', True, False),
])
def test_etag_in(field: str, etag: str, weak: bool, expected: bool) -> None:
    assert etag_in(field, etag, weak=weak) is expected


@pytest.mark.parametrize(("field", "tags"), [
    ('"a", W/"b"', ['"a"', 'W/"b"']),
    ("*", ["*"]),
    ('"a", oops', ['"a"']),
    ("", []),
])
def test_entity_tags_as_written(field: str, tags: list[str]) -> None:
    assert entity_tags(field) == tags


@pytest.mark.parametrize("value", [
    "Sun, 06 Nov 1994 08:49:37 GMT",  # IMF-fixdate
    "Sunday, 06-Nov-94 08:49:37 GMT",  # obsolete RFC 850
    "Sun Nov  6 08:49:37 1994",  # asctime
    "  Sun, 06 Nov 1994 08:49:37 GMT ",
])
def test_http_dates_in_every_form(value: str) -> None:
    assert parse_http_date(value) == NOV_6_1994


@pytest.mark.parametrize("value", [
    "", "yesterday", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Foo 1994 08:49:37 GMT",
    "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT", "1994-11-06T08:49:37Z",
    "Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT",
])
def test_invalid_http_dates_are_none(value: str) -> None:
    assert parse_http_date(value) is None


def test_a_two_digit_year_far_ahead_is_in_the_last_century() -> None:
    # RFC 9110 §5.6.7: "94" is 1994, not 2094.
    assert parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == NOV_6_1994


def _status(**headers: str) -> int | None:
    fields = {name.replace("_", "-").encode(): value for name, value in headers.items()}
    return precondition_status(fields, ETAG, NOV_6_1994, LAST_MODIFIED)


LATER = "Mon, 07 Nov 1994 08:49:37 GMT"
EARLIER = "Sat, 05 Nov 1994 08:49:37 GMT"
FUTURE = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 86400))


@pytest.mark.parametrize(("headers", "status"), [
    ({}, None),
    ({"if_none_match": ETAG}, 304),
    ({"if_none_match": 'W/"v1"'}, 304),
    ({"if_none_match": '"v0", "v1"'}, 304),
    ({"if_none_match": "*"}, 304),
    ({"if_none_match": '"v0"'}, None),
    ({"if_modified_since": LAST_MODIFIED}, 304),
    ({"if_modified_since": LATER}, 304),
    ({"if_modified_since": EARLIER}, None),
    ({"if_modified_since": "not a date"}, None),
    # RFC 9110 §13.1.3: a date in the future is invalid, so ignored.
    ({"if_modified_since": FUTURE}, None),
    # RFC 9110 §13.1.3: If-Modified-Since is ignored when If-None-Match is present.
    ({"if_none_match": '"v0"', "if_modified_since": LATER}, None),
    ({"if_match": ETAG}, None),
    ({"if_match": "*"}, None),
    ({"if_match": '"v0"'}, 412),
    ({"if_match": 'W/"v1"'}, 412),  # If-Match compares strongly
    ({"if_unmodified_since": EARLIER}, 412),
    ({"if_unmodified_since": LAST_MODIFIED}, None),
    ({"if_unmodified_since": "garbage"}, None),
    # If-Unmodified-Since is ignored when If-Match is present (RFC 9110 §13.2.2 step 2).
    ({"if_match": ETAG, "if_unmodified_since": EARLIER}, None),
    # A failed If-Match answers before If-None-Match is looked at.
    ({"if_match": '"v0"', "if_none_match": ETAG}, 412),
])
def test_preconditions_in_rfc_order(headers: dict[str, str], status: int | None) -> None:
    assert _status(**headers) == status


def _range(header: str, size: int = 100, **more: str) -> tuple[int, int] | None:
    fields = {b"range": header, **{k.replace("_", "-").encode(): v for k, v in more.items()}}
    return byte_range(fields, size, ETAG, NOV_6_1994)


@pytest.mark.parametrize(("header", "expected"), [
    ("bytes=0-9", (0, 10)),
    ("bytes=10-19", (10, 20)),
    ("bytes=90-", (90, 100)),  # open range
    ("bytes=-10", (90, 100)),  # suffix
    ("bytes=-1000", (0, 100)),  # a suffix longer than the file: all of it
    ("bytes=95-200", (95, 100)),  # clamped to the end
    ("bytes=99-99", (99, 100)),
    ("Bytes = 0 - 9 ", (0, 10)),
    ("bytes=0-1,5-6", None),  # several ranges: the whole file
    ("items=0-9", None),  # another unit
    ("bytes=9-0", None),  # last before first: invalid, ignored
    ("bytes=a-9", None),
    ("bytes=-", None),
    ("bytes=0", None),
    ("bytes=\u0661-\u0662", None),  # Arabic-Indic digits: not ASCII
])
def test_byte_ranges(header: str, expected: tuple[int, int] | None) -> None:
    assert _range(header) == expected


@pytest.mark.parametrize(("header", "size"), [
    ("bytes=100-", 100), ("bytes=200-300", 100), ("bytes=-0", 100), ("bytes=0-", 0),
    ("bytes=-5", 0),
])
def test_unsatisfiable_ranges_are_416_with_the_size(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as caught:
        _range(header, size)
    assert caught.value.status_code == 416
    assert caught.value.headers == {"Content-Range": f"bytes */{size}"}


@pytest.mark.parametrize(("if_range", "honoured"), [
    (ETAG, True),
    ('"v0"', False),
    ('W/"v1"', False),  # If-Range compares strongly
    (LAST_MODIFIED, True),
    (LATER, False),  # a date must match exactly
    ("garbage", False),
])
def test_if_range_decides_between_206_and_the_whole_file(if_range: str, honoured: bool) -> None:
    assert _range("bytes=0-9", if_range=if_range) == ((0, 10) if honoured else None)
