"""Sealing session values so that neither a Redis dump nor the server's key ring alone opens them.

Use :class:`TokenCipher` for anything secret the bridge keeps in its store (Looker tokens, PKCE
verifiers). A value is sealed twice:

1. with ``MultiFernet`` under the server key ring from ``TOKEN_KEYS`` (the first key encrypts, every
   key decrypts, so keys rotate without signing anybody out), then
2. with AES-GCM under a 32-byte secret that exists only in the browser's cookie, as oauth2-proxy's
   session ticket does (``pkg/sessions/persistence/ticket.go``: cookie ``v2.{id}.{secret}``). The
   AES-GCM associated data binds the blob to its store key, so blobs cannot be swapped between keys.

Blob layout (binary, compact): ``version(1) | nonce(12) | AES-GCM(raw Fernet token) + tag(16)``.
The Fernet token is stored decoded from its base64 text to save a third of the bytes.

Use :class:`CookieSealer` for something the browser keeps for the bridge (a sign-in under way): it
is AES-GCM under a key derived by HKDF from ``SECRET_KEY`` for one purpose, so the browser can
neither read nor change what it carries, and nothing of it is written to the store.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from oauth_bridge.errors import OAuthBridgeError

SECRET_BYTES = 32
"""Length of the per-session secret that lives only in the cookie."""

_VERSION = b"\x01"
_NONCE_BYTES = 12
_TAG_BYTES = 16


class InvalidCiphertext(OAuthBridgeError):
    """The blob was not sealed by this key ring with this secret and associated data."""


class TokenCipher:
    """Two layers: MultiFernet under the server key ring, then AES-GCM under a per-session secret.

    The per-session secret lives only in the browser's cookie, so a Redis dump alone, or the key
    ring alone, decrypts nothing.
    """

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("the token key ring needs at least one key")
        fernets = [Fernet(key) for key in keys]  # raises ValueError for a malformed key
        self._ring = MultiFernet(fernets)
        self._primary = fernets[0]

    def seal(self, plaintext: bytes, session_secret: bytes, aad: bytes) -> bytes:
        """Encrypt under the first ring key, then under the session secret bound to ``aad``."""
        if len(session_secret) != SECRET_BYTES:
            raise ValueError(f"the session secret must be {SECRET_BYTES} bytes")
        inner = base64.urlsafe_b64decode(self._ring.encrypt(plaintext))
        nonce = os.urandom(_NONCE_BYTES)
        return _VERSION + nonce + AESGCM(session_secret).encrypt(nonce, inner, aad)

    def open(self, blob: bytes, session_secret: bytes, aad: bytes) -> bytes:
        """The plaintext, or :class:`InvalidCiphertext` for any wrong secret, key, aad or byte."""
        return self._ring_open(self._unwrap(blob, session_secret, aad), self._ring)

    def open_checked(self, blob: bytes, session_secret: bytes, aad: bytes) -> tuple[bytes, bool]:
        """The plaintext, and True when it was not sealed under the first key (re-seal it)."""
        inner = self._unwrap(blob, session_secret, aad)
        try:
            return self._ring_open(inner, self._primary), False
        except InvalidCiphertext:
            return self._ring_open(inner, self._ring), True

    def seal_ring_only(self, plaintext: bytes) -> str:
        """Encrypt under the first ring key only (Fernet text): the revocation escrow.

        Weaker than :meth:`seal` on purpose: the bridge itself must open it without the
        session's cookie, to end that session's grant at Looker (docs/security.md, *Ending
        sessions and refreshing once*). Callers bind it to its session inside ``plaintext``.
        """
        return self._ring.encrypt(plaintext).decode("ascii")

    def open_ring_only(self, token: str) -> bytes:
        """What :meth:`seal_ring_only` sealed, under any ring key; InvalidCiphertext otherwise."""
        try:
            return self._ring.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError, ValueError):
            raise InvalidCiphertext("no key in the ring opens this escrow") from None

    def needs_rotation(self, blob: bytes, session_secret: bytes, aad: bytes) -> bool:
        """True when the blob opens, but not under the first key: re-seal it on the next write."""
        return self.open_checked(blob, session_secret, aad)[1]

    @staticmethod
    def _unwrap(blob: bytes, session_secret: bytes, aad: bytes) -> bytes:
        if len(session_secret) != SECRET_BYTES:
            raise InvalidCiphertext("wrong session secret length")
        if len(blob) < 1 + _NONCE_BYTES + _TAG_BYTES or blob[:1] != _VERSION:
            raise InvalidCiphertext("not a sealed blob")
        nonce = blob[1 : 1 + _NONCE_BYTES]
        try:
            return AESGCM(session_secret).decrypt(nonce, blob[1 + _NONCE_BYTES :], aad)
        except InvalidTag:
            raise InvalidCiphertext("session secret or associated data does not match") from None

    @staticmethod
    def _ring_open(inner: bytes, fernet: Fernet | MultiFernet) -> bytes:
        try:
            return fernet.decrypt(base64.urlsafe_b64encode(inner))
        except (InvalidToken, binascii.Error, ValueError):
            raise InvalidCiphertext("no key in the ring opens this value") from None


def derive_key(secret: str, purpose: bytes) -> bytes:
    """A 32-byte key for one ``purpose`` from ``SECRET_KEY`` (HKDF-SHA256, RFC 5869).

    One secret can then key several uses without a key for one opening anything of another.
    """
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose)
    return hkdf.derive(secret.encode("utf-8"))


class CookieSealer:
    """AES-GCM for values the browser keeps: confidential and tamper-evident, as url-safe text.

    Text layout: ``v1.`` + base64url(``nonce(12) | ciphertext + tag(16)``), without padding, so
    it is a valid cookie value without quoting.
    """

    PREFIX = "v1."

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, aad: bytes) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, plaintext, aad)
        return self.PREFIX + base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")

    def open(self, text: str, aad: bytes) -> bytes:
        """The plaintext, or :class:`InvalidCiphertext` for anything not sealed here for ``aad``."""
        if not text.startswith(self.PREFIX) or not text.isascii():
            raise InvalidCiphertext("not a sealed cookie value")
        body = text[len(self.PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            raise InvalidCiphertext("not base64") from None
        if len(raw) < _NONCE_BYTES + _TAG_BYTES:
            raise InvalidCiphertext("too short")
        try:
            return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], aad)
        except InvalidTag:
            raise InvalidCiphertext("not sealed under this key for this purpose") from None
