"""How sessions and pending logins are spelled: the cookie value and the sealed bytes a store keeps.

Use it from a store implementation, never from views: it turns records into opaque bytes and back.
The browser holds ``{session_id}.{secret}``; a store holds only the session id and a value sealed
by :class:`~oauth_bridge.crypto.TokenCipher` with that secret, so a dump of the store reveals no
token, name or e-mail address. Beside it each value carries a hash of its user (the load script
finds the user's logout-everywhere mark by it) and a revocation escrow of its tokens under the key
ring alone, so the bridge can end at Looker a session it ends without its cookie; a dump alone
still opens nothing (docs/security.md, *Ending sessions and refreshing once*).
A pending login is not kept here at all (it is sealed in the
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
from typing import NamedTuple

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


def user_tag(user_id: str) -> str:
    """The clear name of a user inside the store's values and the logout-everywhere marks.

    A hash, not the id itself: the load script needs it to find the user's mark in the same
    round trip, and it tells a dump no more than the per-user index key already does.
    """
    digest = hashlib.sha256(b"oauth_bridge/user\x00" + user_id.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:_TAG_CHARS]


_TAG_CHARS = 32
_HEX = frozenset(b"0123456789abcdef")


class _Parts(NamedTuple):
    header: bytes
    """``{created_ms}:`` (version 1) or ``{created_ms}:{user_tag}:`` (version 2), the AAD's tail."""
    escrow: str | None
    blob: bytes
    version: int


def _split(value: bytes) -> _Parts | None:
    """The clear parts of a stored session value.

    Version 2 (written now): ``{created_ms}:{user_tag}:{escrow}:{sealed}``. Version 1 (written
    before the escrow existed, still read): ``{created_ms}:{sealed}``; the sealed blob starts
    with a version byte that is never a hex digit, so the two cannot be confused.
    """
    created, colon, rest = value.partition(b":")
    if not colon or not created.isdigit():
        return None
    tag, sep = rest[:_TAG_CHARS], rest[_TAG_CHARS : _TAG_CHARS + 1]
    if sep != b":" or len(tag) != _TAG_CHARS or not _HEX.issuperset(tag):
        return _Parts(created + b":", None, rest, 1)
    escrow, colon, blob = rest[_TAG_CHARS + 1 :].partition(b":")
    if not colon:
        return None
    try:
        escrow_text = escrow.decode("ascii")
    except UnicodeDecodeError:
        return None
    return _Parts(created + b":" + tag + b":", escrow_text, blob, 2)


def value_user_tag(value: bytes) -> str | None:
    """The user tag a stored value carries in clear; None for a version 1 value."""
    parts = _split(value)
    return None if parts is None or parts.version < 2 else parts.header.split(b":")[1].decode()


def _session_aad(session_id: str, parts: _Parts) -> bytes:
    return (
        b"oauth_bridge/session/%d|" % parts.version
        + session_id.encode("ascii")
        + b"|"
        + (parts.header)
    )


def _escrow_body(session_id: str, tokens: TokenSet) -> bytes:
    return json.dumps(
        [session_id, tokens.access_token, tokens.refresh_token, tokens.expires_at],
        separators=(",", ":"),
    ).encode("utf-8")


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
        """The value to store: clear header, revocation escrow, then the doubly sealed record."""
        header = b"%d:%s:" % (round(record.created_at * 1000), user_tag(record.user.id).encode())
        escrow = self.cipher.seal_ring_only(_escrow_body(record.session_id, record.tokens))
        tokens = record.tokens
        body = json.dumps(
            [
                record.user.id,
                record.user.display_name,
                record.user.email,
                tokens.access_token,
                tokens.refresh_token,
                tokens.expires_at,
                record.version,
                tokens.expires_in,
            ],
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode("utf-8")
        aad = _session_aad(record.session_id, _Parts(header, escrow, b"", 2))
        return header + escrow.encode("ascii") + b":" + self.cipher.seal(body, secret, aad)

    def open(self, session_id: str, secret: bytes, value: bytes) -> tuple[SessionRecord, bool]:
        """The record and whether it should be re-sealed (an old key, or an old format)."""
        parts = _split(value)
        if parts is None:
            raise InvalidCiphertext("not a session value")
        aad = _session_aad(session_id, parts)
        plaintext, stale_key = self.cipher.open_checked(parts.blob, secret, aad)
        try:
            fields = json.loads(plaintext)
            uid, name, email, access, refresh, expires_at, version = fields[:7]
            lifetime = fields[7] if len(fields) > 7 else None
            record = SessionRecord(
                session_id=session_id,
                user=UserInfo(str(uid), str(name), str(email)),
                tokens=TokenSet(
                    str(access),
                    None if refresh is None else str(refresh),
                    float(expires_at),
                    None if lifetime is None else float(lifetime),
                ),
                created_at=int(parts.header.partition(b":")[0]) / 1000,
                version=int(version),
            )
        except (ValueError, TypeError):
            raise InvalidCiphertext("sealed value has an unexpected shape") from None
        return record, stale_key or parts.version < 2

    def open_escrow(self, session_id: str, value: bytes) -> TokenSet | None:
        """The tokens of a session the bridge ends without its cookie, from the escrow.

        None for a value without one (version 1) or one that is not this session's.
        """
        parts = _split(value)
        if parts is None or parts.escrow is None:
            return None
        try:
            sid, access, refresh, expires_at = json.loads(self.cipher.open_ring_only(parts.escrow))
            if sid != session_id:
                return None  # an escrow copied from another session's value
            return TokenSet(
                str(access), None if refresh is None else str(refresh), float(expires_at)
            )
        except (InvalidCiphertext, ValueError, TypeError):
            return None

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
