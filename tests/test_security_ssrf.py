"""The outbound URL guard: schemes, credentials, address spellings, DNS answers, pinning."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import Callable, Sequence

import pytest

from zephyr.errors import ZephyrError
from zephyr.security.ssrf import (
    OutboundTarget,
    UnsafeURLError,
    validate_outbound_url,
    validate_outbound_url_async,
)

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


def answering(*addresses: str) -> Callable[[str, int], Sequence[str]]:
    """A resolver that answers ``addresses`` for any name."""
    return lambda host, port: list(addresses)


def never_called(host: str, port: int) -> list[str]:
    raise AssertionError(f"resolved {host!r}:{port} for a URL refused before any lookup")


# (URL, the address reported, its category): literal hosts are never resolved.
UNSAFE_LITERALS = [
    ("http://127.0.0.1/", "127.0.0.1", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "cloud-metadata"),
    ("http://[::1]/", "::1", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1", "loopback"),
    ("http://[::ffff:7f00:1]/", "::ffff:7f00:1", "loopback"),
    ("http://[::ffff:a9fe:a9fe]/", "::ffff:a9fe:a9fe", "cloud-metadata"),
    ("http://[fd00:ec2::254]/", "fd00:ec2::254", "cloud-metadata"),
    ("http://0.0.0.0/", "0.0.0.0", "unspecified"),
    ("http://0.1.2.3/", "0.1.2.3", "unspecified"),
    ("http://[::]/", "::", "unspecified"),
    ("http://10.1.2.3/", "10.1.2.3", "private"),
    ("http://172.16.0.1/", "172.16.0.1", "private"),
    ("http://192.168.1.1/", "192.168.1.1", "private"),
    ("http://[fc00::1]/", "fc00::1", "private"),
    ("http://100.64.0.1/", "100.64.0.1", "shared"),
    ("http://224.0.0.1/", "224.0.0.1", "multicast"),
    ("http://[ff02::1]/", "ff02::1", "multicast"),
    ("http://169.254.1.1/", "169.254.1.1", "link-local"),
    ("http://[fe80::1]/", "fe80::1", "link-local"),
    ("http://240.0.0.1/", "240.0.0.1", "reserved"),
    ("http://255.255.255.255/", "255.255.255.255", "reserved"),
    ("http://[::7f00:1]/", "::7f00:1", "reserved"),  # IPv4-compatible (deprecated)
    ("http://[64:ff9b::7f00:1]/", "64:ff9b::7f00:1", "loopback"),  # NAT64
    ("http://[64:ff9b::a00:1]/", "64:ff9b::a00:1", "private"),
    ("http://[2002:7f00:1::]/", "2002:7f00:1::", "loopback"),  # 6to4
    ("http://[2002:a9fe:a9fe::]/", "2002:a9fe:a9fe::", "cloud-metadata"),
    ("http://[2001:0:7f00:1::]/", "2001:0:7f00:1::", "loopback"),  # Teredo server
    ("http://[fec0::1]/", "fec0::1", "site-local"),  # deprecated (RFC 3879), still internal
    ("http://127.0.0.1./", "127.0.0.1", "loopback"),
    ("http://\uff11\uff12\uff17.0.0.1/", "127.0.0.1", "loopback"),  # full-width digits
    ("http://127\u30020\u30020\u30021/", "127.0.0.1", "loopback"),  # ideographic full stops
]


@pytest.mark.parametrize(("url", "address", "category"), UNSAFE_LITERALS)
def test_non_public_addresses_are_refused(url: str, address: str, category: str) -> None:
    with pytest.raises(UnsafeURLError) as caught:
        validate_outbound_url(url, resolve=never_called)
    assert caught.value.reason == "private-address"
    assert f" is {address}, a {category} address; " in str(caught.value)


# Hosts that end in a number but are not four plain decimal numbers: resolvers (inet_aton,
# getaddrinfo, browsers, proxies) read these differently, or as names, so none is trusted.
AMBIGUOUS_ADDRESSES = [
    "2130706433",  # 127.0.0.1 as one number
    "1572394766",  # 93.184.215.14 as one number
    "0127.0.0.1",  # a leading zero: octal to inet_aton, decimal to others
    "0177.0.0.1",  # octal
    "93.184.215.014",
    "0x7f.0.0.1",  # hex
    "0x7f.1",
    "0x7f000001",
    "0xa9.0xfe.0xa9.0xfe",
    "127.1",  # fewer than four parts
    "127.0.1",
    "256.0.0.1",
    "1.2.3.4.5",
    "example.123",
    "0x",
    "\uff10\uff58\uff17\uff46.1",  # full-width '0x7f.1'
]


@pytest.mark.parametrize("host", AMBIGUOUS_ADDRESSES)
def test_ambiguous_ipv4_spellings_are_refused_not_resolved(host: str) -> None:
    with pytest.raises(UnsafeURLError) as caught:
        validate_outbound_url(f"http://{host}/", resolve=never_called)
    assert caught.value.reason == "malformed"
    assert str(caught.value).endswith(
        "ends in a number but is not an IPv4 address in four decimal parts (resolvers read "
        "octal, hex, leading zeros and short forms differently); write the address like "
        "203.0.113.9"
    )


# (URL, reason): refused before any lookup.
REFUSED = [
    ("http://user:pw@example.com/", "credentials"),
    ("http://user@example.com/", "credentials"),
    ("http://@example.com/", "credentials"),
    ("file:///etc/passwd", "scheme"),
    ("gopher://127.0.0.1:6379/_FLUSHALL", "scheme"),
    ("ftp://example.com/", "scheme"),
    ("dict://example.com:11211/", "scheme"),
    ("example.com/path", "scheme"),
    ("//example.com/", "scheme"),
    ("http:///example.com", "malformed"),
    ("https:example.com", "malformed"),
    ("http://exa mple.com/", "malformed"),
    ("http://example.com\t/", "malformed"),
    (" http://example.com/", "malformed"),
    ("http://example.com/\r\nX-Injected: 1", "malformed"),
    ("http://example.com\\@127.0.0.1/", "malformed"),
    ("http://exa\u200bmple.com/", "malformed"),
    ("http://[::1/", "malformed"),
    ("http://[not-ipv6]/", "malformed"),
    ("http://example.com:99999/", "malformed"),
    ("http://example.com:http/", "malformed"),
    ("http://ex%61mple.com/", "malformed"),
    ("http://a..b/", "malformed"),
    ("http://example.com:0/", "port"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_unsafe_urls_are_refused_before_resolving(url: str, reason: str) -> None:
    with pytest.raises(UnsafeURLError) as caught:
        validate_outbound_url(url, resolve=never_called)
    assert caught.value.reason == reason


def test_the_error_is_a_zephyr_error_and_a_value_error_that_says_how_to_fix_it() -> None:
    with pytest.raises(UnsafeURLError) as caught:
        validate_outbound_url("http://10.0.0.1/admin")
    assert isinstance(caught.value, ZephyrError)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value) == (
        "refusing to fetch 'http://10.0.0.1/admin': '10.0.0.1' is 10.0.0.1, a private address; "
        "pass allow_private=True if this internal service is meant to be reached"
    )
    assert caught.value.url == "http://10.0.0.1/admin"


def test_localhost_is_refused_after_real_resolution() -> None:
    with pytest.raises(UnsafeURLError) as caught:
        validate_outbound_url("http://localhost:8000/")
    assert caught.value.reason == "private-address"
    assert "'localhost' resolves to " in str(caught.value)
    assert ", a loopback address; " in str(caught.value)


# (resolver answers, the refused address, its category): DNS answers are vetted like literals.
UNSAFE_ANSWERS = [
    (["10.0.0.5"], "10.0.0.5", "private"),
    ([PUBLIC_V4, "127.0.0.1"], "127.0.0.1", "loopback"),
    ([PUBLIC_V6, "::ffff:169.254.169.254"], "::ffff:a9fe:a9fe", "cloud-metadata"),
    (["fe80::1%eth0"], "fe80::1%eth0", "link-local"),
]


@pytest.mark.parametrize(("answers", "address", "category"), UNSAFE_ANSWERS)
def test_a_name_with_any_unsafe_answer_is_refused(
    answers: list[str], address: str, category: str
) -> None:
    with pytest.raises(UnsafeURLError) as caught:
        validate_outbound_url("https://rebind.example/", resolve=answering(*answers))
    assert caught.value.reason == "private-address"
    assert f"'rebind.example' resolves to {address}, a {category} address; " in str(caught.value)


def test_public_answers_are_returned_to_pin_the_connection() -> None:
    calls: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return [PUBLIC_V4, PUBLIC_V6, PUBLIC_V4]

    target = validate_outbound_url("HTTPS://Example.COM/a?b=c#d", resolve=resolve)
    assert target == OutboundTarget(
        url="HTTPS://Example.COM/a?b=c#d", scheme="https", host="example.com", port=443,
        addresses=(PUBLIC_V4, PUBLIC_V6),
    )
    assert calls == [("example.com", 443)]


# (URL, host, port, pinned addresses): literal public addresses are not resolved.
PUBLIC_LITERALS = [
    (f"http://{PUBLIC_V4}/", PUBLIC_V4, 80, (PUBLIC_V4,)),
    (f"http://{PUBLIC_V4}./", f"{PUBLIC_V4}.", 80, (PUBLIC_V4,)),
    (f"https://[{PUBLIC_V6}]:8443/", PUBLIC_V6, 8443, (PUBLIC_V6,)),
    ("http://[::ffff:93.184.215.14]/", "::ffff:93.184.215.14", 80, ("::ffff:5db8:d70e",)),
    ("http://[64:ff9b::5db8:d70e]/", "64:ff9b::5db8:d70e", 80, ("64:ff9b::5db8:d70e",)),
]


@pytest.mark.parametrize(("url", "host", "port", "addresses"), PUBLIC_LITERALS)
def test_public_literal_addresses_are_allowed(
    url: str, host: str, port: int, addresses: tuple[str, ...]
) -> None:
    target = validate_outbound_url(url, resolve=never_called)
    assert (target.host, target.port, target.addresses) == (host, port, addresses)


# (URL, the name looked up): IDNA 2008 with the UTS 46 mapping, as httpx, requests and
# browsers encode it; IDNA 2003 (Python's 'idna' codec) would look up another name.
INTERNATIONAL_NAMES = [
    ("http://bücher.example/", "xn--bcher-kva.example"),
    ("http://BÜCHER.Example/", "xn--bcher-kva.example"),
    ("http://straße.example/", "xn--strae-oqa.example"),  # IDNA 2003: strasse.example
    ("http://ς.example/", "xn--3xa.example"),  # IDNA 2003: xn--4xa.example (a plain sigma)
    ("http://οδος.example/", "xn--pxavbm.example"),
    ("http://bücher\uff0eexample/", "xn--bcher-kva.example"),  # a full-width full stop
    ("http://bücher\u3002example/", "xn--bcher-kva.example"),  # an ideographic full stop
]


@pytest.mark.parametrize(("url", "name"), INTERNATIONAL_NAMES)
def test_international_names_are_resolved_in_the_form_http_clients_use(
    url: str, name: str
) -> None:
    import httpx

    calls: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return [PUBLIC_V4]

    target = validate_outbound_url(url, resolve=resolve)
    assert target.host == name
    assert calls == [(name, 80)]
    assert httpx.URL(url).raw_host.decode("ascii") == name


@pytest.mark.parametrize("url", [
    "http://\u2603.example/",  # a snowman: IDNA 2003 took it, IDNA 2008 does not
    "http://\u0661\u0662\u0663.example/",  # a label breaking the bidi rule
    "http://ex\u00e4mple_1.example/",  # '_' in an international name
    "http://\u0301a.example/",  # a label starting with a combining mark
    "http://a\u00b7b.example/",  # a middle dot outside its context (RFC 5892 A.3)
])
def test_names_idna_2008_refuses_are_refused(url: str) -> None:
    with pytest.raises(UnsafeURLError) as caught:
        validate_outbound_url(url, resolve=never_called)
    assert caught.value.reason == "malformed"
    assert "is not a valid international host name (IDNA 2008:" in str(caught.value)


def test_international_names_are_refused_without_the_idna_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "idna", None)  # what an absent package looks like
    with pytest.raises(UnsafeURLError) as caught:
        validate_outbound_url("http://bücher.example/", resolve=never_called)
    assert caught.value.reason == "malformed"
    assert str(caught.value).endswith(
        "'bücher.example' is an international name, and the 'idna' package that encodes "
        "it as HTTP clients do is not installed; install it with pip install 'zephyr[client]'"
    )
    target = validate_outbound_url("http://example.com/", resolve=answering(PUBLIC_V4))
    assert target.host == "example.com"


def failing(host: str, port: int) -> list[str]:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@pytest.mark.parametrize(
    ("resolve", "cause"),
    [
        (failing, "[Errno -2] Name or service not known"),
        (answering(), "the resolver found no address"),
        (answering("not-an-ip"), "the resolver answered 'not-an-ip'"),
    ],
)
def test_names_that_do_not_resolve_are_refused(
    resolve: Callable[[str, int], Sequence[str]], cause: str
) -> None:
    with pytest.raises(UnsafeURLError) as caught:
        validate_outbound_url("https://nowhere.example/x", resolve=resolve)
    assert caught.value.reason == "unresolvable"
    assert f"'nowhere.example' cannot be resolved ({cause}); check the host name" in str(
        caught.value
    )


@pytest.mark.parametrize(
    ("url", "allowed_ports", "port"),
    [
        ("https://example.com/", {443}, 443),
        ("http://example.com/", {80, 8080}, 80),
        ("http://example.com:8080/", {80, 8080}, 8080),
        ("http://example.com:6379/", None, 6379),
    ],
)
def test_allowed_ports_pass(url: str, allowed_ports: set[int] | None, port: int) -> None:
    target = validate_outbound_url(url, allowed_ports=allowed_ports, resolve=answering(PUBLIC_V4))
    assert target.port == port


@pytest.mark.parametrize(
    ("url", "allowed_ports"),
    [("https://example.com:8443/", {443}), ("http://example.com/", {443}),
     ("https://example.com:6379/", {80, 443})],
)
def test_other_ports_are_refused(url: str, allowed_ports: set[int]) -> None:
    with pytest.raises(UnsafeURLError) as caught:
        validate_outbound_url(url, allowed_ports=allowed_ports, resolve=never_called)
    assert caught.value.reason == "port"


def test_other_schemes_can_be_allowed_but_need_a_port() -> None:
    target = validate_outbound_url("ws://example.com:80/feed", allowed_schemes=("ws",),
                                   resolve=answering(PUBLIC_V4))
    assert (target.scheme, target.port) == ("ws", 80)
    with pytest.raises(UnsafeURLError) as caught:
        validate_outbound_url("ws://example.com/feed", allowed_schemes=("ws",))
    assert caught.value.reason == "port"


INTERNAL_SERVICES = [
    "http://10.0.0.1/",
    "http://192.168.1.1/",
    "http://127.0.0.1:8000/",
    "http://[::1]/",
    "http://100.64.0.1/",
    "http://169.254.1.1/",
    "http://[fd12::1]/",
    "http://[fec0::1]/",
]
NEVER_ALLOWED = [
    "http://169.254.169.254/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[fd00:ec2::254]/",
    "http://169.254.170.2/",
    "http://0.0.0.0/",
    "http://[::]/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
]


@pytest.mark.parametrize("url", INTERNAL_SERVICES)
def test_allow_private_lets_internal_services_through(url: str) -> None:
    target = validate_outbound_url(url, allow_private=True, resolve=never_called)
    assert target.addresses == (target.host,)


@pytest.mark.parametrize("url", NEVER_ALLOWED)
def test_allow_private_still_refuses_metadata_unspecified_and_the_rest(url: str) -> None:
    with pytest.raises(UnsafeURLError) as caught:
        validate_outbound_url(url, allow_private=True, resolve=never_called)
    assert caught.value.reason == "private-address"
    assert str(caught.value).endswith("; this address is never a valid target")


def test_refusals_are_logged_on_zephyr_security_without_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = "http://admin:s3cret@10.0.0.1/internal?token=abc123#frag"
    with caplog.at_level(logging.WARNING, logger="zephyr.security"), \
            pytest.raises(UnsafeURLError) as caught:
        validate_outbound_url(url)
    [record] = caplog.records
    assert (record.name, record.levelno) == ("zephyr.security", logging.WARNING)
    assert record.security_event == "ssrf-blocked"  # type: ignore[attr-defined]
    assert record.reason == "credentials"  # type: ignore[attr-defined]
    assert record.url == "http://***@10.0.0.1/internal"  # type: ignore[attr-defined]
    assert caught.value.url == "http://***@10.0.0.1/internal"
    for secret in ("s3cret", "admin", "abc123", "frag"):
        assert secret not in record.getMessage()
        assert secret not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://u:p/w@host/x", "http://***@host/x"),
        ("http:\\\\u:pw@host", "http:\\\\***@host"),
        ("ftp://u:pw@host/x?y", "ftp://***@host/x"),
    ],
)
def test_malformed_urls_with_credentials_are_redacted(url: str, shown: str) -> None:
    with pytest.raises(UnsafeURLError) as caught:
        validate_outbound_url(url, resolve=never_called)
    assert caught.value.url == shown


def run_async(url: str, **options: object) -> OutboundTarget:
    return asyncio.run(validate_outbound_url_async(url, **options))  # type: ignore[arg-type]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_async_refuses_what_sync_refuses(url: str, reason: str) -> None:
    with pytest.raises(UnsafeURLError) as caught:
        run_async(url, resolve=never_called)
    assert caught.value.reason == reason


@pytest.mark.parametrize(("url", "address", "category"), UNSAFE_LITERALS[:8])
def test_async_refuses_non_public_addresses(url: str, address: str, category: str) -> None:
    with pytest.raises(UnsafeURLError) as caught:
        run_async(url, resolve=never_called)
    assert f" is {address}, a {category} address; " in str(caught.value)


def test_async_resolves_localhost_with_the_event_loop_and_refuses_it() -> None:
    with pytest.raises(UnsafeURLError) as caught:
        run_async("http://localhost/")
    assert caught.value.reason == "private-address"
    assert ", a loopback address; " in str(caught.value)


def test_async_accepts_a_plain_or_an_async_resolver() -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return [PUBLIC_V4, "192.168.0.1"]

    with pytest.raises(UnsafeURLError) as caught:
        run_async("https://rebind.example/", resolve=resolve)
    assert "resolves to 192.168.0.1, a private address" in str(caught.value)
    target = run_async("https://example.com/", resolve=answering(PUBLIC_V4))
    assert target.addresses == (PUBLIC_V4,)


def test_async_reports_resolution_failures() -> None:
    with pytest.raises(UnsafeURLError) as caught:
        run_async("https://nowhere.invalid/")
    assert caught.value.reason == "unresolvable"
