"""The outbound URL guard against server-side request forgery (SSRF).

:func:`validate_outbound_url` vets a URL the app is about to fetch for a user and
returns the addresses it checked, so the caller connects to those and nowhere else.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import unicodedata
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from zephyr.audit import logger
from zephyr.errors import ZephyrError

__all__ = [
    "OutboundTarget",
    "UnsafeURLError",
    "validate_outbound_url",
    "validate_outbound_url_async",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNSAFE_ASCII = re.compile(r"[\x00-\x20\x7f\\]")
# NOTE: RFC 3986 §3.2.2 reg-name after IDNA encoding: letters, digits, '-', '_' (seen in the
# wild) and dots; no '%', so a percent-encoded host cannot hide an address.
_HOST_NAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?")
# NOTE: WHATWG URL §3.5 "ends in a number": a host whose last label is decimal or 0x-hex
# digits is an IPv4 address, never a name.
_NUMBER = re.compile(r"[0-9]+|0x[0-9a-f]*")
# The part of a URL up to its userinfo, for taking credentials out of logs.
_SCHEME_PREFIX = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:[/\\]*")

# SECURITY: cloud instance-metadata services hand out credentials; they stay refused even with
# allow_private=True. AWS/GCP/Azure (IPv4 and the AWS IPv6 endpoint), AWS ECS task
# credentials, Alibaba Cloud and Oracle Cloud.
_METADATA = frozenset(
    ipaddress.ip_address(address)
    for address in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2",
                    "100.100.100.200", "192.0.0.192")
)
_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")  # NOTE: RFC 791 "this host"; Linux: local
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # NOTE: RFC 6598 carrier-grade NAT
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # NOTE: RFC 6052 well-known prefix
_SITE_LOCAL = ipaddress.IPv6Network("fec0::/10")  # NOTE: RFC 3879 deprecated it, not its use

# The first category an address falls in names why it is refused.
_CATEGORIES: tuple[tuple[str, Callable[[IPAddress], bool]], ...] = (
    ("unspecified", lambda ip: ip.is_unspecified or ip in _THIS_NETWORK),
    ("cloud-metadata", lambda ip: ip in _METADATA),
    ("loopback", lambda ip: ip.is_loopback),
    ("link-local", lambda ip: ip.is_link_local),
    ("multicast", lambda ip: ip.is_multicast),
    ("reserved", lambda ip: ip.is_reserved),
    ("shared", lambda ip: ip in _SHARED),
    ("site-local", lambda ip: ip in _SITE_LOCAL),
    ("private", lambda ip: ip.is_private or not ip.is_global),
)
# What allow_private=True lets through: internal services, never the rest.
_INTERNAL = frozenset({"private", "loopback", "link-local", "shared", "site-local"})


class UnsafeURLError(ZephyrError, ValueError):
    """An outbound URL was refused.

    ``reason`` is one short id: ``"scheme"``, ``"credentials"``, ``"malformed"``,
    ``"port"``, ``"unresolvable"`` or ``"private-address"``; ``url`` is the URL
    without credentials, query or fragment.
    """

    def __init__(self, message: str, *, reason: str, url: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.url = url


@dataclass(frozen=True, slots=True)
class OutboundTarget:
    """A vetted outbound URL: connect to one of ``addresses``, send ``Host: host``.

    ``host`` is the name from the URL, lower-cased and, if international,
    encoded as HTTP clients encode it (IDNA 2008 with the UTS 46 mapping; an
    IPv6 literal without its brackets); ``addresses`` are the IPs that were checked.
    """

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _ParsedURL:
    url: str
    scheme: str
    host: str
    port: int
    literal: IPAddress | None  # the address when the host is written as one


def validate_outbound_url(
    url: str,
    *,
    allowed_schemes: Collection[str] = ("http", "https"),
    allow_private: bool = False,
    allowed_ports: Collection[int] | None = None,
    resolve: Resolver | None = None,
) -> OutboundTarget:
    """Vet ``url`` before fetching it for a user; raise :class:`UnsafeURLError` if unsafe.

    Refuses other schemes, credentials in the URL, malformed URLs, ports outside
    ``allowed_ports``, and hosts that are, or resolve to, any non-public address
    (all of them: one private answer is enough). ``allow_private=True`` lets
    private, loopback, link-local and shared addresses through, never unspecified,
    multicast, reserved or cloud-metadata ones. Connect to the returned
    ``addresses`` rather than resolving the name again: a second lookup may answer
    differently (DNS rebinding). ``resolve(host, port)`` replaces ``socket.getaddrinfo``.
    """
    target = _parse(url, allowed_schemes, allowed_ports)
    if target.literal is not None:
        return _vet(target, [str(target.literal)], allow_private)
    try:
        addresses = (resolve or _getaddrinfo)(target.host, target.port)
    except (OSError, UnicodeError) as exc:
        raise _unresolvable(target, exc) from None
    return _vet(target, addresses, allow_private)


async def validate_outbound_url_async(
    url: str,
    *,
    allowed_schemes: Collection[str] = ("http", "https"),
    allow_private: bool = False,
    allowed_ports: Collection[int] | None = None,
    resolve: Callable[[str, int], Sequence[str] | Awaitable[Sequence[str]]] | None = None,
) -> OutboundTarget:
    """:func:`validate_outbound_url` resolving with the event loop's ``getaddrinfo``.

    ``resolve`` may be a plain or an async function.
    """
    target = _parse(url, allowed_schemes, allowed_ports)
    if target.literal is not None:
        return _vet(target, [str(target.literal)], allow_private)
    try:
        if resolve is None:
            infos = await asyncio.get_running_loop().getaddrinfo(
                target.host, target.port, type=socket.SOCK_STREAM
            )
            addresses: Sequence[str] = [str(info[4][0]) for info in infos]
        else:
            answer = resolve(target.host, target.port)
            addresses = answer if isinstance(answer, Sequence) else await answer
    except (OSError, UnicodeError) as exc:
        raise _unresolvable(target, exc) from None
    return _vet(target, addresses, allow_private)


def _getaddrinfo(host: str, port: int) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def _parse(
    url: str, allowed_schemes: Collection[str], allowed_ports: Collection[int] | None
) -> _ParsedURL:
    """Check everything that can be checked without a lookup."""
    # SECURITY: URL parsers disagree about whitespace, control characters and backslashes
    # (browsers and some clients read '\' as '/'); a URL that needs them is refused.
    if _has_unsafe_character(url):
        raise _refuse("malformed", url, "it contains whitespace, a control character or a "
                      "backslash", "percent-encode those characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _refuse("malformed", url, f"it cannot be parsed ({exc})",
                      "check how the URL was built") from None
    scheme = parts.scheme
    if scheme not in {allowed.lower() for allowed in allowed_schemes}:
        problem = f"the scheme {scheme!r} is not allowed" if scheme else "it has no scheme"
        raise _refuse("scheme", url, problem,
                      f"use one of {sorted(allowed_schemes)}, or add the scheme to "
                      "allowed_schemes if it is really needed")
    # SECURITY: credentials in a user-supplied URL would be sent to wherever it points, and
    # 'https://trusted@evil' tricks readers into trusting the wrong host.
    if "@" in parts.netloc:
        raise _refuse("credentials", url, "it carries a user name or password",
                      "send credentials in an Authorization header, not in the URL")
    host, literal = _host(url, parts.hostname)
    return _ParsedURL(url, scheme, host, _port(url, scheme, port, allowed_ports), literal)


def _host(url: str, hostname: str | None) -> tuple[str, IPAddress | None]:
    """The host as HTTP clients send and resolve it, and its address when it is written as one."""
    if not hostname:
        raise _refuse("malformed", url, "it has no host",
                      "write an absolute URL such as 'https://example.com/'")
    if ":" in hostname:  # the brackets of an IPv6 literal are gone
        try:
            return hostname, ipaddress.IPv6Address(hostname)
        except ValueError:
            raise _refuse("malformed", url, f"{hostname!r} is not an IPv6 address",
                          "check the part in brackets") from None
    # NOTE: like httpx, an ASCII name is used as it is (lower-cased by urlsplit).
    host = hostname if hostname.isascii() else _idna_encode(url, hostname)
    if not _HOST_NAME.fullmatch(host):
        raise _refuse("malformed", url, f"{hostname!r} is not a valid host name",
                      "use letters, digits, '-' and '.' (or a punycode 'xn--' name)")
    address = host.removesuffix(".")
    if not _NUMBER.fullmatch(address.rpartition(".")[2]):
        return host, None
    try:
        return host, ipaddress.IPv4Address(address)
    except ValueError:
        # SECURITY: inet_aton reads '2130706433', '0177.0.0.1', '0x7f.1' and '127.1' as
        # 127.0.0.1, other parsers read them as other addresses or as names: whichever this
        # guard chose, the client could connect elsewhere.
        raise _refuse("malformed", url, f"{hostname!r} ends in a number but is not an IPv4 "
                      "address in four decimal parts (resolvers read octal, hex, leading zeros "
                      "and short forms differently)",
                      "write the address like 203.0.113.9") from None


def _idna_encode(url: str, hostname: str) -> str:
    """``hostname`` in IDNA 2008 with the UTS 46 mapping: the name httpx (and requests,
    browsers) look up. Python's own 'idna' codec is IDNA 2003, which maps 'ß', 'ς' and
    others to other names, and accepts symbols IDNA 2008 refuses."""
    try:
        # NOTE: idna comes with httpx (the client extra) and anyio; only international names
        # need it, so it is imported with the first one.
        import idna
    except ImportError:
        raise _refuse("malformed", url, f"{hostname!r} is an international name, and the "
                      "'idna' package that encodes it as HTTP clients do is not installed",
                      "install it with pip install 'zephyr[client]'") from None
    try:
        # NOTE: UTS 46 non-transitional processing keeps 'ß' and 'ς' (IDNA 2008), and maps
        # full-width letters, digits and full stops as browsers do; where httpx takes a name
        # (it lower-cases, then encodes with IDNA 2008), the result is the same.
        return idna.encode(hostname, uts46=True).decode("ascii")
    except UnicodeError as exc:  # idna.IDNAError is one
        raise _refuse("malformed", url, f"{hostname!r} is not a valid international host name "
                      f"(IDNA 2008: {exc})", "check how the URL was built") from None


def _port(url: str, scheme: str, port: int | None, allowed_ports: Collection[int] | None) -> int:
    if port is None:
        if scheme not in _DEFAULT_PORTS:
            raise _refuse("port", url, f"it has no port and {scheme!r} has no default one",
                          "write the port in the URL")
        port = _DEFAULT_PORTS[scheme]
    if port == 0 or (allowed_ports is not None and port not in allowed_ports):
        raise _refuse("port", url, f"port {port} is not allowed",
                      f"use one of {sorted(allowed_ports or ())}, or add {port} to "
                      "allowed_ports if it is legitimate")
    return port


def _vet(target: _ParsedURL, addresses: Sequence[str], allow_private: bool) -> OutboundTarget:
    """The one check of resolved (or literal) addresses both entry points share."""
    vetted: dict[str, None] = {}  # an ordered set: getaddrinfo repeats answers
    for text in addresses:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise _unresolvable(target, f"the resolver answered {text!r}") from None
        category = _category(address)
        # SECURITY: one unsafe answer refuses the URL: the client could connect to any of them.
        if category is not None and not (allow_private and category in _INTERNAL):
            verb = "is" if target.literal is not None else "resolves to"
            fix = ("pass allow_private=True if this internal service is meant to be reached"
                   if category in _INTERNAL else "this address is never a valid target")
            raise _refuse("private-address", target.url,
                          f"{target.host!r} {verb} {address}, a {category} address", fix)
        vetted[str(address)] = None
    if not vetted:
        raise _unresolvable(target, "the resolver found no address")
    return OutboundTarget(target.url, target.scheme, target.host, target.port, tuple(vetted))


def _category(address: IPAddress) -> str | None:
    """Why ``address`` is not a public one; None when it is."""
    if isinstance(address, ipaddress.IPv6Address):
        # SECURITY: these IPv6 forms deliver to the IPv4 address inside them.
        if address.ipv4_mapped is not None:
            return _category(address.ipv4_mapped)
        if address in _NAT64:
            return _category(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        # SECURITY: 6to4 and Teredo tunnel to the IPv4 addresses they embed.
        embedded = [address.sixtofour] if address.sixtofour else list(address.teredo or ())
        for inner in embedded:
            if (category := _category(inner)) is not None:
                return category
    return next((name for name, test in _CATEGORIES if test(address)), None)


def _has_unsafe_character(text: str) -> bool:
    # PERF: one regex for ASCII text; the Unicode tables only for the rest.
    if _UNSAFE_ASCII.search(text):
        return True
    return not text.isascii() and any(
        char.isspace() or unicodedata.category(char) in ("Cc", "Cf") for char in text
    )


def _unresolvable(target: _ParsedURL, cause: object) -> UnsafeURLError:
    return _refuse("unresolvable", target.url, f"{target.host!r} cannot be resolved ({cause})",
                   "check the host name")


def _refuse(reason: str, url: str, problem: str, fix: str) -> UnsafeURLError:
    """Log the refusal on ``zephyr.security`` and build the error to raise."""
    shown = _redact(url)
    logger.warning("outbound URL %r refused (%s): %s", shown, reason, problem,
                   extra={"security_event": "ssrf-blocked", "reason": reason, "url": shown})
    return UnsafeURLError(f"refusing to fetch {shown!r}: {problem}; {fix}",
                          reason=reason, url=shown)


def _redact(url: str) -> str:
    """``url`` without credentials, query or fragment, for messages and logs."""
    head = re.split(r"[?#]", url, maxsplit=1)[0]
    match = _SCHEME_PREFIX.match(head)
    prefix = match.group() if match else ""
    rest = head[len(prefix):]
    # SECURITY: a password may hold '/' or ':' in a malformed URL, so everything up to the
    # last '@' goes, even if that also hides a host.
    if "@" in rest:
        rest = "***@" + rest.rpartition("@")[2]
    return (prefix + rest)[:200]
