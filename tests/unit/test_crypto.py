"""TokenCipher: one AEAD whose key needs both the ring and the cookie; rotation; version 1
blobs; any tampering refused."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from oauth_bridge.crypto import InvalidCiphertext, TokenCipher

KEY_A = Fernet.generate_key()
KEY_B = Fernet.generate_key()
SECRET = os.urandom(32)
AAD = b"oauth_bridge/session/1|some-session-id|1700000000000:"
TOKEN = b'["2","Analyst","analyst@example.com","tok-abcdefghijklmnopqrstuvwxyz0123456789ABCD"]'


def test_round_trip() -> None:
    cipher = TokenCipher([KEY_A])
    blob = cipher.seal(TOKEN, SECRET, AAD)
    assert cipher.open(blob, SECRET, AAD) == TOKEN
    assert TOKEN not in blob
    assert b"analyst@example.com" not in blob


def test_each_seal_is_fresh() -> None:
    cipher = TokenCipher([KEY_A])
    assert cipher.seal(TOKEN, SECRET, AAD) != cipher.seal(TOKEN, SECRET, AAD)


def test_wrong_secret_is_refused() -> None:
    cipher = TokenCipher([KEY_A])
    blob = cipher.seal(TOKEN, SECRET, AAD)
    with pytest.raises(InvalidCiphertext):
        cipher.open(blob, os.urandom(32), AAD)


@pytest.mark.parametrize("secret", [b"", b"short", os.urandom(31), os.urandom(33)])
def test_secret_of_wrong_length_is_refused(secret: bytes) -> None:
    cipher = TokenCipher([KEY_A])
    blob = cipher.seal(TOKEN, SECRET, AAD)
    with pytest.raises(InvalidCiphertext):
        cipher.open(blob, secret, AAD)
    with pytest.raises(ValueError):
        cipher.seal(TOKEN, secret, AAD)


def test_blob_is_bound_to_its_associated_data() -> None:
    """A blob copied to another session's key does not open there."""
    cipher = TokenCipher([KEY_A])
    blob = cipher.seal(TOKEN, SECRET, AAD)
    with pytest.raises(InvalidCiphertext):
        cipher.open(blob, SECRET, AAD.replace(b"some-session-id", b"other-session-id"))


def test_every_flipped_byte_is_detected() -> None:
    cipher = TokenCipher([KEY_A])
    blob = cipher.seal(TOKEN, SECRET, AAD)
    for position in range(len(blob)):
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with pytest.raises(InvalidCiphertext):
            cipher.open(bytes(tampered), SECRET, AAD)


@pytest.mark.parametrize("cut", [0, 1, 12, 28, -1, -16])
def test_truncated_blob_is_refused(cut: int) -> None:
    cipher = TokenCipher([KEY_A])
    blob = cipher.seal(TOKEN, SECRET, AAD)
    with pytest.raises(InvalidCiphertext):
        cipher.open(blob[:cut], SECRET, AAD)


@pytest.mark.parametrize("blob", [b"", b"\x00" * 64, b"\x02" + b"\x00" * 64, TOKEN])
def test_junk_is_refused(blob: bytes) -> None:
    with pytest.raises(InvalidCiphertext):
        TokenCipher([KEY_A]).open(blob, SECRET, AAD)


def test_key_ring_alone_opens_nothing() -> None:
    """Someone with TOKEN_KEYS and a Redis dump, but no cookie, learns nothing."""
    cipher = TokenCipher([KEY_A])
    blob = cipher.seal(TOKEN, SECRET, AAD)
    for guess in (b"\x00" * 32, KEY_A[:32], base64.urlsafe_b64decode(KEY_A)):
        with pytest.raises(InvalidCiphertext):
            cipher.open(blob, guess, AAD)


def test_secret_alone_opens_nothing() -> None:
    """Someone with a cookie and a Redis dump, but no key ring, learns nothing: the secret alone
    is not the AES-GCM key (that needs a ring key too), and another ring does not open it."""
    blob = TokenCipher([KEY_A]).seal(TOKEN, SECRET, AAD)
    head, nonce, sealed = blob[:5], blob[5:17], blob[17:]
    for associated in (AAD, head + AAD):
        with pytest.raises(InvalidTag):
            AESGCM(SECRET).decrypt(nonce, sealed, associated)
    with pytest.raises(InvalidCiphertext):
        TokenCipher([KEY_B]).open(blob, SECRET, AAD)


def test_one_aead_under_a_key_derived_from_ring_key_and_secret() -> None:
    """The layout docs/security.md argues from: version 2, the ring key's id, then one AES-GCM
    under HKDF-SHA256(ring key || session secret)."""
    blob = TokenCipher([KEY_A]).seal(TOKEN, SECRET, AAD)
    assert blob[:1] == b"\x02"
    ring_key = base64.urlsafe_b64decode(KEY_A)
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"oauth_bridge/session-seal/v2"
    ).derive(ring_key + SECRET)
    assert AESGCM(key).decrypt(blob[5:17], blob[17:], blob[:5] + AAD) == TOKEN
    assert len(blob) == 1 + 4 + 12 + len(TOKEN) + 16  # nothing else is stored


def seal_two_layers(key: bytes, plaintext: bytes, secret: bytes, aad: bytes) -> bytes:
    """A version 1 blob as the bridge wrote it before issue 12: Fernet inside AES-GCM."""
    inner = base64.urlsafe_b64decode(Fernet(key).encrypt(plaintext))
    nonce = os.urandom(12)
    return b"\x01" + nonce + AESGCM(secret).encrypt(nonce, inner, aad)


def test_a_version_1_blob_still_opens_and_asks_to_be_resealed() -> None:
    """Sessions stored before the upgrade keep working; their next write is version 2."""
    old = seal_two_layers(KEY_A, TOKEN, SECRET, AAD)
    cipher = TokenCipher([KEY_A])
    assert cipher.open_checked(old, SECRET, AAD) == (TOKEN, True)
    with pytest.raises(InvalidCiphertext):
        cipher.open(old, os.urandom(32), AAD)
    with pytest.raises(InvalidCiphertext):
        TokenCipher([KEY_B]).open(old, SECRET, AAD)
    with pytest.raises(InvalidCiphertext):
        cipher.open(old, SECRET, AAD + b"x")
    assert cipher.open_checked(cipher.seal(TOKEN, SECRET, AAD), SECRET, AAD) == (TOKEN, False)


def test_rotation_old_key_still_opens_and_first_key_seals() -> None:
    old_blob = TokenCipher([KEY_A]).seal(TOKEN, SECRET, AAD)
    rotated = TokenCipher([KEY_B, KEY_A])
    assert rotated.open(old_blob, SECRET, AAD) == TOKEN
    assert rotated.needs_rotation(old_blob, SECRET, AAD) is True
    assert rotated.open_checked(old_blob, SECRET, AAD) == (TOKEN, True)

    new_blob = rotated.seal(TOKEN, SECRET, AAD)
    assert rotated.needs_rotation(new_blob, SECRET, AAD) is False
    assert TokenCipher([KEY_B]).open(new_blob, SECRET, AAD) == TOKEN
    with pytest.raises(InvalidCiphertext):
        TokenCipher([KEY_A]).open(new_blob, SECRET, AAD)


def test_ring_without_the_sealing_key_refuses() -> None:
    blob = TokenCipher([KEY_A]).seal(TOKEN, SECRET, AAD)
    with pytest.raises(InvalidCiphertext):
        TokenCipher([KEY_B]).open(blob, SECRET, AAD)
    with pytest.raises(InvalidCiphertext):
        TokenCipher([KEY_B]).needs_rotation(blob, SECRET, AAD)


@pytest.mark.parametrize("keys", [[], [b"not-a-key"], [KEY_A, b"short"]])
def test_bad_key_ring_is_refused_at_start(keys: list[bytes]) -> None:
    with pytest.raises(ValueError):
        TokenCipher(keys)
