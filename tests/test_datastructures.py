"""Headers, multi-dicts, query strings, path decoding and URLs as values."""

from __future__ import annotations

import pytest

from zephyr import URL, BadRequest, Headers, MultiDict, MutableHeaders, QueryParams
from zephyr.datastructures import decode_path, parse_query_string
from zephyr.errors import HeaderValueError

# -- Headers -----------------------------------------------------------------------------


def test_headers_from_a_mapping_a_list_or_raw_pairs_are_equal() -> None:
    from_mapping = Headers({"Content-Type": "text/plain", "X-A": "1"})
    from_list = Headers([("x-a", "1"), ("content-type", "text/plain")])
    from_raw = Headers(raw=[(b"content-type", b"text/plain"), (b"x-a", b"1")])
    assert from_mapping == from_list == from_raw
    assert from_mapping.raw == [(b"content-type", b"text/plain"), (b"x-a", b"1")]
    assert Headers() == Headers(raw=[])
    assert Headers({"a": "1"}) != Headers({"a": "2"})


def test_headers_lookup_is_case_insensitive_and_multi_valued() -> None:
    headers = Headers([("Accept", "text/html"), ("X-Tag", "a"), ("x-tag", "b")])
    assert headers["ACCEPT"] == "text/html"
    assert headers["x-tag"] == "a"
    assert headers.get("X-TAG") == "a"
    assert headers.get("missing") is None
    assert headers.get("missing", "default") == "default"
    assert headers.getlist("X-Tag") == ["a", "b"]
    assert headers.getlist("missing") == []
    assert "x-TAG" in headers
    assert "missing" not in headers
    assert 1 not in headers  # type: ignore[comparison-overlap]
    assert list(headers) == ["accept", "x-tag"]
    assert len(headers) == 2
    assert dict(headers) == {"accept": "text/html", "x-tag": "a"}
    assert headers.multi_items() == [("accept", "text/html"), ("x-tag", "a"), ("x-tag", "b")]
    with pytest.raises(KeyError, match="Missing"):
        headers["Missing"]


def test_looking_up_a_name_outside_latin_1_just_misses() -> None:
    headers = MutableHeaders({"x-a": "1"})
    assert headers.get("x-\u20ac") is None
    assert "x-\u20ac" not in headers
    assert headers.getlist("x-\u20ac") == []
    with pytest.raises(KeyError):
        headers["x-\u20ac"]
    with pytest.raises(KeyError):
        del headers["x-\u20ac"]


def test_headers_equality_ignores_order_but_not_other_types() -> None:
    assert Headers([("a", "1"), ("b", "2")]) == Headers([("b", "2"), ("a", "1")])
    assert Headers({"a": "1"}) != {"a": "1"}
    assert Headers({"a": "1"}) == MutableHeaders({"a": "1"})
    with pytest.raises(TypeError):
        hash(Headers())


def test_headers_repr_shows_every_pair() -> None:
    assert repr(Headers([("a", "1"), ("a", "2")])) == "Headers([('a', '1'), ('a', '2')])"
    assert repr(MutableHeaders({"b": "3"})) == "MutableHeaders([('b', '3')])"


def test_header_values_are_coerced_to_text() -> None:
    assert Headers({"content-length": 12}).raw == [(b"content-length", b"12")]  # type: ignore[arg-type]


_SPLIT = "has a CR, LF or NUL character in its name or value"
_SINGLE_LINE = "header values must be a single line: strip or encode the newline first"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("x-a", "one\r\nSet-Cookie: evil=1", _SPLIT),
        ("x-a", "one\nmore", _SPLIT),
        ("x-a", "one\rmore", _SPLIT),
        ("x-a", "nul\x00", _SPLIT),
        ("x-a\r\nx-b", "1", _SPLIT),
        ("x-a\x00", "1", _SPLIT),
        ("x-\u00e9", "1", "is not a valid header name; use letters, digits and"),
        ("bad name", "1", "is not a valid header name; use letters, digits and"),
        ("a:b", "1", "is not a valid header name"),
        ("", "1", "is not a valid header name"),
        ("x-a", "\u20ac", "has a character outside latin-1 in its name or value '\u20ac'; "
                          "percent-encode non-ASCII text first"),
        ("x-\u20ac", "1", "has a character outside latin-1"),
    ],
)
def test_unsafe_header_names_and_values_are_refused_with_a_hint(
    name: str, value: str, message: str
) -> None:
    with pytest.raises(HeaderValueError, match=message) as caught:
        Headers({name: value})
    assert repr(name) in str(caught.value)
    headers = MutableHeaders()
    for setter in (headers.__setitem__, headers.append, headers.setdefault):
        with pytest.raises(HeaderValueError, match=message):
            setter(name, value)
    with pytest.raises(HeaderValueError, match=message):
        headers.update({name: value})
    assert headers.raw == []


def test_the_crlf_message_says_how_to_fix_it() -> None:
    with pytest.raises(HeaderValueError) as caught:
        MutableHeaders()["Location"] = "/next\r\n"
    assert str(caught.value) == (
        f"header 'Location' {_SPLIT} '/next\\r\\n'; {_SINGLE_LINE}"
    )


def test_latin_1_values_are_allowed() -> None:
    headers = MutableHeaders()
    headers["x-name"] = "caf\u00e9\tok"
    assert headers.raw == [(b"x-name", "caf\u00e9\tok".encode("latin-1"))]


# -- MutableHeaders ------------------------------------------------------------------------


def test_setitem_replaces_every_earlier_value() -> None:
    headers = MutableHeaders([("Vary", "Accept"), ("x-a", "1"), ("vary", "Cookie")])
    headers["VARY"] = "Origin"
    assert headers.multi_items() == [("x-a", "1"), ("vary", "Origin")]


def test_append_keeps_existing_values() -> None:
    headers = MutableHeaders({"vary": "Accept"})
    headers.append("Vary", "Cookie")
    assert headers.getlist("vary") == ["Accept", "Cookie"]


@pytest.mark.parametrize(
    ("before", "names", "after"),
    [
        ([], ("Origin",), ["Origin"]),
        ([("Vary", "Accept")], ("Origin", "Cookie"), ["Accept, Origin, Cookie"]),
        # Every Vary line is kept, joined into one; names already there are not repeated.
        ([("Vary", "Accept"), ("vary", "origin,Cookie")], ("Origin", "HX-Request"),
         ["Accept, origin, Cookie, HX-Request"]),
        ([("Vary", "Accept")], ("accept",), ["Accept"]),
        ([], ("Origin", "origin"), ["Origin"]),
        ([("Vary", "*")], ("Origin",), ["*"]),  # varies on everything already
        ([("Vary", "Accept, , ")], ("Origin",), ["Accept, Origin"]),
    ],
)
def test_add_vary_merges_names_into_one_header(
    before: list[tuple[str, str]], names: tuple[str, ...], after: list[str]
) -> None:
    headers = MutableHeaders(before)
    headers.add_vary(*names)
    assert headers.getlist("vary") == after


def test_setdefault_sets_only_when_absent() -> None:
    headers = MutableHeaders({"content-type": "text/plain"})
    assert headers.setdefault("Content-Type", "text/html") == "text/plain"
    assert headers.setdefault("x-new", "1") == "1"
    assert headers.multi_items() == [("content-type", "text/plain"), ("x-new", "1")]


def test_update_from_a_mapping_or_pairs() -> None:
    headers = MutableHeaders([("a", "1"), ("a", "2"), ("b", "3")])
    headers.update({"A": "9"})
    headers.update([("c", "4"), ("c", "5")])
    assert headers.multi_items() == [("b", "3"), ("a", "9"), ("c", "5")]


def test_pop_and_del_remove_every_value() -> None:
    headers = MutableHeaders([("a", "1"), ("a", "2"), ("b", "3")])
    assert headers.pop("A") == "1"
    assert "a" not in headers
    assert headers.pop("a") is None
    assert headers.pop("a", "default") == "default"
    del headers["B"]
    assert headers.raw == []
    with pytest.raises(KeyError, match="b"):
        del headers["b"]


def test_mutable_headers_write_through_to_the_raw_list() -> None:
    raw: list[tuple[bytes, bytes]] = [(b"a", b"1")]
    headers = MutableHeaders(raw=raw)
    headers["b"] = "2"
    del headers["a"]
    assert raw == [(b"b", b"2")]
    assert headers.raw is raw


# -- MultiDict and QueryParams -------------------------------------------------------------


def test_multi_dict_first_value_wins_and_getlist_has_them_all() -> None:
    data = MultiDict([("a", 1), ("b", 2), ("a", 3)])
    assert data["a"] == 1
    assert data.get("a") == 1
    assert data.get("z") is None
    assert data.getlist("a") == [1, 3]
    assert data.getlist("z") == []
    assert list(data) == ["a", "b"]
    assert len(data) == 2
    assert "b" in data
    assert dict(data) == {"a": 1, "b": 2}
    assert data.multi_items() == [("a", 1), ("b", 2), ("a", 3)]
    with pytest.raises(KeyError):
        data["z"]


def test_multi_dict_from_a_mapping_and_empty() -> None:
    assert MultiDict({"a": "1", "b": "2"}).multi_items() == [("a", "1"), ("b", "2")]
    assert len(MultiDict()) == 0
    assert MultiDict().multi_items() == []


def test_multi_dict_is_immutable() -> None:
    data = MultiDict([("a", "1")])
    with pytest.raises(TypeError):
        data["a"] = "2"  # type: ignore[index]
    items = data.multi_items()
    items.append(("b", "2"))
    assert data.multi_items() == [("a", "1")]


def test_multi_dict_equality() -> None:
    assert MultiDict([("a", "1"), ("b", "2")]) == MultiDict([("b", "2"), ("a", "1")])
    assert MultiDict([("a", "1"), ("a", "2")]) != MultiDict([("a", "1")])
    assert MultiDict([("a", "1")]) != {"a": "1"}
    assert QueryParams([("a", "1")]) == MultiDict([("a", "1")])
    with pytest.raises(TypeError):
        hash(MultiDict())


def test_multi_dict_repr() -> None:
    assert repr(MultiDict([("a", "1")])) == "MultiDict([('a', '1')])"
    assert repr(QueryParams([("q", "x")])) == "QueryParams([('q', 'x')])"


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("a=1&a=2&b=3", "a=1&a=2&b=3"),
        ("q=hello+world", "q=hello+world"),
        ("q=a%26b%3Dc", "q=a%26b%3Dc"),
        ("flag", "flag="),
        ("&&", ""),
        ("%C3%A9=%E2%82%AC", "%C3%A9=%E2%82%AC"),
    ],
)
def test_query_params_parse_and_print(query: str, text: str) -> None:
    params = QueryParams.from_string(query)
    assert str(params) == text
    assert QueryParams.from_string(text) == params


def test_query_params_from_bytes() -> None:
    assert QueryParams.from_string(b"a=1&a=2").getlist("a") == ["1", "2"]


# -- parse_query_string ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "pairs"),
    [
        ("", []),
        ("a", [("a", "")]),
        ("a=", [("a", "")]),
        ("=v", [("", "v")]),
        ("a=1&&b=2&", [("a", "1"), ("b", "2")]),
        ("a=1=2", [("a", "1=2")]),
        ("a+b=c+d", [("a b", "c d")]),
        ("a%2Bb=%20", [("a+b", " ")]),
        ("k=%e2%82%ac", [("k", "\u20ac")]),
        ("k=caf\u00e9", [("k", "caf\u00e9")]),
        ("a;b=1", [("a;b", "1")]),
    ],
)
def test_parse_query_string(raw: str, pairs: list[tuple[str, str]]) -> None:
    assert parse_query_string(raw.encode()) == pairs
    if raw.isascii():
        assert parse_query_string(raw) == pairs


BAD_ESCAPE = ("the query string has an invalid percent-escape; '%' must be followed by two "
              "hex digits (write a literal '%' as '%25')")
NOT_UTF8 = "the query string is not valid UTF-8; percent-encode text as UTF-8"


@pytest.mark.parametrize(
    ("raw", "message", "part"),
    [
        (b"a=%", BAD_ESCAPE, "b'%'"),
        (b"a=%g1", BAD_ESCAPE, "b'%g1'"),
        (b"a=%1", BAD_ESCAPE, "b'%1'"),
        (b"a=%41%", BAD_ESCAPE, "b'%'"),
        (b"%zz=1", BAD_ESCAPE, "b'%zz'"),
        (b"a=%ff", NOT_UTF8, "b'%ff'"),
        (b"a=\xe9", NOT_UTF8, "b'\\xe9'"),
    ],
)
def test_parse_query_string_refuses_bad_encoding(raw: bytes, message: str, part: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_query_string(raw)
    assert caught.value.status_code == 400
    # The offending part is kept apart from the detail: only debug mode shows it.
    assert (caught.value.detail, caught.value.received) == (message, {"query string": part})


def test_parse_query_string_names_what_it_parses() -> None:
    with pytest.raises(BadRequest, match="the form body has an invalid percent-escape"):
        parse_query_string(b"a=%zz", what="form body")


def test_a_long_undecodable_value_is_cut_short_where_it_is_kept() -> None:
    with pytest.raises(BadRequest) as caught:
        parse_query_string(b"a=" + b"%ff" * 1000)
    assert len(caught.value.received["query string"]) < 50


# -- decode_path -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (b"/", "/"),
        (b"/a%20b", "/a b"),
        (b"/a+b", "/a+b"),
        (b"/caf%C3%A9", "/caf\u00e9"),
        (b"/a%2Fb", "/a/b"),
        (b"/100%25", "/100%"),
    ],
)
def test_decode_path(raw: bytes, path: str) -> None:
    assert decode_path(raw) == path


@pytest.mark.parametrize(
    ("raw", "message", "part"),
    [
        (b"/%zz", "the path has an invalid percent-escape; '%' must be followed by two "
                  "hex digits", "b'%zz'"),
        (b"/50%", "the path has an invalid percent-escape", "b'%'"),
        (b"/%ff", "the path is not valid UTF-8 once percent-decoded", "b'/%ff'"),
        (b"/%C3", "the path is not valid UTF-8 once percent-decoded", "b'/%C3'"),
    ],
)
def test_decode_path_refuses_bad_encoding(raw: bytes, message: str, part: str) -> None:
    with pytest.raises(BadRequest) as caught:
        decode_path(raw)
    assert caught.value.detail is not None
    assert caught.value.detail.startswith(message)
    assert caught.value.received == {"path": part}


# -- URL -----------------------------------------------------------------------------------


def test_url_parts() -> None:
    url = URL("https://Example.COM:8443/a%20b/c?x=1&y=2#frag")
    assert url.scheme == "https"
    assert url.netloc == "Example.COM:8443"
    assert url.hostname == "example.com"
    assert url.port == 8443
    assert url.path == "/a%20b/c"
    assert url.query == "x=1&y=2"
    assert url.fragment == "frag"
    assert str(url) == "https://Example.COM:8443/a%20b/c?x=1&y=2#frag"
    assert repr(url) == "URL('https://Example.COM:8443/a%20b/c?x=1&y=2#frag')"


def test_url_without_optional_parts() -> None:
    url = URL("http://[::1]/")
    assert (url.hostname, url.port, url.query, url.fragment) == ("::1", None, "", "")
    assert URL().path == ""


def test_url_equals_its_text_and_hashes_like_it() -> None:
    url = URL("http://x/a?b=1")
    assert url == "http://x/a?b=1"
    assert url == URL("http://x/a?b=1")
    assert url != "http://x/a"
    assert url != 5
    lookup: dict[object, int] = {url: 1}
    assert lookup["http://x/a?b=1"] == 1


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"scheme": "https"}, "https://x.org:81/p?q=1#f"),
        ({"netloc": "y.org"}, "http://y.org/p?q=1#f"),
        ({"path": "/other"}, "http://x.org:81/other?q=1#f"),
        ({"query": ""}, "http://x.org:81/p#f"),
        ({"fragment": ""}, "http://x.org:81/p?q=1"),
    ],
)
def test_url_replace(changes: dict[str, str], expected: str) -> None:
    url = URL("http://x.org:81/p?q=1#f")
    assert url.replace(**changes) == expected
    assert url == "http://x.org:81/p?q=1#f"  # unchanged


def test_url_include_query_params_replaces_same_names_and_keeps_others() -> None:
    url = URL("http://x/p?a=1&b=2&a=3#top")
    assert url.include_query_params(a="new", c="a b") == "http://x/p?b=2&a=new&c=a+b#top"
    assert URL("http://x/p").include_query_params(page=2) == "http://x/p?page=2"
