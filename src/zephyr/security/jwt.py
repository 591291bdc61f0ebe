"""JSON Web Tokens (RFC 7519) signed with HS256 or RS256, through PyJWT.

:class:`JWTCodec` issues tokens with ``iat``/``exp`` (and ``iss``/``aud`` when
configured) and verifies them against one algorithm only; every failure is an
:class:`InvalidTokenError` whose ``reason`` says which check refused the token.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from zephyr.errors import SetupError, ZephyrError, require_extra

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

__all__ = ["ALLOWED_ALGORITHMS", "InvalidTokenError", "JWTCodec", "TokenErrorReason"]

#: The only signing algorithms a codec can be set up with.
ALLOWED_ALGORITHMS = ("HS256", "RS256")

TokenErrorReason: TypeAlias = Literal[
    "expired", "signature", "algorithm", "malformed", "audience", "issuer",
    "not-yet-valid", "missing-claim",
]

# NOTE: RFC 7518 §3.2: an HS256 key must be at least as long as the hash output (256 bits).
_MIN_HMAC_KEY_BYTES = 32
# NOTE: RFC 7518 §3.3: RS256 keys must be 2048 bits or larger.
_MIN_RSA_KEY_BITS = 2048
# Claims the codec writes itself; a caller passing them would be silently overridden.
_CODEC_CLAIMS = ("iat", "exp", "iss", "aud")


class InvalidTokenError(ZephyrError):
    """A token that was refused; ``reason`` names the check (``"expired"``, ``"signature"``...).

    The message never contains the token or a key.
    """

    def __init__(self, reason: TokenErrorReason, message: str) -> None:
        self.reason: TokenErrorReason = reason
        super().__init__(message)


class JWTCodec:
    """Encode and verify JWTs with one algorithm and one key.

    ``HS256`` signs and verifies with ``key``, a random secret of at least 32
    bytes (``secrets.token_bytes(32)``). ``RS256`` signs with ``key``, a PEM
    RSA private key, and verifies with ``public_key`` (derived from ``key``
    when not given); ``key=None`` with a ``public_key`` makes a verify-only
    codec. ``leeway`` (seconds) absorbs clock skew; ``default_ttl`` is the
    lifetime of issued tokens in seconds.
    """

    __slots__ = ("_signing_key", "_verify_key", "algorithm", "audience", "default_ttl",
                 "issuer", "leeway")

    def __init__(
        self,
        *,
        key: str | bytes | None,
        algorithm: Literal["HS256", "RS256"] = "HS256",
        public_key: str | bytes | None = None,
        audience: str | None = None,
        issuer: str | None = None,
        leeway: float = 0,
        default_ttl: float = 3600,
    ) -> None:
        if algorithm not in ALLOWED_ALGORITHMS:
            raise SetupError(
                f"algorithm={algorithm!r} is not supported; use one of {list(ALLOWED_ALGORITHMS)}"
            )
        if leeway < 0 or default_ttl <= 0:
            raise SetupError(
                f"leeway={leeway!r} must be zero or more and default_ttl={default_ttl!r} "
                "more than zero (both in seconds)"
            )
        self.algorithm = algorithm
        self.audience = audience
        self.issuer = issuer
        self.leeway = leeway
        self.default_ttl = default_ttl
        self._signing_key: bytes | RSAPrivateKey | None
        self._verify_key: bytes | RSAPublicKey
        require_extra("jwt", extra="auth", feature="JWTCodec")
        if algorithm == "HS256":
            self._signing_key = self._verify_key = _hmac_key(key, public_key)
        else:
            self._signing_key, self._verify_key = _rsa_keys(key, public_key)

    def __repr__(self) -> str:
        return (f"JWTCodec(algorithm={self.algorithm!r}, audience={self.audience!r}, "
                f"issuer={self.issuer!r})")

    def encode(self, claims: Mapping[str, Any], *, ttl: float | None = None) -> str:
        """Sign ``claims`` plus ``iat``, ``exp`` (now + ``ttl``, default ``default_ttl``)
        and the configured ``iss``/``aud``; returns the compact token."""
        import jwt

        if self._signing_key is None:
            raise SetupError(
                "this RS256 codec has only a public key and can verify but not sign; "
                "pass the PEM private key as key= to issue tokens"
            )
        ttl = self.default_ttl if ttl is None else ttl
        if ttl <= 0:
            raise SetupError(f"ttl={ttl!r} must be more than zero seconds")
        clashes = sorted(name for name in _CODEC_CLAIMS if name in claims)
        if clashes:
            raise SetupError(
                f"claims {clashes!r} are set by the codec; pass ttl= for the lifetime and "
                "configure audience=/issuer= on the codec instead"
            )
        now = time.time()
        # NOTE: RFC 7519 §2 allows fractional NumericDates; whole seconds are what every
        # verifier accepts. Rounding exp up keeps a sub-second ttl from expiring at once.
        payload = {**claims, "iat": int(now), "exp": math.ceil(now + ttl)}
        if self.issuer is not None:
            payload["iss"] = self.issuer
        if self.audience is not None:
            payload["aud"] = self.audience
        return jwt.encode(payload, self._signing_key, algorithm=self.algorithm)

    def decode(self, token: str) -> dict[str, Any]:
        """Verify ``token`` and return its claims, or raise :class:`InvalidTokenError`.

        The signature, ``exp`` and ``iat`` (both required), ``nbf``, ``aud``
        and ``iss`` are all checked.
        """
        import jwt

        if not isinstance(token, str):
            raise InvalidTokenError("malformed", _MESSAGES["malformed"])
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidTokenError("malformed", _MESSAGES["malformed"]) from None
        alg = header.get("alg")
        # SECURITY: one algorithm only. This refuses "none" and the RS256→HS256 key-confusion
        # attack (an HMAC keyed with our public key) before any key is touched.
        if alg != self.algorithm:
            raise InvalidTokenError(
                "algorithm",
                f"the token is signed with {str(alg)[:16]!r}, but only {self.algorithm!r} is "
                "accepted; issue tokens with this codec",
            )
        try:
            return jwt.decode(
                token,
                self._verify_key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat"]},
            )
        except jwt.PyJWTError as exc:
            reason = _reason_of(exc)
            message = _MESSAGES[reason]
            if isinstance(exc, jwt.MissingRequiredClaimError):
                message = f"the token has no {exc.claim!r} claim, which is required"
            raise InvalidTokenError(reason, message) from None


_MESSAGES: dict[TokenErrorReason, str] = {
    "expired": "the token has expired; get a new one",
    "signature": "the token's signature does not match: it was altered or signed with "
                 "another key",
    "algorithm": "the token's algorithm is not the one this codec accepts",
    "malformed": "the token is not a well-formed JWT (three base64url parts: a JSON "
                 "header, JSON claims and a signature)",
    "audience": "the token is meant for another audience (aud)",
    "issuer": "the token comes from another issuer (iss)",
    "not-yet-valid": "the token is not valid yet (nbf or iat in the future); check the "
                     "clocks or set leeway=",
    "missing-claim": "the token lacks a required claim",
}


def _reason_of(exc: Exception) -> TokenErrorReason:
    """Which check a PyJWT exception reports; anything unforeseen counts as malformed."""
    import jwt

    reasons: tuple[tuple[type[Exception], TokenErrorReason], ...] = (
        (jwt.ExpiredSignatureError, "expired"),
        (jwt.InvalidSignatureError, "signature"),
        (jwt.InvalidAlgorithmError, "algorithm"),
        (jwt.InvalidAudienceError, "audience"),
        (jwt.InvalidIssuerError, "issuer"),
        (jwt.ImmatureSignatureError, "not-yet-valid"),
        (jwt.MissingRequiredClaimError, "missing-claim"),
    )
    for kind, reason in reasons:
        if isinstance(exc, kind):
            return reason
    return "malformed"


def _as_bytes(key: str | bytes) -> bytes:
    return key.encode("utf-8") if isinstance(key, str) else key


def _hmac_key(key: str | bytes | None, public_key: str | bytes | None) -> bytes:
    """The HS256 secret, checked for length and for being a secret at all."""
    from jwt.algorithms import HMACAlgorithm
    from jwt.exceptions import InvalidKeyError

    if public_key is not None:
        raise SetupError("public_key is for RS256 only; HS256 signs and verifies with key=")
    if key is None:
        raise SetupError("HS256 needs key=: a random secret such as secrets.token_bytes(32)")
    secret = _as_bytes(key)
    # SECURITY: a short HMAC key can be brute-forced offline from any token.
    if len(secret) < _MIN_HMAC_KEY_BYTES:
        raise SetupError(
            f"the HS256 key is {len(secret)} bytes; RFC 7518 §3.2 requires at least "
            f"{_MIN_HMAC_KEY_BYTES}: use secrets.token_bytes(32)"
        )
    try:
        # SECURITY: refuses PEM, SSH, DER and JWK material used as an HMAC secret.
        return HMACAlgorithm(HMACAlgorithm.SHA256).prepare_key(secret)
    except InvalidKeyError as exc:
        raise SetupError(f"the HS256 key is not a plain secret: {exc}") from None


def _rsa_keys(
    key: str | bytes | None, public_key: str | bytes | None
) -> tuple[RSAPrivateKey | None, RSAPublicKey]:
    """The RS256 private key (None for verify-only) and public key, loaded from PEM."""
    private = _load_private_key(key) if key is not None else None
    if public_key is not None:
        public = _load_public_key(public_key)
        if private is not None and (
            private.public_key().public_numbers() != public.public_numbers()
        ):
            raise SetupError(
                "public_key= does not belong to key=; pass the matching public key, or "
                "leave public_key out to derive it"
            )
    elif private is not None:
        public = private.public_key()
    else:
        raise SetupError(
            "RS256 needs key= (a PEM private key, to sign) or public_key= (a PEM public "
            "key, to verify only)"
        )
    # SECURITY: short RSA keys can be factored.
    if public.key_size < _MIN_RSA_KEY_BITS:
        raise SetupError(
            f"the RSA key has {public.key_size} bits; RFC 7518 §3.3 requires at least "
            f"{_MIN_RSA_KEY_BITS}: generate a 2048- or 3072-bit key"
        )
    return private, public


def _load_private_key(pem: str | bytes) -> RSAPrivateKey:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        loaded = load_pem_private_key(_as_bytes(pem), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        loaded = None
    if not isinstance(loaded, RSAPrivateKey):
        raise SetupError(
            "key= is not an unencrypted PEM RSA private key ('-----BEGIN PRIVATE KEY-----' "
            "or '-----BEGIN RSA PRIVATE KEY-----'), as RS256 needs"
        )
    return loaded


def _load_public_key(pem: str | bytes) -> RSAPublicKey:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        loaded = load_pem_public_key(_as_bytes(pem))
    except (ValueError, UnsupportedAlgorithm):
        loaded = None
    if not isinstance(loaded, RSAPublicKey):
        raise SetupError(
            "public_key= is not a PEM RSA public key ('-----BEGIN PUBLIC KEY-----'), "
            "as RS256 needs"
        )
    return loaded
