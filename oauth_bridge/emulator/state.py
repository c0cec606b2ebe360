"""The emulator's whole world in memory, shared by the UI and API hosts, behind one lock.

Tokens and codes are kept only as SHA-256 digests (as a server should): the plain values exist
only in the answers that hand them out. Every public method takes the lock, so the threaded
werkzeug servers and tests may call them at the same time.
"""

from __future__ import annotations

import dataclasses
import itertools
import secrets
import threading
import time
from collections import deque
from typing import Any

from oauth_bridge.emulator.config import EmulatorConfig
from oauth_bridge.emulator.embed_sessions import EmbedGrant, EmbedLedger
from oauth_bridge.emulator.records import (
    GRANT_TYPES,
    AccessRecord,
    AuthCode,
    ClientApp,
    Conflict,
    OAuthError,
    RefreshRecord,
    RequestRecord,
    digest,
    new_token,
)
from oauth_bridge.emulator.seed import ADMIN, Content, User, seed_content, seed_users


class EmulatorState:
    """Users, content, client apps, codes, tokens, browser sessions and counters."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.lock = threading.RLock()
        self._config = config or EmulatorConfig()
        self._seq = itertools.count(1)
        self.ui_url = ""
        """Base URL of the UI host, set by the server once it has its port."""
        self.api_url = ""
        """Base URL of the API host, set by the server once it has its port."""
        self._reset_locked()

    # ----------------------------------------------------------------- configuration
    @property
    def config(self) -> EmulatorConfig:
        with self.lock:
            return self._config

    def update_config(self, **changes: Any) -> EmulatorConfig:
        """Change knobs while running, e.g. ``update_config(token_ttl=1)``."""
        with self.lock:
            self._config = dataclasses.replace(self._config, **changes)
            return self._config

    def reset(self) -> None:
        """Back to the seed: users, content and the configured client apps; no tokens."""
        with self.lock:
            self._reset_locked()

    def _reset_locked(self) -> None:
        self.users: dict[str, User] = seed_users()
        self.content: Content = seed_content()
        self.apps: dict[str, ClientApp] = {}
        for guid, redirect_uri in self._config.client_apps:
            self.apps[guid] = ClientApp(guid, redirect_uri, display_name=guid)
        self._codes: dict[str, AuthCode] = {}
        self._access: dict[str, AccessRecord] = {}
        self._refresh: dict[str, RefreshRecord] = {}
        self._ui_sessions: dict[str, str] = {}
        self._embed = EmbedLedger()
        self._token_requests = dict.fromkeys(GRANT_TYPES, 0)
        self._request_log: deque[RequestRecord] = deque(maxlen=self._config.request_log_limit)
        self._request_count = 0
        self.rows_streamed = 0
        self.streams_started = 0
        self.streams_completed = 0

    # ----------------------------------------------------------------- counters and log
    @property
    def token_requests(self) -> dict[str, int]:
        """Requests to ``/api/token`` by grant type (a copy)."""
        with self.lock:
            return dict(self._token_requests)

    def count_token_request(self, grant_type: str) -> None:
        with self.lock:
            self._token_requests[grant_type] = self._token_requests.get(grant_type, 0) + 1

    @property
    def request_log(self) -> list[RequestRecord]:
        """Recorded API-host requests, oldest first (a copy)."""
        with self.lock:
            return list(self._request_log)

    @property
    def request_count(self) -> int:
        with self.lock:
            return self._request_count

    def record_request(self, record: RequestRecord) -> None:
        with self.lock:
            self._request_log.append(record)
            self._request_count += 1

    def stream_progress(self, rows: int = 0, started: bool = False, done: bool = False) -> None:
        with self.lock:
            self.rows_streamed += rows
            self.streams_started += int(started)
            self.streams_completed += int(done)

    # ----------------------------------------------------------------- users
    def get_user(self, user_id: str) -> User | None:
        with self.lock:
            return self.users.get(user_id)

    def user_by_password(self, email: str, password: str) -> User | None:
        """The enabled user with these credentials (constant-time password check)."""
        with self.lock:
            for user in self.users.values():
                if user.email.lower() == email.strip().lower():
                    ok = secrets.compare_digest(user.password.encode(), password.encode())
                    return user if ok and not user.is_disabled else None
            return None

    def delete_user(self, user_id: str) -> bool:
        """Remove a user; every token, credential and browser session of it dies at once."""
        with self.lock:
            if self.users.pop(user_id, None) is None:
                return False
            self._drop_user_everything(user_id)
            return True

    def disable_user(self, user_id: str, disabled: bool = True) -> bool:
        with self.lock:
            user = self.users.get(user_id)
            if user is None:
                return False
            user.is_disabled = disabled
            if disabled:
                self._drop_user_everything(user_id)
            return True

    def _drop_user_everything(self, user_id: str) -> None:
        self.revoke_all_tokens(user_id=user_id)
        for sid in [s for s, uid in self._ui_sessions.items() if uid == user_id]:
            del self._ui_sessions[sid]
        self._embed.drop_user(user_id)
        for app in self.apps.values():
            app.activated_users.discard(user_id)

    # ----------------------------------------------------------------- client apps
    def register_client_app(
        self,
        client_guid: str,
        redirect_uri: str,
        display_name: str = "",
        enabled: bool = True,
        description: str = "",
        group_id: str | None = None,
    ) -> ClientApp:
        with self.lock:
            if client_guid in self.apps:
                raise Conflict(client_guid)
            app = ClientApp(client_guid, redirect_uri, display_name, description, enabled, group_id)
            self.apps[client_guid] = app
            return app

    def get_app(self, client_guid: str) -> ClientApp | None:
        with self.lock:
            return self.apps.get(client_guid)

    def update_app(self, client_guid: str, **changes: Any) -> ClientApp | None:
        """Change fields; disabling the app or moving its redirect URI kills its tokens."""
        with self.lock:
            app = self.apps.get(client_guid)
            if app is None:
                return None
            for name, value in changes.items():
                setattr(app, name, value)
            if changes.get("enabled") is False or "redirect_uri" in changes:
                self._invalidate_app_locked(app)
            return app

    def delete_app(self, client_guid: str) -> bool:
        with self.lock:
            app = self.apps.pop(client_guid, None)
            if app is None:
                return False
            self._invalidate_app_locked(app)
            return True

    def invalidate_app_tokens(self, client_guid: str) -> bool:
        """``DELETE /oauth_client_apps/{guid}/tokens``: all codes and tokens issued so far die."""
        with self.lock:
            app = self.apps.get(client_guid)
            if app is None:
                return False
            self._invalidate_app_locked(app)
            return True

    def _invalidate_app_locked(self, app: ClientApp) -> None:
        app.tokens_invalid_before = time.time()
        app.invalid_before_seq = next(self._seq)
        self.revoke_all_tokens(client_guid=app.client_guid)

    def set_app_user(self, client_guid: str, user_id: str, active: bool) -> bool:
        """Activate (approve) or deactivate a user for an app; deactivation kills its tokens."""
        with self.lock:
            app = self.apps.get(client_guid)
            if app is None or user_id not in self.users:
                return False
            if active:
                app.activated_users.add(user_id)
            else:
                app.activated_users.discard(user_id)
                self.revoke_all_tokens(user_id=user_id, client_guid=client_guid)
            return True

    def is_app_user(self, client_guid: str, user_id: str) -> bool:
        with self.lock:
            app = self.apps.get(client_guid)
            return app is not None and user_id in app.activated_users

    # ----------------------------------------------------------------- browser sessions (UI host)
    def start_ui_session(self, user_id: str) -> str:
        with self.lock:
            sid = secrets.token_urlsafe(32)
            self._ui_sessions[digest(sid)] = user_id
            return sid

    def end_ui_session(self, sid: str | None) -> None:
        if sid:
            with self.lock:
                self._ui_sessions.pop(digest(sid), None)

    def ui_session_user(self, sid: str | None) -> User | None:
        if not sid:
            return None
        with self.lock:
            user = self.users.get(self._ui_sessions.get(digest(sid), ""))
            return user if user is not None and not user.is_disabled else None

    # ----------------------------------------------------------------- embed URLs and sessions
    def grant_embed_url(
        self, user_id: str, target: str, session_length: int, force_logout_login: bool
    ) -> str:
        """The token of a new one-time embed URL for ``target`` (``create_embed_url_as_me``)."""
        with self.lock:
            ttl = self._config.embed_url_ttl
            return self._embed.grant(user_id, target, session_length, force_logout_login, ttl)

    def redeem_embed_url(self, token: str, target: str) -> EmbedGrant | None:
        """The grant of an embed URL on its first use within its lifetime, else ``None``."""
        with self.lock:
            grant = self._embed.redeem(token, target)
            user = self.users.get(grant.user_id) if grant else None
            return grant if user is not None and not user.is_disabled else None

    def start_embed_session(self, user_id: str, session_length: int) -> str:
        with self.lock:
            return self._embed.start_session(user_id, session_length)

    def embed_session_user(self, sid: str | None) -> User | None:
        with self.lock:
            user = self.users.get(self._embed.session_user_id(sid) or "")
            return user if user is not None and not user.is_disabled else None

    # ----------------------------------------------------------------- authorization codes
    def issue_code(
        self, client_guid: str, redirect_uri: str, challenge: bytes, user_id: str
    ) -> str:
        with self.lock:
            code = secrets.token_urlsafe(24)
            self._codes[digest(code)] = AuthCode(
                client_guid, redirect_uri, challenge, user_id, time.time(), next(self._seq)
            )
            return code

    def exchange_code(
        self, client_id: str, redirect_uri: str, code: str, verifier: str
    ) -> dict[str, Any]:
        """The authorization_code grant, with every check Looker makes (see docs/emulator.md)."""
        from oauth_bridge.emulator.pkce import verifier_matches

        with self.lock:
            record = self._codes.get(digest(code))
            if record is None:
                raise OAuthError("invalid_grant", "The authorization code is invalid.")
            if record.used:
                # RFC 6749 section 4.1.2: a replayed code revokes what it issued the first time.
                if record.grant_id:
                    self._revoke_grant(record.grant_id)
                raise OAuthError("invalid_grant", "The authorization code was already used.")
            record.used = True
            if time.time() - record.created > self._config.code_ttl:
                raise OAuthError("invalid_grant", "The authorization code has expired.")
            if record.client_guid != client_id or record.redirect_uri != redirect_uri:
                raise OAuthError(
                    "invalid_grant", "client_id or redirect_uri do not match the authorization."
                )
            if not verifier_matches(verifier, record.challenge):
                raise OAuthError("invalid_grant", "The code_verifier does not match the challenge.")
            app = self.apps.get(client_id)
            if app is None or not app.enabled or record.seq < app.invalid_before_seq:
                raise OAuthError("invalid_grant", "The client application is not enabled.")
            self._check_user_for_app(record.user_id, app)
            record.grant_id = secrets.token_hex(8)
            return self._issue_oauth(record.user_id, app, redirect_uri, record.grant_id, True)

    def refresh(self, client_id: str, redirect_uri: str, refresh_token: str) -> dict[str, Any]:
        with self.lock:
            key = digest(refresh_token)
            record = self._refresh.get(key)
            if record is None:
                raise OAuthError("invalid_grant", "The refresh token is invalid or revoked.")
            if record.client_guid != client_id or record.redirect_uri != redirect_uri:
                raise OAuthError(
                    "invalid_grant", "client_id or redirect_uri do not match the refresh token."
                )
            if not self._config.refresh_enabled:
                raise OAuthError("invalid_grant", "The refresh token has expired.")
            app = self.apps.get(client_id)
            if app is None or not app.enabled or record.seq < app.invalid_before_seq:
                raise OAuthError("invalid_grant", "The client application is not enabled.")
            self._check_user_for_app(record.user_id, app)
            rotate = self._config.refresh_rotation
            if rotate:
                del self._refresh[key]
            return self._issue_oauth(record.user_id, app, redirect_uri, record.grant_id, rotate)

    def _check_user_for_app(self, user_id: str, app: ClientApp) -> None:
        user = self.users.get(user_id)
        if user is None or user.is_disabled:
            raise OAuthError("invalid_grant", "The user is disabled or deleted.")
        if user_id not in app.activated_users:
            raise OAuthError("invalid_grant", "The user is not activated for this application.")

    def _issue_oauth(
        self, user_id: str, app: ClientApp, redirect_uri: str, grant_id: str, with_refresh: bool
    ) -> dict[str, Any]:
        answer = self._issue_access(user_id, "oauth", client_guid=app.client_guid, grant=grant_id)
        if with_refresh:
            refresh = new_token()
            self._refresh[digest(refresh)] = RefreshRecord(
                user_id, app.client_guid, redirect_uri, grant_id, next(self._seq)
            )
            answer["refresh_token"] = refresh
        return answer

    def _issue_access(
        self,
        user_id: str,
        kind: str,
        *,
        client_guid: str | None = None,
        grant: str | None = None,
        api3_client_id: str | None = None,
    ) -> dict[str, Any]:
        token = new_token()
        ttl = self._config.token_ttl
        self._access[digest(token)] = AccessRecord(
            user_id, kind, time.time() + ttl, next(self._seq), client_guid, grant, api3_client_id
        )
        return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}

    # ----------------------------------------------------------------- API3 and sudo
    def api3_login(self, client_id: str, client_secret: str) -> dict[str, Any] | None:
        """``POST /api/4.0/login``: an access token (no refresh token) for API3 credentials."""
        with self.lock:
            for user in self.users.values():
                for cid, secret in user.api3:
                    if secrets.compare_digest(cid.encode(), client_id.encode()):
                        if not secrets.compare_digest(secret.encode(), client_secret.encode()):
                            return None
                        if user.is_disabled:
                            return None
                        return self._issue_access(user.id, "api3", api3_client_id=cid)
            return None

    def sudo_login(self, user_id: str) -> dict[str, Any] | None:
        with self.lock:
            user = self.users.get(user_id)
            if user is None or user.is_disabled:
                return None
            return self._issue_access(user_id, "sudo")

    # ----------------------------------------------------------------- bearer tokens
    def token_user(self, token: str) -> tuple[User, AccessRecord] | None:
        """Who a presented access token belongs to, if it is still good right now."""
        with self.lock:
            record = self._access.get(digest(token))
            if record is None or record.expires_at <= time.time():
                return None
            user = self.users.get(record.user_id)
            if user is None or user.is_disabled:
                return None
            if record.client_guid is not None:
                app = self.apps.get(record.client_guid)
                if app is None or not app.enabled or record.seq < app.invalid_before_seq:
                    return None
                if user.id not in app.activated_users:
                    return None
            return user, record

    def is_token_valid(self, access_token: str) -> bool:
        return self.token_user(access_token) is not None

    def logout(self, access_token: str) -> bool:
        """Destroy the access token and, for OAuth, its refresh token (its whole grant)."""
        with self.lock:
            if self.token_user(access_token) is None:
                return False
            record = self._access.pop(digest(access_token))
            if record.grant_id:
                self._revoke_grant(record.grant_id)
            return True

    def revoke_access_token(self, access_token: str) -> bool:
        """Forget one access token but keep its refresh token, as an early expiry would."""
        with self.lock:
            return self._access.pop(digest(access_token), None) is not None

    def _revoke_grant(self, grant_id: str) -> None:
        for key in [k for k, r in self._access.items() if r.grant_id == grant_id]:
            del self._access[key]
        for key in [k for k, r in self._refresh.items() if r.grant_id == grant_id]:
            del self._refresh[key]

    def revoke_all_tokens(self, user_id: str | None = None, client_guid: str | None = None) -> int:
        """Revoke access and refresh tokens matching both filters (none: all); returns a count."""
        with self.lock:

            def hit(uid: str, guid: str | None) -> bool:
                return (user_id is None or uid == user_id) and (
                    client_guid is None or guid == client_guid
                )

            access = [k for k, r in self._access.items() if hit(r.user_id, r.client_guid)]
            refresh = [k for k, r in self._refresh.items() if hit(r.user_id, r.client_guid)]
            for key in access:
                del self._access[key]
            for key in refresh:
                del self._refresh[key]
            return len(access) + len(refresh)

    def is_admin(self, user: User) -> bool:
        return user.role == ADMIN
