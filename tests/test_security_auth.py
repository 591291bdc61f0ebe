"""Authentication backends (Bearer, API key, Basic, JWT), user types, static credentials.

Backends are driven with real ``Request`` objects built from ASGI scopes.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hmac
import logging
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import jwt
import pytest

from zephyr.errors import SetupError
from zephyr.requests import Request
from zephyr.security.auth import (
    ANONYMOUS,
    AnonymousUser,
    APIKeyAuth,
    AuthBackend,
    AuthenticationFailed,
    AuthUser,
    BasicAuth,
    BearerAuth,
    JWTAuth,
    authenticate,
    authorization_credentials,
    challenge_for,
    is_authenticated,
    presents_credentials,
    static_passwords,
    static_tokens,
)
from zephyr.security.jwt import JWTCodec
from zephyr.security.passwords import PasswordHasher, hash_password

ALICE = AuthUser(id="alice", name="Alice", scopes=frozenset({"notes:read"}))
BOB = AuthUser(id="bob")
TOKEN = "tok-alice-0123456789"
API_KEY = "key-alice-0123456789"
JWT_KEY = b"0123456789abcdef0123456789abcdef"
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
Headers = list[tuple[bytes, bytes]]


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def make_request(headers: Headers = (), path: str = "/notes") -> Request:  # type: ignore[assignment]
    scope: dict[str, Any] = {
        "type": "http", "method": "GET", "scheme": "http", "path": path,
        "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": list(headers), "client": ("10.0.0.7", 4321),
    }
    return Request(scope, _no_body)


def authorization(value: str) -> Headers:
    return [(b"authorization", value.encode("latin-1"))]


def basic(credentials: bytes) -> Headers:
    return authorization("Basic " + base64.b64encode(credentials).decode())


def run_backend(backend: AuthBackend, headers: Headers) -> Any:
    return asyncio.run(backend.authenticate(make_request(headers)))


def failure(backend: AuthBackend, headers: Headers) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as caught:
        run_backend(backend, headers)
    return caught.value


def sync_token_verify(token: str) -> Any:
    return ALICE if token == TOKEN else None


async def async_token_verify(token: str) -> Any:
    return sync_token_verify(token)


def sync_password_verify(username: str, password: str) -> Any:
    users = {"alice": ("s3cret", ALICE), "jörg": ("pässwörd ✓", BOB)}
    entry = users.get(username)
    return entry[1] if entry and entry[0] == password else None


async def async_password_verify(username: str, password: str) -> Any:
    return sync_password_verify(username, password)


TOKEN_VERIFIERS = pytest.mark.parametrize(
    "verify", [sync_token_verify, async_token_verify], ids=["sync", "async"]
)
BEARER_INVALID = 'Bearer realm="api", error="invalid_token"'

# -- Bearer ------------------------------------------------------------------------------


@TOKEN_VERIFIERS
@pytest.mark.parametrize(("headers", "expected"), [
    ([], None),
    (authorization(f"Bearer {TOKEN}"), ALICE),
    (authorization(f"bearer {TOKEN}"), ALICE),
    (authorization(f"BEARER   {TOKEN}  "), ALICE),
    (authorization("Basic YWxpY2U6czNjcmV0"), None),
    ([(b"x-api-key", TOKEN.encode())], None),
], ids=["missing", "good", "lower-case-scheme", "extra-spaces", "other-scheme", "other-header"])
def test_bearer_finds_its_user_or_nothing(
    verify: Callable[[str], Any], headers: Headers, expected: Any
) -> None:
    assert run_backend(BearerAuth(verify), headers) == expected


@TOKEN_VERIFIERS
@pytest.mark.parametrize(("headers", "reason", "challenge"), [
    (authorization("Bearer wrong-token"), "invalid", BEARER_INVALID),
    (authorization(f"Bearer {TOKEN}x"), "invalid", BEARER_INVALID),
    (authorization("Bearer"), "malformed", 'Bearer realm="api"'),
    (authorization("Bearer    "), "malformed", 'Bearer realm="api"'),
    (authorization(f"Bearer {TOKEN} extra"), "malformed", 'Bearer realm="api"'),
    (authorization('Bearer to"ken'), "malformed", 'Bearer realm="api"'),
    (authorization(f"Bearer {TOKEN}") + authorization(f"Bearer {TOKEN}"), "malformed",
     'Bearer realm="api"'),
], ids=["wrong", "near-miss", "no-token", "blank-token", "two-parts", "bad-characters",
        "two-headers"])
def test_bearer_refuses_wrong_and_malformed_tokens(
    verify: Callable[[str], Any], headers: Headers, reason: str, challenge: str
) -> None:
    error = failure(BearerAuth(verify), headers)
    assert (error.status_code, error.reason, error.challenge) == (401, reason, challenge)
    assert error.headers == {"WWW-Authenticate": challenge}


def test_bearer_error_message_says_what_is_wrong_without_the_token() -> None:
    error = failure(BearerAuth(sync_token_verify), authorization("Bearer wrong-token"))
    assert error.detail == "the bearer token is not valid"
    assert "wrong-token" not in str(error)
    assert "wrong-token" not in repr(error)


def test_bearer_realm_is_in_the_challenge() -> None:
    assert BearerAuth(sync_token_verify, realm="notes").challenge() == 'Bearer realm="notes"'


# -- the scheme word ------------------------------------------------------------------


@pytest.mark.parametrize(("make", "token"), [
    (lambda: BearerAuth(sync_token_verify, scheme="Token"), lambda: TOKEN),
    (lambda: JWTAuth(CODEC, scheme="Token"), lambda: CODEC.encode({"sub": "alice"}, ttl=600)),
], ids=["bearer", "jwt"])
def test_the_scheme_word_is_configurable(make: Any, token: Any) -> None:
    # RealWorld ("Conduit") clients send "Authorization: Token <jwt>".
    backend, credentials = make(), token()
    assert run_backend(backend, authorization(f"Token {credentials}")).id == "alice"
    assert run_backend(backend, authorization(f"token {credentials}")).id == "alice"
    assert run_backend(backend, authorization(f"Bearer {credentials}")) is None
    assert backend.challenge() == 'Token realm="api"'
    assert backend.scheme == "Token"
    error = failure(backend, authorization("Token abc.def.ghi"))
    assert error.headers == {"WWW-Authenticate": 'Token realm="api", error="invalid_token"'}
    error = failure(backend, authorization("Token"))
    assert (error.reason, error.challenge) == ("malformed", 'Token realm="api"')


@pytest.mark.parametrize("scheme", ["Bearer Token", "", " Token", "Tok,en", "Tök", 'T"k'])
@pytest.mark.parametrize("make", [
    lambda scheme: BearerAuth(sync_token_verify, scheme=scheme),
    lambda scheme: JWTAuth(CODEC, scheme=scheme),
], ids=["bearer", "jwt"])
def test_a_scheme_word_that_is_not_a_token_is_a_setup_error(make: Any, scheme: str) -> None:
    with pytest.raises(SetupError) as info:
        make(scheme)
    assert str(info.value) == (
        f"scheme={scheme!r} is not an authentication scheme name; use one word of letters, "
        "digits and '-', like 'Bearer' or 'Token' (RFC 9110 section 11.1)"
    )


class TicketAuth(AuthBackend):
    """A backend of an app's own, on the public parsing helper."""

    def challenge(self) -> str:
        return 'Ticket realm="office"'

    async def authenticate(self, request: Request) -> Any:
        ticket = authorization_credentials(request, "Ticket", backend=self)
        return None if ticket is None else {"ticket": ticket}


@pytest.mark.parametrize(("headers", "expected"), [
    ([], None),
    (authorization("Ticket 42"), {"ticket": "42"}),
    (authorization("ticket    42 and more "), {"ticket": "42 and more"}),
    (authorization("Bearer 42"), None),
], ids=["missing", "good", "case-and-spaces", "other-scheme"])
def test_authorization_credentials_reads_one_scheme(headers: Headers, expected: Any) -> None:
    assert run_backend(TicketAuth(), headers) == expected


@pytest.mark.parametrize(("headers", "detail"), [
    (authorization("Ticket"),
     "the Authorization header names the Ticket scheme but carries no credentials after it"),
    (authorization("Ticket 1") + authorization("Ticket 2"),
     "the request has more than one Authorization header; send one"),
], ids=["no-credentials", "two-headers"])
def test_authorization_credentials_raises_the_backends_401(headers: Headers,
                                                           detail: str) -> None:
    error = failure(TicketAuth(), headers)
    assert (error.status_code, error.reason, error.detail) == (401, "malformed", detail)
    assert error.headers == {"WWW-Authenticate": 'Ticket realm="office"'}


# -- API key -----------------------------------------------------------------------------


@TOKEN_VERIFIERS
@pytest.mark.parametrize(("headers", "expected"), [
    ([], None),
    ([(b"x-api-key", TOKEN.encode())], ALICE),
    ([(b"x-api-key", f"  {TOKEN} ".encode())], ALICE),
    (authorization(f"Bearer {TOKEN}"), None),
], ids=["missing", "good", "surrounding-spaces", "other-header"])
def test_api_key_finds_its_user_or_nothing(
    verify: Callable[[str], Any], headers: Headers, expected: Any
) -> None:
    assert run_backend(APIKeyAuth(verify), headers) == expected


@TOKEN_VERIFIERS
@pytest.mark.parametrize(("headers", "reason"), [
    ([(b"x-api-key", b"wrong")], "invalid"),
    ([(b"x-api-key", b"")], "malformed"),
    ([(b"x-api-key", TOKEN.encode()), (b"x-api-key", TOKEN.encode())], "malformed"),
], ids=["wrong", "empty", "two-headers"])
def test_api_key_refuses_wrong_and_malformed_keys(
    verify: Callable[[str], Any], headers: Headers, reason: str
) -> None:
    error = failure(APIKeyAuth(verify), headers)
    assert (error.status_code, error.reason) == (401, reason)
    assert error.headers == {"WWW-Authenticate": 'APIKey realm="api", header="X-API-Key"'}


def test_api_key_reads_the_header_it_is_given() -> None:
    backend = APIKeyAuth(sync_token_verify, header="X-Service-Token", realm="internal")
    assert run_backend(backend, [(b"x-service-token", TOKEN.encode())]) == ALICE
    assert run_backend(backend, [(b"x-api-key", TOKEN.encode())]) is None
    assert backend.challenge() == 'APIKey realm="internal", header="X-Service-Token"'


# -- Basic -------------------------------------------------------------------------------

PASSWORD_VERIFIERS = pytest.mark.parametrize(
    "verify", [sync_password_verify, async_password_verify], ids=["sync", "async"]
)


@PASSWORD_VERIFIERS
@pytest.mark.parametrize(("headers", "expected"), [
    ([], None),
    (basic(b"alice:s3cret"), ALICE),
    (basic("jörg:pässwörd ✓".encode()), BOB),
    (authorization("basic " + base64.b64encode(b"alice:s3cret").decode()), ALICE),
    (authorization(f"Bearer {TOKEN}"), None),
], ids=["missing", "good", "unicode", "lower-case-scheme", "other-scheme"])
def test_basic_finds_its_user_or_nothing(
    verify: Callable[[str, str], Any], headers: Headers, expected: Any
) -> None:
    assert run_backend(BasicAuth(verify), headers) == expected


@PASSWORD_VERIFIERS
@pytest.mark.parametrize(("headers", "reason"), [
    (basic(b"alice:wrong"), "invalid"),
    (basic(b"mallory:s3cret"), "invalid"),
    (basic("jörg:passwörd ✓".encode()), "invalid"),
    (basic("jörg:pässwörd ✓".encode("latin-1", "replace")), "malformed"),
    (basic(b"alice"), "malformed"),
    (authorization("Basic !!not-base64!!"), "malformed"),
    (authorization("Basic YWxpY2U6czNjcmV"), "malformed"),
    (authorization("Basic"), "malformed"),
], ids=["wrong-password", "unknown-user", "unicode-near-miss", "not-utf8", "no-colon",
        "not-base64", "bad-padding", "no-credentials"])
def test_basic_refuses_wrong_and_malformed_credentials(
    verify: Callable[[str, str], Any], headers: Headers, reason: str
) -> None:
    error = failure(BasicAuth(verify), headers)
    assert (error.status_code, error.reason) == (401, reason)
    assert error.headers == {"WWW-Authenticate": 'Basic realm="zephyr", charset="UTF-8"'}


def test_basic_splits_at_the_first_colon_only() -> None:
    seen: list[tuple[str, str]] = []

    def verify(username: str, password: str) -> Any:
        seen.append((username, password))
        return BOB

    assert run_backend(BasicAuth(verify), basic(b"bob:a:b:c")) == BOB
    assert seen == [("bob", "a:b:c")]


# -- verify functions --------------------------------------------------------------------


@pytest.mark.parametrize(("answer", "expected"), [
    (False, "invalid"), (None, "invalid"),
])
def test_a_verify_answering_false_or_none_refuses(answer: Any, expected: str) -> None:
    assert failure(BearerAuth(lambda token: answer), authorization("Bearer t")).reason == expected


def test_a_verify_answering_true_is_a_setup_error_not_a_login() -> None:
    with pytest.raises(SetupError, match="returned True; return the user object"):
        run_backend(BearerAuth(lambda token: True), authorization("Bearer t"))


def test_any_object_a_verify_returns_is_the_user() -> None:
    user = SimpleNamespace(id=7)
    assert run_backend(APIKeyAuth(lambda key: user), [(b"x-api-key", b"k")]) is user


# -- JWT ---------------------------------------------------------------------------------

CODEC = JWTCodec(key=JWT_KEY)


def jwt_backend(**options: Any) -> JWTAuth:
    return JWTAuth(CODEC, **options)


@pytest.mark.parametrize(("claims", "expected"), [
    ({"sub": "alice", "scope": "notes:read notes:write", "roles": ["admin"]},
     ("alice", "", {"notes:read", "notes:write"}, {"admin"})),
    ({"sub": "bob", "name": "Bob", "scopes": ["a", "b"]}, ("bob", "Bob", {"a", "b"}, set())),
    ({"sub": "carol"}, ("carol", "", set(), set())),
    ({"sub": "dan", "scope": "a", "scopes": ["b"], "roles": []}, ("dan", "", {"a", "b"}, set())),
], ids=["scope-string", "scopes-list", "subject-only", "scope-and-scopes"])
def test_jwt_builds_an_auth_user_from_the_claims(
    claims: dict[str, Any], expected: tuple[str, str, set[str], set[str]]
) -> None:
    user = run_backend(jwt_backend(), authorization("Bearer " + CODEC.encode(claims)))
    assert isinstance(user, AuthUser)
    assert (user.id, user.name, set(user.scopes), set(user.roles)) == expected
    assert {name: user.claims[name] for name in claims} == claims
    assert set(user.claims) == {*claims, "iat", "exp"}


def _expired_token() -> str:
    now = int(time.time())
    return jwt.encode({"sub": "alice", "iat": now - 120, "exp": now - 60}, JWT_KEY,
                      algorithm="HS256")


@pytest.mark.parametrize(("token", "reason"), [
    (_expired_token(), "token-expired"),
    (JWTCodec(key=b"another-key-0123456789abcdef-0123").encode({"sub": "alice"}),
     "token-signature"),
    ("abc.def.ghi", "token-malformed"),
    (CODEC.encode({"name": "no subject"}), "token-no-user"),
    (CODEC.encode({"sub": "alice", "scope": 7}), "token-no-user"),
    (CODEC.encode({"sub": "alice", "scopes": "a b"}), "token-no-user"),
    (CODEC.encode({"sub": "alice", "roles": "admin"}), "token-no-user"),
], ids=["expired", "wrong-key", "malformed", "no-subject", "bad-scope", "scopes-string",
        "roles-string"])
def test_jwt_refuses_bad_tokens_with_rfc_6750_invalid_token(token: str, reason: str) -> None:
    error = failure(jwt_backend(), authorization(f"Bearer {token}"))
    assert (error.status_code, error.reason) == (401, reason)
    assert error.headers == {"WWW-Authenticate": BEARER_INVALID}
    assert token not in str(error)


def test_jwt_without_a_bearer_token_finds_nothing_and_malformed_headers_fail() -> None:
    assert run_backend(jwt_backend(), []) is None
    assert run_backend(jwt_backend(), basic(b"alice:s3cret")) is None
    assert failure(jwt_backend(), authorization("Bearer")).reason == "malformed"


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_jwt_with_a_custom_user_from_claims(kind: str) -> None:
    def sync_user(claims: dict[str, Any]) -> Any:
        return {"alice": ALICE}.get(claims["sub"])

    async def async_user(claims: dict[str, Any]) -> Any:
        return sync_user(claims)

    backend = jwt_backend(user_from_claims=sync_user if kind == "sync" else async_user)
    assert run_backend(backend, authorization("Bearer " + CODEC.encode({"sub": "alice"}))) \
        == ALICE
    error = failure(backend, authorization("Bearer " + CODEC.encode({"sub": "mallory"})))
    assert error.reason == "token-no-user"


# -- static credentials ------------------------------------------------------------------

TOKENS = {"tok-alice-0123456789": ALICE, "tok-bob-0123456789ab": BOB, "tok-ci-0123456789": "ci"}


@pytest.mark.parametrize(("presented", "expected"), [
    ("tok-alice-0123456789", ALICE),
    ("tok-bob-0123456789ab", BOB),
    ("tok-ci-0123456789", "ci"),
    ("tok-alice-012345678", None),
    ("tok-alice-01234567890", None),
    ("TOK-ALICE-0123456789", None),
    ("tok-alice-0123456788", None),
    ("", None),
    ("tök-alice-0123456789", None),
], ids=["alice", "bob", "ci", "prefix", "longer", "case", "last-char", "empty", "non-ascii"])
def test_static_tokens_find_the_right_user_and_refuse_near_misses(
    presented: str, expected: Any
) -> None:
    assert static_tokens(TOKENS)(presented) == expected


@pytest.mark.parametrize("presented", ["tok-alice-0123456789", "tok-ci-0123456789", "nope"])
def test_static_tokens_compare_against_every_key_in_constant_time(
    monkeypatch: pytest.MonkeyPatch, presented: str
) -> None:
    compared: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append((len(a), len(b)))
        return real(a, b)

    verify = static_tokens(TOKENS)
    monkeypatch.setattr(hmac, "compare_digest", counting)
    verify(presented)
    # Every key, each time, on equal-length digests: no early exit, no length leak.
    assert compared == [(32, 32)] * len(TOKENS)


def test_static_tokens_work_with_bearer_and_api_key_backends() -> None:
    verify = static_tokens(TOKENS)
    assert run_backend(BearerAuth(verify), authorization("Bearer tok-bob-0123456789ab")) == BOB
    assert run_backend(APIKeyAuth(verify), [(b"x-api-key", b"tok-ci-0123456789")]) == "ci"
    assert failure(APIKeyAuth(verify), [(b"x-api-key", b"tok-ci-012345678")]).reason == "invalid"


@pytest.mark.parametrize("token", ["", " padded ", "tök", "tab\there"])
def test_static_tokens_refuse_unusable_tokens_at_setup(token: str) -> None:
    with pytest.raises(SetupError, match="use long random ASCII tokens"):
        static_tokens({token: ALICE})


def test_static_passwords_with_basic_auth_and_a_unicode_password() -> None:
    # The default hasher (argon2id, 64 MiB), as deployed.
    verify = static_passwords({"jörg": (hash_password("pässwörd ✓"), BOB)})
    backend = BasicAuth(verify)
    assert run_backend(backend, basic("jörg:pässwörd ✓".encode())) == BOB
    assert failure(backend, basic("jörg:passwörd ✓".encode())).reason == "invalid"
    assert failure(backend, basic("nobody:pässwörd ✓".encode())).reason == "invalid"


SLOWER = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
HASHES = {"alice": FAST.hash("s3cret"), "bob": SLOWER.hash("hunter22")}


@pytest.mark.parametrize(("username", "password", "expected", "parameters"), [
    ("alice", "s3cret", ALICE, "m=8,t=1,p=1"),
    ("alice", "s3cre", None, "m=8,t=1,p=1"),
    ("bob", "hunter22", BOB, "m=16,t=2,p=1"),
    # An unknown name costs a check with the slowest parameters of the stored hashes.
    ("mallory", "s3cret", None, "m=16,t=2,p=1"),
], ids=["good", "wrong-password", "older-parameters", "unknown-user"])
def test_static_passwords_check_a_hash_even_for_unknown_users(
    verified: list[str], username: str, password: str, expected: Any, parameters: str
) -> None:
    verify = static_passwords({"alice": (HASHES["alice"], ALICE), "bob": (HASHES["bob"], BOB)},
                              hasher=FAST)

    async def login() -> Any:
        return await verify(username, password)

    assert asyncio.run(login()) == expected
    [checked] = verified
    assert checked.startswith(f"$argon2id$v=19${parameters}$")
    assert (checked == HASHES.get(username)) is (username in HASHES)


def test_static_passwords_default_to_the_default_parameters() -> None:
    verify = static_passwords({"carol": (FAST.hash("pw"), ALICE)})
    assert asyncio.run(verify("carol", "pw")) == ALICE


@pytest.mark.parametrize("entry", [("only-a-hash",), (None, ALICE), "hash"])
def test_static_passwords_refuse_malformed_entries_at_setup(entry: Any) -> None:
    with pytest.raises(SetupError, match="the entry for 'alice' must be a"):
        static_passwords({"alice": entry})


# -- users -------------------------------------------------------------------------------


@pytest.mark.parametrize("claims", [
    {}, {"sub": ""}, {"sub": 42}, {"sub": "u", "name": 1}, {"sub": "u", "scope": ["a"]},
    {"sub": "u", "scopes": "a"}, {"sub": "u", "scopes": [1]}, {"sub": "u", "roles": "admin"},
])
def test_from_claims_refuses_claims_of_the_wrong_type(claims: dict[str, Any]) -> None:
    assert AuthUser.from_claims(claims) is None


def test_auth_user_is_frozen_and_its_collections_immutable() -> None:
    user = AuthUser(id="u1", scopes={"a"}, roles=["r"], claims={"sub": "u1"})  # type: ignore[arg-type]
    assert (user.scopes, user.roles, dict(user.claims)) == (
        frozenset({"a"}), frozenset({"r"}), {"sub": "u1"})
    assert user.is_authenticated is True
    with pytest.raises(dataclasses.FrozenInstanceError):
        user.id = "admin"  # type: ignore[misc]
    with pytest.raises(TypeError):
        user.claims["sub"] = "admin"  # type: ignore[index]
    assert hash(user) == hash(AuthUser(id="u1", scopes=frozenset({"a"}),
                                       roles=frozenset({"r"})))
    assert repr(user) == ("AuthUser(id='u1', name='', scopes=frozenset({'a'}), "
                          "roles=frozenset({'r'}))")


def test_anonymous_user() -> None:
    assert AnonymousUser() is ANONYMOUS
    assert not ANONYMOUS
    assert (ANONYMOUS.id, ANONYMOUS.name, ANONYMOUS.scopes, ANONYMOUS.roles,
            dict(ANONYMOUS.claims), ANONYMOUS.is_authenticated) == (
        None, "", frozenset(), frozenset(), {}, False)
    assert repr(ANONYMOUS) == "AnonymousUser()"
    with pytest.raises(AttributeError):
        ANONYMOUS.id = "admin"  # type: ignore[misc, assignment]


@pytest.mark.parametrize(("user", "expected"), [
    (ANONYMOUS, False), (None, False), (False, False), (ALICE, True), ("ci", True),
    (SimpleNamespace(is_authenticated=False), False), (SimpleNamespace(id=1), True),
])
def test_is_authenticated(user: Any, expected: bool) -> None:
    assert is_authenticated(user) is expected


# -- authenticate() ----------------------------------------------------------------------

BACKENDS = [APIKeyAuth(static_tokens({API_KEY: BOB})), BearerAuth(sync_token_verify)]


@pytest.mark.parametrize(("headers", "expected"), [
    ([], ANONYMOUS),
    (authorization(f"Bearer {TOKEN}"), ALICE),
    ([(b"x-api-key", API_KEY.encode())], BOB),
    ([(b"x-api-key", API_KEY.encode()), *authorization(f"Bearer {TOKEN}")], BOB),
], ids=["none", "second-backend", "first-backend", "first-wins"])
def test_authenticate_tries_backends_in_order(headers: Headers, expected: Any) -> None:
    assert asyncio.run(authenticate(make_request(headers), BACKENDS)) == expected


def test_authenticate_does_not_fall_through_after_wrong_credentials() -> None:
    headers = [(b"x-api-key", b"wrong"), *authorization(f"Bearer {TOKEN}")]
    with pytest.raises(AuthenticationFailed) as caught:
        asyncio.run(authenticate(make_request(headers), BACKENDS))
    assert caught.value.reason == "invalid"


def test_authenticate_with_no_backends_is_anonymous() -> None:
    assert asyncio.run(authenticate(make_request(authorization("Bearer x")), [])) is ANONYMOUS


def test_challenge_for_offers_every_backend() -> None:
    assert challenge_for(BACKENDS) == 'APIKey realm="api", header="X-API-Key", Bearer realm="api"'
    assert challenge_for([]) is None


# -- has_credentials() -------------------------------------------------------------------


class _CookieAuth(AuthBackend):
    """A backend of the app's own making: only it knows what it reads."""

    async def authenticate(self, request: Request) -> Any | None:
        return None

    def challenge(self) -> str:
        return 'Cookie realm="app"'


BEARER = BearerAuth(sync_token_verify)
JWT = JWTAuth(CODEC)
BASIC = BasicAuth(sync_password_verify)
API = APIKeyAuth(static_tokens({API_KEY: BOB}))
API_HEADER = [(b"x-api-key", API_KEY.encode())]


@pytest.mark.parametrize(("backend", "headers", "expected"), [
    (BEARER, authorization(f"Bearer {TOKEN}"), True),
    (BEARER, authorization("Bearer"), True),
    (BEARER, authorization("Basic YWxpY2U6czNjcmV0"), True),
    (BEARER, API_HEADER, False),
    (BEARER, [], False),
    (JWT, authorization("Bearer not-even-a-jwt"), True),
    (JWT, [], False),
    (BASIC, basic(b"alice:s3cret"), True),
    (BASIC, [(b"cookie", b"session=x")], False),
    (API, API_HEADER, True),
    (API, [(b"x-api-key", b"")], True),
    (API, authorization(f"Bearer {TOKEN}"), False),
    (API, [], False),
    (_CookieAuth(), [], True),
], ids=["bearer", "bearer-empty", "bearer-other-scheme", "bearer-api-key", "bearer-none",
        "jwt", "jwt-none", "basic", "basic-cookie", "api-key", "api-key-empty",
        "api-key-bearer", "api-key-none", "custom"])
def test_has_credentials_says_whether_a_credential_is_presented_without_checking_it(
    backend: AuthBackend, headers: Headers, expected: bool
) -> None:
    assert backend.has_credentials(make_request(headers)) is expected


@pytest.mark.parametrize(("headers", "expected"), [
    ([], False), (API_HEADER, True), (authorization("Bearer x"), True),
    ([(b"x-other", b"1")], False),
], ids=["none", "first", "second", "other-header"])
def test_presents_credentials_asks_every_backend(headers: Headers, expected: bool) -> None:
    assert presents_credentials(make_request(headers), BACKENDS) is expected
    assert presents_credentials(make_request(headers), []) is False


# -- setup errors and logs ---------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda: BearerAuth(sync_token_verify, realm='a"b'),
    lambda: BasicAuth(sync_password_verify, realm="a\\b"),
    lambda: JWTAuth(CODEC, realm="line\nbreak"),
    lambda: APIKeyAuth(sync_token_verify, realm="é"),
])
def test_realms_that_cannot_be_quoted_are_setup_errors(make: Callable[[], Any]) -> None:
    with pytest.raises(SetupError, match="cannot be sent in WWW-Authenticate"):
        make()


@pytest.mark.parametrize("header", ["", "X API Key", "X-Key:"])
def test_api_key_header_must_be_a_header_name(header: str) -> None:
    with pytest.raises(SetupError, match=f"header={header!r} is not a valid header name"):
        APIKeyAuth(sync_token_verify, header=header)


@pytest.mark.parametrize(("backend", "headers", "secret", "reason"), [
    (BearerAuth(sync_token_verify), authorization("Bearer wrong-secret-token"),
     "wrong-secret-token", "invalid"),
    (BearerAuth(sync_token_verify), authorization("Bearer wrong secret"), "wrong secret",
     "malformed"),
    (APIKeyAuth(sync_token_verify), [(b"x-api-key", b"wrong-secret-key")], "wrong-secret-key",
     "invalid"),
    (BasicAuth(sync_password_verify), basic(b"alice:hunter2-secret"), "hunter2-secret",
     "invalid"),
    (BasicAuth(sync_password_verify), basic(b"alice:hunter2-secret"),
     base64.b64encode(b"alice:hunter2-secret").decode(), "invalid"),
    (JWTAuth(CODEC), authorization("Bearer " + _expired_token()), _expired_token(),
     "token-expired"),
], ids=["bearer", "bearer-malformed", "api-key", "basic-password", "basic-encoded", "jwt"])
def test_failures_are_logged_with_the_reason_and_never_the_credential(
    caplog: pytest.LogCaptureFixture, backend: AuthBackend, headers: Headers, secret: str,
    reason: str,
) -> None:
    with caplog.at_level(logging.WARNING, logger="zephyr.security"):
        error = failure(backend, headers)
    [record] = caplog.records
    assert (record.name, record.levelno) == ("zephyr.security", logging.WARNING)
    fields = {name: getattr(record, name) for name in
              ("security_event", "reason", "path", "client", "backend")}
    assert fields == {"security_event": "auth-failed", "reason": reason, "path": "/notes",
                      "client": "10.0.0.7", "backend": type(backend).__name__}
    assert secret not in record.getMessage()
    assert secret not in repr(vars(record))
    assert secret not in str(error)
