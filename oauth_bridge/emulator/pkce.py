"""PKCE S256 as Looker accepts it: the challenge may come in three encodings.

- hex SHA-256 of the verifier (the Python SDK: ``looker_sdk/rtl/auth_session.py``
  ``CryptoHash.sha256_hash`` uses ``hexdigest()``);
- base64url *with* ``=`` padding (the TypeScript SDK only swaps ``+/`` for ``-_``, sdk-codegen
  ``packages/sdk-rtl/src/transport.ts``);
- unpadded base64url (RFC 7636 section 4.2).

Looker takes all three ("hex backwards compatibility", sdk-rtl ``oauthSession.ts``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

_HEX = re.compile(r"[0-9a-fA-F]{64}")
_B64URL = re.compile(r"[A-Za-z0-9_-]{43}=?")
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 section 4.1


def parse_challenge(challenge: str) -> bytes | None:
    """The 32-byte digest a well-formed challenge stands for, or ``None`` if it is malformed."""
    if _HEX.fullmatch(challenge):
        return bytes.fromhex(challenge)
    if _B64URL.fullmatch(challenge):
        try:
            digest = base64.urlsafe_b64decode(challenge.rstrip("=") + "=")
        except (binascii.Error, ValueError):
            return None
        return digest if len(digest) == 32 else None
    return None


def verifier_matches(verifier: str, digest: bytes) -> bool:
    """Whether SHA-256 of this (RFC-shaped) verifier equals the stored challenge digest."""
    if not _VERIFIER.fullmatch(verifier):
        return False
    return hmac.compare_digest(hashlib.sha256(verifier.encode("ascii")).digest(), digest)
