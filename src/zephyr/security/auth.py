"""Authentication: who sent the request, read from its credentials by pluggable backends.

Each backend reads one kind of credential (Bearer token, API key, Basic, JWT);
:func:`authenticate` tries them in order and falls back to :data:`ANONYMOUS`.
"""

from __future__ import annotations

import abc
import base64
import hashlib
import hmac
import inspect
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from zephyr.audit import log_refusal
from zephyr.errors import HTTPException, SetupError
from zephyr.security.jwt import InvalidTokenError
from zephyr.users import ANONYMOUS, AnonymousUser, AuthUser, is_authenticated

if TYPE_CHECKING:
    from zephyr.requests import Request
    from zephyr.security.jwt import JWTCodec
    from zephyr.security.passwords import PasswordHasher

__all__ = [
    "ANONYMOUS",
    "APIKeyAuth",
    "AnonymousUser",
    "AuthBackend",
    "AuthUser",
    "AuthenticationFailed",
    "BasicAuth",
    "BearerAuth",
    "JWTAuth",
    "authenticate",
    "authorization_credentials",
    "challenge_for",
    "is_authenticated",
    "presents_credentials",
    "static_passwords",
    "static_tokens",
]

# NOTE: RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# NOTE: RFC 9110 §5.6.2: a header name, like an auth-scheme (§11.1), is a token.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Printable ASCII but '"' and '\': safe inside a quoted-string (RFC 9110 §5.6.4) unescaped.
_QUOTABLE = re.compile(r"[ !#-\[\]-~]*")


class AuthenticationFailed(HTTPException):
    """401: credentials are missing, malformed or wrong.

    ``challenge`` becomes the ``WWW-Authenticate`` header; ``reason`` is a short
    code for logs and tests (``"missing"``, ``"malformed"``, ``"invalid"``,
    ``"token-expired"``...). Neither ever contains the credential.
    """

    def __init__(self, detail: str = "this resource needs authentication; send credentials",
                 *, reason: str = "missing", challenge: str | None = None) -> None:
        self.reason = reason
        self.challenge = challenge
        super().__init__(401, detail, {"WWW-Authenticate": challenge} if challenge else None)


class AuthBackend(abc.ABC):
    """One kind of credential: subclasses implement :meth:`authenticate` and :meth:`challenge`."""

    __slots__ = ()

    @abc.abstractmethod
    async def authenticate(self, request: Request) -> Any | None:
        """The user behind the request's credentials.

        ``None`` means the request carries no credentials of this kind (the next
        backend is tried). Credentials of this kind that are malformed or wrong
        raise :class:`AuthenticationFailed`, built with :meth:`reject`.
        """

    @abc.abstractmethod
    def challenge(self) -> str:
        """The ``WWW-Authenticate`` value that asks for this kind of credential."""

    def has_credentials(self, request: Request) -> bool:
        """Whether the request presents this kind of credential, right or wrong (unchecked).

        A client blocked by the failure throttle is refused on the requests that do,
        and served on safe ones that do not. The default, ``True``, throttles every
        request such a client sends to the backend's routes; override it with a cheap
        look at the request (a header, a cookie) so blocked clients still read public pages.
        """
        return True

    def reject(self, request: Request, reason: str, detail: str, *,
               challenge: str | None = None) -> AuthenticationFailed:
        """Log the failure on ``zephyr.security`` and return the 401 to raise.

        ``reason`` and ``detail`` must never contain the credential itself.
        """
        log_refusal("auth-failed", request.scope, reason, backend=type(self).__name__)
        return AuthenticationFailed(detail, reason=reason,
                                    challenge=challenge or self.challenge())


async def _verified(verify: Callable[..., Any], *credentials: Any) -> Any | None:
    """Call a sync or async ``verify``; ``None`` (or ``False``) means the credentials are wrong."""
    user = verify(*credentials)
    if inspect.isawaitable(user):
        user = await user
    if user is True:
        # SECURITY: True would make the user object `True`; a verify function that answers
        # yes/no is a bug that must not authenticate anyone.
        raise SetupError(f"the verify function {verify!r} returned True; return the user "
                         "object for good credentials and None for bad ones")
    return None if user is False else user


def authorization_credentials(request: Request, scheme: str, *,
                              backend: AuthBackend) -> str | None:
    """The credentials of an ``Authorization: <scheme> <credentials>`` header, or ``None``.

    ``None`` when the request has no ``Authorization`` header or one of another
    scheme (compared case-insensitively); leading and trailing spaces are
    dropped. Two ``Authorization`` headers, or the scheme without credentials,
    raise ``backend``'s 401 (:meth:`AuthBackend.reject`, reason ``"malformed"``).
    For custom backends::

        async def authenticate(self, request):
            ticket = authorization_credentials(request, "Ticket", backend=self)
            ...
    """
    values = request.headers.getlist("authorization")
    if not values:
        return None
    if len(values) > 1:
        # SECURITY: with two headers, a proxy and the app could each trust another one.
        raise backend.reject(request, "malformed",
                             "the request has more than one Authorization header; send one")
    # NOTE: RFC 9110 §11.4: credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ],
    # and the scheme is case-insensitive.
    given, _, credentials = values[0].strip().partition(" ")
    if given.lower() != scheme.lower():
        return None
    credentials = credentials.lstrip(" ")
    if not credentials:
        raise backend.reject(request, "malformed",
                             f"the Authorization header names the {scheme} scheme but carries "
                             "no credentials after it")
    return credentials


def _has_authorization(request: Request) -> bool:
    # NOTE: RFC 9110 §11.6.2: the Authorization header carries the client's credentials,
    # whatever their scheme.
    return "authorization" in request.headers


def _bearer_token(backend: _BearerScheme, request: Request) -> str | None:
    token = authorization_credentials(request, backend.scheme, backend=backend)
    if token is not None and not _B64TOKEN.fullmatch(token):
        # SECURITY: refuse what no token can be before any verify function sees it.
        raise backend.reject(request, "malformed",
                             "the bearer token has characters a token cannot contain "
                             "(RFC 6750 §2.1)")
    return token


def _quotable(option: str, value: str) -> str:
    if not _QUOTABLE.fullmatch(value):
        raise SetupError(f"{option}={value!r} cannot be sent in WWW-Authenticate; use printable "
                         "ASCII without '\"' or '\\'")
    return value


class _BearerScheme(AuthBackend):
    """What the bearer-token backends share: the scheme word, and their challenge, plain and
    for a bad token."""

    __slots__ = ("_challenge", "_invalid", "_scheme")

    def __init__(self, realm: str, scheme: str) -> None:
        if not (isinstance(scheme, str) and _TOKEN.fullmatch(scheme)):
            raise SetupError(f"scheme={scheme!r} is not an authentication scheme name; use one "
                             "word of letters, digits and '-', like 'Bearer' or 'Token' "
                             "(RFC 9110 section 11.1)")
        self._scheme = scheme
        self._challenge = f'{scheme} realm="{_quotable("realm", realm)}"'
        # NOTE: RFC 6750 §3.1: a token that is not valid is answered with invalid_token.
        self._invalid = f'{self._challenge}, error="invalid_token"'

    @property
    def scheme(self) -> str:
        """The word before the token in ``Authorization`` (``Bearer`` unless told otherwise)."""
        return self._scheme

    def challenge(self) -> str:
        return self._challenge

    def has_credentials(self, request: Request) -> bool:
        return _has_authorization(request)


class BearerAuth(_BearerScheme):
    """``Authorization: Bearer <token>`` (RFC 6750), checked by ``verify(token) -> user | None``.

    ``scheme`` is the word before the token, for APIs that use another one
    (``scheme="Token"`` reads ``Authorization: Token <token>``).
    """

    __slots__ = ("_verify",)

    def __init__(self, verify: Callable[[str], Any], *, realm: str = "api",
                 scheme: str = "Bearer") -> None:
        super().__init__(realm, scheme)
        self._verify = verify

    async def authenticate(self, request: Request) -> Any | None:
        token = _bearer_token(self, request)
        if token is None:
            return None
        user = await _verified(self._verify, token)
        if user is None:
            raise self.reject(request, "invalid", "the bearer token is not valid",
                              challenge=self._invalid)
        return user


class APIKeyAuth(AuthBackend):
    """An API key in a header (``X-API-Key``), checked by ``verify(key) -> user | None``."""

    __slots__ = ("_challenge", "_header", "_verify")

    def __init__(self, verify: Callable[[str], Any], *, header: str = "X-API-Key",
                 realm: str = "api") -> None:
        if not _TOKEN.fullmatch(header):
            raise SetupError(f"header={header!r} is not a valid header name; use letters, "
                             "digits and '-'")
        self._verify = verify
        self._header = header
        self._challenge = f'APIKey realm="{_quotable("realm", realm)}", header="{header}"'

    @property
    def header(self) -> str:
        """The header that carries the key."""
        return self._header

    def challenge(self) -> str:
        return self._challenge

    def has_credentials(self, request: Request) -> bool:
        return self._header in request.headers

    async def authenticate(self, request: Request) -> Any | None:
        values = request.headers.getlist(self._header)
        if not values:
            return None
        key = values[0].strip()
        if len(values) > 1 or not key:
            raise self.reject(request, "malformed",
                              f"send exactly one non-empty {self._header} header")
        user = await _verified(self._verify, key)
        if user is None:
            raise self.reject(request, "invalid", "the API key is not valid")
        return user


class BasicAuth(AuthBackend):
    """``Authorization: Basic`` (RFC 7617), checked by ``verify(username, password)``.

    Credentials are decoded as UTF-8 (the ``charset`` the challenge announces).
    """

    __slots__ = ("_challenge", "_verify")

    def __init__(self, verify: Callable[[str, str], Any], *, realm: str = "zephyr") -> None:
        self._verify = verify
        self._challenge = f'Basic realm="{_quotable("realm", realm)}", charset="UTF-8"'

    def challenge(self) -> str:
        return self._challenge

    def has_credentials(self, request: Request) -> bool:
        return _has_authorization(request)

    async def authenticate(self, request: Request) -> Any | None:
        encoded = authorization_credentials(request, "Basic", backend=self)
        if encoded is None:
            return None
        try:
            # SECURITY: validate=True refuses characters outside the alphabet instead of
            # silently skipping them.
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except ValueError:  # binascii.Error and UnicodeDecodeError are both ValueErrors
            raise self.reject(request, "malformed", "the Basic credentials are not "
                              "'user:password' in base64-encoded UTF-8") from None
        username, colon, password = decoded.partition(":")
        if not colon:
            raise self.reject(request, "malformed",
                              "the Basic credentials have no ':' between user and password")
        user = await _verified(self._verify, username, password)
        if user is None:
            raise self.reject(request, "invalid", "the user name or password is wrong")
        return user


class JWTAuth(_BearerScheme):
    """A JWT as a bearer token, decoded and checked by a :class:`~zephyr.security.jwt.JWTCodec`.

    ``user_from_claims(claims)`` (sync or async) turns the claims into a user;
    the default is :meth:`AuthUser.from_claims`. ``scheme`` is the word before
    the token (``scheme="Token"`` reads ``Authorization: Token <jwt>``).
    """

    __slots__ = ("_codec", "_user_from_claims")

    def __init__(self, codec: JWTCodec, *,
                 user_from_claims: Callable[[dict[str, Any]], Any] | None = None,
                 realm: str = "api", scheme: str = "Bearer") -> None:
        super().__init__(realm, scheme)
        self._codec = codec
        self._user_from_claims = user_from_claims or AuthUser.from_claims

    async def authenticate(self, request: Request) -> Any | None:
        token = _bearer_token(self, request)
        if token is None:
            return None
        invalid = self._invalid
        try:
            claims = self._codec.decode(token)
        except InvalidTokenError as exc:
            raise self.reject(request, f"token-{exc.reason}",
                              f"the bearer token is not valid ({exc.reason})",
                              challenge=invalid) from None
        user = await _verified(self._user_from_claims, claims)
        if user is None:
            raise self.reject(request, "token-no-user",
                              "the bearer token does not name a user this service knows",
                              challenge=invalid)
        return user


def static_tokens(mapping: Mapping[str, Any]) -> Callable[[str], Any]:
    """A ``verify`` for :class:`BearerAuth` or :class:`APIKeyAuth` from ``{token: user}``.

    The presented token is compared with every known one in constant time, so
    the response time says nothing about how close a guess was.
    """
    entries: list[tuple[bytes, Any]] = []
    for token, user in mapping.items():
        if not (token and token.isascii() and token.isprintable() and token == token.strip()):
            raise SetupError("a static token is empty or has spaces or non-ASCII characters; "
                             "use long random ASCII tokens (secrets.token_urlsafe(32))")
        entries.append((hashlib.sha256(token.encode()).digest(), user))
    known = tuple(entries)

    def verify(presented: str) -> Any:
        # SECURITY: hashing first gives equal lengths; comparing against every entry with no
        # early exit and no dict lookup keeps the time independent of which (if any) matches.
        digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
        found = None
        for candidate, user in known:
            if hmac.compare_digest(digest, candidate):
                found = user
        return found

    return verify


def static_passwords(
    mapping: Mapping[str, tuple[str, Any]], *, hasher: PasswordHasher | None = None
) -> Callable[[str, str], Awaitable[Any]]:
    """A ``verify`` for :class:`BasicAuth` from ``{username: (argon2 hash, user)}``.

    Hashes are checked in the thread pool with ``hasher`` (the default
    parameters of :func:`~zephyr.security.passwords.check_password` if none).
    An unknown user name costs a check with the parameters of the slowest hash
    held here, so timing does not reveal which names exist.
    """
    from zephyr.concurrency import run_sync
    from zephyr.security.passwords import PasswordHasher

    for username, entry in mapping.items():
        if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str)):
            raise SetupError(f"the entry for {username!r} must be a (password hash, user) "
                             "tuple; make the hash with zephyr.security.passwords.hash_password")
    known = dict(mapping)
    checker = hasher if hasher is not None else PasswordHasher()
    unknown = checker.slowest_of(stored for stored, _ in known.values())

    async def verify(username: str, password: str) -> Any:
        entry = known.get(username)
        if entry is None:
            # SECURITY: burn the time of the slowest real check for an unknown user.
            await run_sync(unknown.check, None, password)
            return None
        result = await run_sync(checker.check, entry[0], password)
        return entry[1] if result.ok else None

    return verify


async def authenticate(request: Request, backends: Sequence[AuthBackend]) -> Any:
    """The user of ``request``: the first backend that finds its credentials wins.

    Returns :data:`ANONYMOUS` when no backend finds any; raises
    :class:`AuthenticationFailed` when the first credentials found are wrong.
    """
    for backend in backends:
        user = await backend.authenticate(request)
        if user is not None:
            return user
    return ANONYMOUS


def presents_credentials(request: Request, backends: Sequence[AuthBackend]) -> bool:
    """Whether ``request`` presents a credential any of ``backends`` reads (none is checked)."""
    return any(backend.has_credentials(request) for backend in backends)


def challenge_for(backends: Sequence[AuthBackend]) -> str | None:
    """One ``WWW-Authenticate`` value offering every backend's challenge (RFC 9110 §11.6.1)."""
    return ", ".join(backend.challenge() for backend in backends) or None
