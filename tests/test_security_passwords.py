"""Password hashing: argon2id round trips, rehash-on-login, malformed hashes, unknown users,
and what happens without the ``auth`` extra."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

import argon2
import pytest

from zephyr.errors import SetupError, ZephyrError
from zephyr.security.jwt import JWTCodec
from zephyr.security.passwords import (
    MAX_PASSWORD_LENGTH,
    PasswordCheck,
    PasswordError,
    PasswordHasher,
    check_password,
    hash_password,
    verify_password,
)

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def test_defaults_are_argon2_cffis_rfc_9106_low_memory_profile() -> None:
    profile = argon2.profiles.RFC_9106_LOW_MEMORY
    hasher = PasswordHasher()
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (
        profile.time_cost,
        profile.memory_cost,
        profile.parallelism,
    )


def test_default_parameters_round_trip_through_the_module_functions() -> None:
    stored = hash_password("correct horse battery staple")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verify_password(stored, "correct horse battery staple") is True
    assert verify_password(stored, "wrong") is False
    assert check_password(stored, "correct horse battery staple") == PasswordCheck(ok=True)
    assert check_password(stored, "wrong") == PasswordCheck(ok=False)


@pytest.mark.parametrize(
    "password",
    ["s3cret!", "pässwörd", "пароль", "密码🔐", "a" * MAX_PASSWORD_LENGTH, " leading space"],
)
def test_round_trip(password: str) -> None:
    stored = FAST.hash(password)
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert FAST.verify(stored, password) is True
    assert FAST.verify(stored, password + "x") is False
    assert FAST.needs_rehash(stored) is False
    assert FAST.check(stored, password) == PasswordCheck(ok=True, new_hash=None)


def test_the_same_password_hashes_differently_each_time() -> None:
    assert FAST.hash("same") != FAST.hash("same")


def test_unicode_normal_forms_are_different_passwords() -> None:
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    assert FAST.verify(FAST.hash(composed), decomposed) is False


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("", "the password is empty; ask the user for a non-empty password"),
        (
            "a" * (MAX_PASSWORD_LENGTH + 1),
            "the password is 4097 characters long, over the limit of 4096 "
            "(a guard against denial of service); refuse it before hashing",
        ),
    ],
)
def test_hash_refuses_empty_and_overlong_passwords(password: str, message: str) -> None:
    with pytest.raises(PasswordError) as info:
        FAST.hash(password)
    assert str(info.value) == message
    assert isinstance(info.value, ZephyrError)
    assert isinstance(info.value, ValueError)


def test_verify_refuses_an_overlong_password_without_raising() -> None:
    stored = FAST.hash("a" * MAX_PASSWORD_LENGTH)
    assert FAST.verify(stored, "a" * (MAX_PASSWORD_LENGTH + 1)) is False
    assert FAST.check(stored, "a" * (MAX_PASSWORD_LENGTH + 1)) == PasswordCheck(ok=False)


def test_rehash_on_login_when_the_parameters_changed() -> None:
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    old = FAST.hash("hunter22")
    assert stronger.needs_rehash(old) is True

    result = stronger.check(old, "hunter22")
    assert result.ok is True
    assert result.new_hash is not None
    assert result.new_hash.startswith("$argon2id$v=19$m=16,t=2,p=1$")
    assert stronger.verify(result.new_hash, "hunter22") is True
    assert stronger.check(result.new_hash, "hunter22") == PasswordCheck(ok=True, new_hash=None)


def test_no_rehash_for_a_wrong_password_even_when_the_parameters_changed() -> None:
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    assert stronger.check(FAST.hash("hunter22"), "hunter2") == PasswordCheck(ok=False)


def _valid_hash() -> str:
    return FAST.hash("password")


@pytest.mark.parametrize(
    ("stored_hash", "scheme"),
    [
        ("", "<none>"),
        ("garbage", "<none>"),
        ("$argon2id$garbage", "argon2id"),
        ("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", "2b"),
        ("pbkdf2_sha256$600000$salt$digest", "<none>"),
        # A digest cut to 37 base64 characters (length 1 mod 4) never decodes, whatever the salt.
        (_valid_hash()[:-6], "argon2id"),
        (_valid_hash() + "$extra", "argon2id"),
        (_valid_hash().replace("m=8,", "m=1,"), "argon2id"),
    ],
)
def test_a_malformed_stored_hash_is_false_and_logged_without_the_password(
    stored_hash: str, scheme: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="zephyr.security"):
        assert FAST.verify(stored_hash, "the-password") is False
        assert FAST.check(stored_hash, "the-password") == PasswordCheck(ok=False)
    assert len(caplog.records) == 2
    for record in caplog.records:
        assert record.name == "zephyr.security"
        assert record.levelno == logging.ERROR
        assert record.security_event == "password-hash-invalid"  # type: ignore[attr-defined]
        assert record.scheme == scheme  # type: ignore[attr-defined]
        assert "the-password" not in record.getMessage()


def test_a_hash_of_another_argon2_variant_is_a_plain_mismatch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    other = _valid_hash().replace("$argon2id$", "$argon2i$")
    with caplog.at_level(logging.ERROR, logger="zephyr.security"):
        assert FAST.verify(other, "password") is False
    assert caplog.records == []


@pytest.mark.parametrize("stored_hash", ["", "garbage", "$2b$12$abcdefghijklmnopqrstuv"])
def test_an_unreadable_hash_needs_rehash(stored_hash: str) -> None:
    assert FAST.needs_rehash(stored_hash) is True


def test_an_unknown_user_is_refused_after_a_real_verification(
    verified: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="zephyr.security"):
        assert FAST.check(None, "anything") == PasswordCheck(ok=False)
        assert FAST.check(None, "") == PasswordCheck(ok=False)
        assert check_password(None, "anything") == PasswordCheck(ok=False)
    # The dummy hash is well formed (nothing logged) and has the hasher's own parameters.
    assert caplog.records == []
    assert len(verified) == 3
    assert verified[0] == verified[1]
    assert verified[0].startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert verified[2].startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert argon2.extract_parameters(verified[0]) == argon2.Parameters(
        type=argon2.Type.ID, version=19, salt_len=16, hash_len=32,
        time_cost=1, memory_cost=8, parallelism=1,
    )


SLOW = PasswordHasher(time_cost=2, memory_cost=32, parallelism=2)


@pytest.mark.parametrize(("hashes", "expected"), [
    ([], FAST),  # nothing to compare with: the hasher's own parameters
    (["garbage", "", "$2b$12$abcdefghijklmnopqrstuv"], FAST),
    (["$argon2id$v=19$m=16,t=0,p=1$c2FsdA$aGFzaA"], FAST),  # impossible parameters
    (["$argon2id$v=19$m=32,t=3,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA"],
     PasswordHasher(time_cost=3, memory_cost=32, parallelism=1)),  # 96 KiB-passes over 64
    (["$argon2i$m=64,t=2,p=2$c2FsdA$aGFzaA", "$argon2id$v=19$m=64,t=2,p=1$c2FsdA$aGFzaA"],
     PasswordHasher(time_cost=2, memory_cost=64, parallelism=1)),  # fewer lanes: slower
    (["$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA", "$argon2d$v=19$m=16,t=1,p=1$c2FsdA$aGFzaA"],
     PasswordHasher(time_cost=1, memory_cost=16, parallelism=1)),
])
def test_slowest_of_takes_the_parameters_of_the_slowest_hash(
    hashes: list[str], expected: PasswordHasher
) -> None:
    assert FAST.slowest_of(hashes) == expected


def test_the_slowest_of_real_hashes_checks_unknown_users_at_their_cost(
    verified: list[str],
) -> None:
    stored = [FAST.hash("a"), SLOW.hash("b"), FAST.hash("c")]
    assert FAST.slowest_of(stored).check(None, "guess") == PasswordCheck(ok=False)
    [dummy] = verified
    assert argon2.extract_parameters(dummy) == argon2.Parameters(
        type=argon2.Type.ID, version=19, salt_len=16, hash_len=32,
        time_cost=2, memory_cost=32, parallelism=2,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"time_cost": 0},
            "time_cost=0 and parallelism=4 must both be at least 1",
        ),
        (
            {"parallelism": 0, "memory_cost": 8},
            "time_cost=3 and parallelism=0 must both be at least 1",
        ),
        (
            {"memory_cost": 16, "parallelism": 4},
            "memory_cost=16 KiB is below the minimum of 8 KiB per lane "
            "(32 for parallelism=4); raise memory_cost",
        ),
    ],
)
def test_impossible_parameters_are_refused_at_construction(
    kwargs: dict[str, int], message: str
) -> None:
    with pytest.raises(SetupError) as info:
        PasswordHasher(**kwargs)
    assert str(info.value) == message


def test_the_hasher_is_frozen_and_keeps_its_dummy_hash_out_of_repr() -> None:
    with pytest.raises(AttributeError):
        FAST.time_cost = 5  # type: ignore[misc]
    assert repr(FAST) == "PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)"
    assert PasswordHasher(time_cost=1, memory_cost=8, parallelism=1) == FAST


def test_importing_the_module_does_not_import_argon2() -> None:
    import subprocess
    import sys

    code = (
        "import sys, zephyr.security.passwords as p; p.PasswordHasher(); "
        "print('argon2' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(("module", "feature", "use"), [
    ("argon2", "PasswordHasher", lambda: PasswordHasher().hash("pw")),
    ("argon2", "PasswordHasher", lambda: PasswordHasher().verify("$argon2id$x", "pw")),
    ("jwt", "JWTCodec", lambda: JWTCodec(key="k" * 32)),
])
def test_a_missing_auth_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, module: str, feature: str, use: Callable[[], object]
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # what an absent package looks like
    with pytest.raises(SetupError) as caught:
        use()
    assert str(caught.value) == (
        f"{feature} needs the {module!r} package; install it with pip install 'zephyr[auth]'"
    )
