"""How sessions and pending logins are spelled: the cookie value and the sealed bytes a store keeps.

Use it from a store implementation, never from views: it turns records into opaque bytes and back.
The browser holds ``{session_id}.{secret}``; a store holds only the session id and a value sealed
by :class:`~oauth_bridge.crypto.TokenCipher` with that secret, so a dump of the store reveals no
token, name or e-mail address. A pending login is not kept here at all (it is sealed in the
browser's login cookie, see :mod:`oauth_bridge.login_cookie`): the store holds only a hashed
"this state was used" mark, written once Looker accepted the code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Callable

from oauth_bridge.crypto import SECRET_BYTES, InvalidCiphertext, TokenCipher
from oauth_bridge.models import ID_RE, SessionRecord, TokenSet, UserInfo

Clock = Callable[[], float]

_MAX_INPUT = 512
"""Longest state string we hash; anything longer is hostile or broken."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64_32(text: str) -> bytes | None:
    """32 bytes from exactly 43 canonical url-safe base64 characters, else None."""
    if not ID_RE.fullmatch(text):
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=")
    except (binascii.Error, ValueError):
        return None
    return raw if _b64(raw) == text else None  # refuse non-canonical spellings


def parse_cookie(cookie_value: object) -> tuple[str, bytes] | None:
    """``(session_id, secret)`` from ``{id}.{secret}``; None for anything else."""
    if not isinstance(cookie_value, str) or len(cookie_value) != 87:
        return None
    session_id, dot, secret_text = cookie_value.partition(".")
    if not dot or _unb64_32(session_id) is None:
        return None
    secret = _unb64_32(secret_text)
    return None if secret is None else (session_id, secret)


def created_ms(value: bytes) -> int | None:
    """The creation time a sealed session value carries in clear (``{created_ms}:…``)."""
    header, colon, _ = value.partition(b":")
    return int(header) if colon and header.isdigit() else None


def _session_aad(session_id: str, header: bytes) -> bytes:
    return b"oauth_bridge/session/1|" + session_id.encode("ascii") + b"|" + header


def _header(created: int) -> bytes:
    return b"%d:" % created


class SessionCodec:
    """Seals and opens session records, and knows their lifetimes; shared by every store."""

    def __init__(self, cipher: TokenCipher, idle_timeout: int, max_age: int, clock: Clock) -> None:
        if idle_timeout <= 0 or max_age <= 0 or idle_timeout > max_age:
            raise ValueError("need 0 < idle_timeout <= max_age")
        self.cipher = cipher
        self.idle_timeout = idle_timeout
        self.max_age = max_age
        self.clock = clock

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def new_session(self, user: UserInfo, tokens: TokenSet) -> tuple[str, bytes, SessionRecord]:
        session_id = secrets.token_urlsafe(32)  # 256 bits, 43 characters
        secret = secrets.token_bytes(SECRET_BYTES)
        record = SessionRecord(session_id, user, tokens, self.now_ms() / 1000, 1)
        return f"{session_id}.{_b64(secret)}", secret, record

    def seal(self, record: SessionRecord, secret: bytes) -> bytes:
        header = _header(round(record.created_at * 1000))
        body = json.dumps(
            [
                record.user.id,
                record.user.display_name,
                record.user.email,
                record.tokens.access_token,
                record.tokens.refresh_token,
                record.tokens.expires_at,
                record.version,
            ],
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode("utf-8")
        return header + self.cipher.seal(body, secret, _session_aad(record.session_id, header))

    def open(self, session_id: str, secret: bytes, value: bytes) -> tuple[SessionRecord, bool]:
        """The record and whether it should be re-sealed under the newest key."""
        header, colon, blob = value.partition(b":")
        if not colon or not header.isdigit():
            raise InvalidCiphertext("not a session value")
        aad = _session_aad(session_id, header + b":")
        plaintext, stale_key = self.cipher.open_checked(blob, secret, aad)
        try:
            uid, name, email, access, refresh, expires_at, version = json.loads(plaintext)
            record = SessionRecord(
                session_id=session_id,
                user=UserInfo(str(uid), str(name), str(email)),
                tokens=TokenSet(
                    str(access), None if refresh is None else str(refresh), float(expires_at)
                ),
                created_at=int(header) / 1000,
                version=int(version),
            )
        except (ValueError, TypeError):
            raise InvalidCiphertext("sealed value has an unexpected shape") from None
        return record, stale_key

    def expired(self, record: SessionRecord) -> bool:
        return self.clock() >= record.created_at + self.max_age

    def initial_ttl_ms(self) -> int:
        return min(self.idle_timeout, self.max_age) * 1000


# --- pending logins -----------------------------------------------------------------------


def used_login_key(state: str) -> str | None:
    """The store key id that marks a sign-in's state as used; None for junk input.

    Hashed so that the store never holds a state in clear (it is also in Looker's logs and the
    browser's history), and bounded so hostile input cannot make long keys.
    """
    if not state or len(state) > _MAX_INPUT:
        return None
    digest = hashlib.sha256(b"oauth_bridge/used-login\x00" + state.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:40]
