"""JWTCodec: HS256/RS256 round trips and every way a token is refused, with its reason."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from zephyr.errors import SetupError
from zephyr.security.jwt import InvalidTokenError, JWTCodec

SECRET = b"0123456789abcdef0123456789abcdef"  # exactly 32 bytes


def _private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PRIVATE_PEM, PUBLIC_PEM = _private_pem(RSA_KEY), _public_pem(RSA_KEY)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64json(value: Any) -> str:
    return _b64(json.dumps(value).encode())


def _hs256_by_hand(claims: dict[str, Any], secret: bytes) -> str:
    """An HS256 token signed without PyJWT (which refuses PEM keys as HMAC secrets)."""
    signing_input = f"{_b64json({'alg': 'HS256', 'typ': 'JWT'})}.{_b64json(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _now() -> int:
    return int(time.time())


def _refusal(codec: JWTCodec, token: str) -> InvalidTokenError:
    with pytest.raises(InvalidTokenError) as info:
        codec.decode(token)
    return info.value


def test_hs256_round_trip() -> None:
    codec = JWTCodec(key=SECRET)
    before = _now()
    claims = codec.decode(codec.encode({"sub": "alice", "scope": ["read", "write"]}))
    assert set(claims) == {"sub", "scope", "iat", "exp"}
    assert claims["sub"] == "alice"
    assert claims["scope"] == ["read", "write"]
    assert before <= claims["iat"] <= _now()
    assert claims["exp"] - claims["iat"] in (3600, 3601)


def test_str_key_and_issuer_audience_and_ttl() -> None:
    codec = JWTCodec(key=SECRET.decode(), issuer="https://auth.example", audience="api", leeway=5)
    token = codec.encode({"sub": "bob"}, ttl=60)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = codec.decode(token)
    assert (claims["sub"], claims["iss"], claims["aud"]) == ("bob", "https://auth.example", "api")
    assert claims["exp"] - claims["iat"] in (60, 61)


def test_rs256_round_trip_and_verify_only_codec() -> None:
    signer = JWTCodec(key=PRIVATE_PEM, algorithm="RS256")
    token = signer.encode({"sub": "carol"})
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert signer.decode(token)["sub"] == "carol"

    verifier = JWTCodec(key=None, algorithm="RS256", public_key=PUBLIC_PEM.decode())
    assert verifier.decode(token)["sub"] == "carol"
    with pytest.raises(SetupError) as info:
        verifier.encode({"sub": "carol"})
    assert str(info.value) == (
        "this RS256 codec has only a public key and can verify but not sign; "
        "pass the PEM private key as key= to issue tokens"
    )

    both = JWTCodec(key=PRIVATE_PEM.decode(), algorithm="RS256", public_key=PUBLIC_PEM)
    assert both.decode(token)["sub"] == "carol"


def test_rs256_refuses_a_token_from_another_key() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = JWTCodec(key=_private_pem(other), algorithm="RS256").encode({"sub": "x"})
    assert _refusal(JWTCodec(key=PRIVATE_PEM, algorithm="RS256"), token).reason == "signature"


HS = JWTCodec(key=SECRET, issuer="issuer-a", audience="aud-a")


def _signed(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, SECRET, algorithm="HS256")


DAY = 24 * 60 * 60


def _valid(**overrides: Any) -> dict[str, Any]:
    now = _now()
    claims: dict[str, Any] = {
        # A day: these claims are built at collection, maybe minutes before the test runs.
        "sub": "u", "iat": now, "exp": now + DAY, "iss": "issuer-a", "aud": "aud-a",
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


@pytest.mark.parametrize(
    ("claims", "reason", "message"),
    [
        (_valid(exp=_now() - 10), "expired", "the token has expired; get a new one"),
        (
            _valid(nbf=_now() + DAY),
            "not-yet-valid",
            "the token is not valid yet (nbf or iat in the future); check the clocks or "
            "set leeway=",
        ),
        (_valid(iat=_now() + DAY), "not-yet-valid", None),
        (_valid(exp=None), "missing-claim", "the token has no 'exp' claim, which is required"),
        (_valid(iat=None), "missing-claim", "the token has no 'iat' claim, which is required"),
        (_valid(aud=None), "missing-claim", "the token has no 'aud' claim, which is required"),
        (_valid(iss=None), "missing-claim", "the token has no 'iss' claim, which is required"),
        (_valid(aud="aud-b"), "audience", "the token is meant for another audience (aud)"),
        (_valid(iss="issuer-b"), "issuer", "the token comes from another issuer (iss)"),
        (_valid(exp="soon"), "malformed", None),
        (_valid(iat="now"), "malformed", None),
        (_valid(nbf="later"), "malformed", None),
    ],
)
def test_claims_are_checked(claims: dict[str, Any], reason: str, message: str | None) -> None:
    error = _refusal(HS, _signed(claims))
    assert error.reason == reason
    if message is not None:
        assert str(error) == message


def test_valid_claims_pass_and_leeway_absorbs_skew() -> None:
    assert HS.decode(_signed(_valid()))["sub"] == "u"
    lenient = JWTCodec(key=SECRET, issuer="issuer-a", audience="aud-a", leeway=30)
    for skewed, reason in [
        (_signed(_valid(exp=_now() - 3)), "expired"),
        (_signed(_valid(nbf=_now() + 3)), "not-yet-valid"),
        (_signed(_valid(iat=_now() + 3)), "not-yet-valid"),
    ]:
        assert _refusal(HS, skewed).reason == reason
        assert lenient.decode(skewed)["sub"] == "u"


def test_a_token_with_an_audience_is_refused_by_a_codec_without_one() -> None:
    token = _signed(_valid(iss=None))
    assert _refusal(JWTCodec(key=SECRET), token).reason == "audience"


def test_tampered_payload_and_signature_are_refused() -> None:
    codec = JWTCodec(key=SECRET)
    header, payload, signature = codec.encode({"sub": "alice", "admin": False}).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged_payload = _b64json({**claims, "admin": True})
    # The first base64url character carries six whole bits of the signature.
    forged_signature = ("B" if signature[0] == "A" else "A") + signature[1:]

    for token in (
        f"{header}.{forged_payload}.{signature}",
        f"{header}.{payload}.{forged_signature}",
        f"{header}.{payload}.",
    ):
        error = _refusal(codec, token)
        assert error.reason == "signature"
        assert str(error) == (
            "the token's signature does not match: it was altered or signed with another key"
        )


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = JWTCodec(key=b"another-secret-of-at-least-32-bytes!").encode({"sub": "x"})
    assert _refusal(JWTCodec(key=SECRET), token).reason == "signature"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "HS512", "RS256", "ES256", ""])
def test_hs256_codec_accepts_only_hs256(alg: str) -> None:
    claims = _b64json({"sub": "admin", "iat": _now(), "exp": _now() + 60})
    token = f"{_b64json({'alg': alg, 'typ': 'JWT'})}.{claims}."
    error = _refusal(JWTCodec(key=SECRET), token)
    assert error.reason == "algorithm"
    assert str(error) == (
        f"the token is signed with {alg!r}, but only 'HS256' is accepted; "
        "issue tokens with this codec"
    )


def test_a_header_without_alg_is_refused_as_algorithm() -> None:
    token = f"{_b64json({'typ': 'JWT'})}.{_b64json({'exp': _now() + 60})}.sig"
    assert _refusal(JWTCodec(key=SECRET), token).reason == "algorithm"


def test_rs256_codec_refuses_alg_none() -> None:
    claims = {"sub": "admin", "iat": _now(), "exp": _now() + 60}
    token = f"{_b64json({'alg': 'none'})}.{_b64json(claims)}."
    assert _refusal(JWTCodec(key=PRIVATE_PEM, algorithm="RS256"), token).reason == "algorithm"


@pytest.mark.parametrize("public_key", [PUBLIC_PEM, PUBLIC_PEM.strip()])
def test_rs256_codec_refuses_hs256_signed_with_its_public_key(public_key: bytes) -> None:
    # The classic key-confusion attack: HMAC keyed with the (public) verification key.
    claims = {"sub": "admin", "iat": _now(), "exp": _now() + 60}
    token = _hs256_by_hand(claims, public_key)
    for codec in (
        JWTCodec(key=PRIVATE_PEM, algorithm="RS256"),
        JWTCodec(key=None, algorithm="RS256", public_key=PUBLIC_PEM),
    ):
        error = _refusal(codec, token)
        assert error.reason == "algorithm"
        assert str(error) == (
            "the token is signed with 'HS256', but only 'RS256' is accepted; "
            "issue tokens with this codec"
        )


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "!!!.@@@.###",
        "ä.ö.ü",
        "eyJhbGciOiJIUzI1NiJ9",
        f"{_b64(b'not json')}.{_b64json({'exp': 1})}.sig",
        f"{_b64json(['alg', 'HS256'])}.{_b64json({'exp': 1})}.sig",
        f"{_b64json({'alg': 'HS256'})}.{_b64json({'exp': 1})}.%%%",
        f"{_b64json({'alg': 'HS256', 'kid': 5})}.{_b64json({'exp': 1})}.sig",
        f"{_b64json({'alg': 'HS256', 'crit': ['exp']})}.{_b64json({'exp': 1})}.sig",
    ],
)
def test_garbage_is_malformed(token: str) -> None:
    error = _refusal(JWTCodec(key=SECRET), token)
    assert error.reason == "malformed"
    assert str(error) == (
        "the token is not a well-formed JWT (three base64url parts: a JSON header, "
        "JSON claims and a signature)"
    )


@pytest.mark.parametrize("payload", [_b64json([1, 2]), _b64(b"not json"), _b64(b"\xff\xfe")])
def test_a_payload_that_is_no_json_object_is_malformed_once_the_signature_holds(
    payload: str,
) -> None:
    # NOTE: the claims are parsed only after the signature is verified, so an unsigned
    # bad payload is refused for its signature first.
    signing_input = f"{_b64json({'alg': 'HS256'})}.{payload}"
    assert _refusal(JWTCodec(key=SECRET), f"{signing_input}.sig").reason == "signature"
    signature = hmac.new(SECRET, signing_input.encode(), hashlib.sha256).digest()
    error = _refusal(JWTCodec(key=SECRET), f"{signing_input}.{_b64(signature)}")
    assert error.reason == "malformed"


def test_messages_never_contain_the_token_or_the_key() -> None:
    codec = JWTCodec(key=SECRET)
    token = codec.encode({"sub": "alice"})
    header, payload, _ = token.split(".")
    error = _refusal(codec, f"{header}.{payload}.AAAA")
    assert token not in str(error)
    assert payload not in str(error)
    assert SECRET.decode() not in str(error)
    assert error.__cause__ is None
    assert error.__suppress_context__ is True
    assert SECRET.decode() not in repr(codec)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"key": SECRET, "algorithm": "HS512"},
            "algorithm='HS512' is not supported; use one of ['HS256', 'RS256']",
        ),
        (
            {"key": SECRET, "algorithm": "none"},
            "algorithm='none' is not supported; use one of ['HS256', 'RS256']",
        ),
        (
            {"key": b"x" * 31},
            "the HS256 key is 31 bytes; RFC 7518 §3.2 requires at least 32: "
            "use secrets.token_bytes(32)",
        ),
        (
            {"key": "short"},
            "the HS256 key is 5 bytes; RFC 7518 §3.2 requires at least 32: "
            "use secrets.token_bytes(32)",
        ),
        ({"key": None}, "HS256 needs key=: a random secret such as secrets.token_bytes(32)"),
        (
            {"key": SECRET, "public_key": PUBLIC_PEM},
            "public_key is for RS256 only; HS256 signs and verifies with key=",
        ),
        (
            {"key": PUBLIC_PEM},
            "the HS256 key is not a plain secret: The specified key is an asymmetric key or "
            "x509 certificate and should not be used as an HMAC secret.",
        ),
        (
            {"key": SECRET, "leeway": -1},
            "leeway=-1 must be zero or more and default_ttl=3600 more than zero (both in "
            "seconds)",
        ),
        (
            {"key": SECRET, "default_ttl": 0},
            "leeway=0 must be zero or more and default_ttl=0 more than zero (both in seconds)",
        ),
        (
            {"key": None, "algorithm": "RS256"},
            "RS256 needs key= (a PEM private key, to sign) or public_key= (a PEM public key, "
            "to verify only)",
        ),
        (
            {"key": SECRET, "algorithm": "RS256"},
            "key= is not an unencrypted PEM RSA private key ('-----BEGIN PRIVATE KEY-----' or "
            "'-----BEGIN RSA PRIVATE KEY-----'), as RS256 needs",
        ),
        (
            {"key": PUBLIC_PEM, "algorithm": "RS256"},
            "key= is not an unencrypted PEM RSA private key ('-----BEGIN PRIVATE KEY-----' or "
            "'-----BEGIN RSA PRIVATE KEY-----'), as RS256 needs",
        ),
        (
            {"key": None, "algorithm": "RS256", "public_key": PRIVATE_PEM},
            "public_key= is not a PEM RSA public key ('-----BEGIN PUBLIC KEY-----'), "
            "as RS256 needs",
        ),
    ],
)
def test_bad_setup_is_refused_at_construction(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(SetupError) as info:
        JWTCodec(**kwargs)
    assert str(info.value) == message


def test_rs256_refuses_mismatched_weak_and_non_rsa_keys() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(SetupError) as info:
        JWTCodec(key=PRIVATE_PEM, algorithm="RS256", public_key=_public_pem(other))
    assert str(info.value) == (
        "public_key= does not belong to key=; pass the matching public key, or leave "
        "public_key out to derive it"
    )

    # A weak key on purpose: the codec must refuse it.
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    with pytest.raises(SetupError) as info:
        JWTCodec(key=_private_pem(weak), algorithm="RS256")
    assert str(info.value) == (
        "the RSA key has 1024 bits; RFC 7518 §3.3 requires at least 2048: "
        "generate a 2048- or 3072-bit key"
    )

    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_pem = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(SetupError, match=r"^key= is not an unencrypted PEM RSA private key"):
        JWTCodec(key=ec_pem, algorithm="RS256")


@pytest.mark.parametrize(
    ("claims", "ttl", "message"),
    [
        ({"sub": "x"}, 0, "ttl=0 must be more than zero seconds"),
        ({"sub": "x"}, -5, "ttl=-5 must be more than zero seconds"),
        (
            {"exp": 1, "aud": "a"},
            None,
            "claims ['aud', 'exp'] are set by the codec; pass ttl= for the lifetime and "
            "configure audience=/issuer= on the codec instead",
        ),
    ],
)
def test_encode_refuses_bad_ttl_and_claims_it_sets(
    claims: dict[str, Any], ttl: float | None, message: str
) -> None:
    with pytest.raises(SetupError) as info:
        JWTCodec(key=SECRET).encode(claims, ttl=ttl)
    assert str(info.value) == message


def test_a_sub_second_ttl_still_expires_in_the_future() -> None:
    codec = JWTCodec(key=SECRET)
    claims = codec.decode(codec.encode({}, ttl=0.5))
    assert claims["exp"] > time.time()


def test_repr_shows_no_key() -> None:
    codec = JWTCodec(key=PRIVATE_PEM, algorithm="RS256", audience="api", issuer="me")
    assert repr(codec) == "JWTCodec(algorithm='RS256', audience='api', issuer='me')"


def test_importing_the_module_does_not_import_pyjwt() -> None:
    import subprocess
    import sys

    code = "import sys, zephyr.security.jwt; print('jwt' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
