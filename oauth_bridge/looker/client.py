"""Talking to Looker on a user's behalf outside the proxy: the token endpoint, the user, logout.

Use :class:`LookerClient` from request handlers (it is thread-safe and shared by the app). The
OAuth protocol work (PKCE, authorization URL, token parsing) is Authlib's; Looker only differs in
wanting JSON at ``/api/token``, which :class:`LookerOAuth2Session` adds with the smallest override
of two private Authlib methods. That is why pyproject.toml pins Authlib to the minor versions
whose methods have the shape overridden here (tests/unit/test_authlib_pin.py checks it).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import requests
from authlib.common.urls import url_decode
from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.requests_client.oauth2_session import OAuthError

from oauth_bridge.config import Settings
from oauth_bridge.errors import UpstreamError, UpstreamTimeout
from oauth_bridge.models import TokenSet, UserInfo

log = logging.getLogger(__name__)

SCOPE = "cors_api"

REVOKE_PARALLELISM = 8
"""Revocations in flight at once when many sessions end together (logout everywhere)."""


class LookerOAuth2Session(OAuth2Session):  # type: ignore[misc]
    """Authlib's requests client, posting token requests as JSON as Looker's SDKs do.

    Looker's SDKs send a JSON body to ``/api/token`` (sdk-rtl ``oauthSession.ts``
    ``requestToken``); Authlib always form-encodes (``OAuth2Client._fetch_token`` and
    ``_http_post``). Both paths end in these two methods, so only the encoding changes here.
    Looker OAuth apps have no client secret, so no client authentication is sent: the
    ``client_id`` travels in the body, as in Looker's SDKs.

    ``transport``: a shared ``requests.Session`` that sends the token request instead of this
    object's own. Authlib keeps token state on the OAuth2Session, so each call still gets its
    own; only the keep-alive connections are shared, saving a TCP (and TLS) set-up per call.
    """

    def __init__(
        self, *args: Any, transport: requests.Session | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.transport = transport

    def _http_post(
        self,
        url: str,
        body: str | None = None,
        auth: Any = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        payload = dict(url_decode(body or ""))
        json_headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if self.transport is not None:
            # What OAuth2Session.request would add: the default timeout (no token to attach).
            kwargs.setdefault("timeout", self.default_timeout)
            return self.transport.post(
                url, data=json.dumps(payload), headers=json_headers, **kwargs
            )
        # withhold_token: this request obtains a token, it cannot carry one yet.
        return self.session.post(  # type: ignore[no-any-return]
            url, data=json.dumps(payload), headers=json_headers, withhold_token=True, **kwargs
        )

    def _fetch_token(
        self,
        url: str,
        body: str = "",
        headers: dict[str, str] | None = None,
        auth: Any = None,
        method: str = "POST",
        **kwargs: Any,
    ) -> Any:
        response = self._http_post(url, body=body, **kwargs)
        for hook in self.compliance_hook["access_token_response"]:
            response = hook(response)
        return self.parse_response_token(response)


class TokenRequestRejected(Exception):
    """Looker's token endpoint refused a code or refresh token (``invalid_grant`` and kin)."""

    def __init__(self, error: str, description: str | None = None) -> None:
        self.error = error
        self.description = description or ""
        super().__init__(f"{error}: {self.description}".rstrip(": "))


@dataclass(frozen=True)
class AuthorizationRequest:
    """What a pending login must remember, and where to send the browser."""

    url: str
    state: str
    code_verifier: str


class LookerClient:
    """Server-to-Looker calls made on behalf of signed-in users."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.token_url = f"{settings.looker_api_url}/api/token"
        self.authorize_url = f"{settings.looker_url}/auth"
        self.timeout = (settings.upstream_connect_timeout, settings.upstream_read_timeout)
        # A refresh runs under the session's refresh lock, which expires after
        # refresh_lock_timeout: the token call must give up well before that.
        self.token_timeout = (
            settings.upstream_connect_timeout,
            min(settings.upstream_read_timeout, max(1.0, settings.refresh_lock_timeout / 2)),
        )
        # One keep-alive pool for every call to Looker, shared by all users' requests: it must
        # never keep a cookie Looker sets for one user and send it with another's call.
        self._http = requests.Session()
        self._http.headers["Accept"] = "application/json"
        self._http.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))

    def close(self) -> None:
        self._http.close()

    def _oauth(self) -> LookerOAuth2Session:
        return LookerOAuth2Session(
            client_id=self.settings.client_id,
            redirect_uri=self.settings.redirect_uri,
            scope=SCOPE,
            code_challenge_method="S256",
            token_endpoint_auth_method="none",  # noqa: S106 - a method name, not a secret
            default_timeout=self.token_timeout,
            transport=self._http,
        )

    def authorization_request(self) -> AuthorizationRequest:
        """A fresh state and PKCE verifier, and the URL of Looker's ``/auth`` page.

        The verifier is 33 random bytes in base64url (44 characters), as Looker's own SDK makes
        it: a byte length that is not a power of two, because Looker may read a 2^n-length
        verifier as hex (sdk-rtl ``oauthSession.ts``, "hex backwards compatibility").
        """
        verifier = secrets.token_urlsafe(33)
        state = secrets.token_urlsafe(32)
        with self._oauth() as oauth:
            url, _ = oauth.create_authorization_url(
                self.authorize_url, state=state, code_verifier=verifier
            )
        return AuthorizationRequest(url=url, state=state, code_verifier=verifier)

    def exchange_code(self, code: str, code_verifier: str) -> TokenSet:
        """Trade an authorization code for tokens at ``/api/token``."""
        with self._oauth() as oauth:
            token = self._token_call(
                lambda: oauth.fetch_token(
                    self.token_url,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                    client_id=self.settings.client_id,
                )
            )
        return _token_set(token, previous_refresh_token=None)

    def refresh(self, refresh_token: str) -> TokenSet:
        """Use a refresh token; Looker may omit a new one, then the old one stays valid."""
        with self._oauth() as oauth:
            token = self._token_call(
                lambda: oauth.refresh_token(
                    self.token_url,
                    refresh_token=refresh_token,
                    client_id=self.settings.client_id,
                    redirect_uri=self.settings.redirect_uri,
                )
            )
        return _token_set(token, previous_refresh_token=refresh_token)

    def _token_call(self, call: Any) -> dict[str, Any]:
        try:
            token = call()
        except OAuthError as exc:
            raise TokenRequestRejected(str(exc.error), exc.description) from None
        except requests.Timeout:
            raise UpstreamTimeout("Looker's token endpoint did not answer in time.") from None
        except (requests.RequestException, ValueError):
            raise UpstreamError("Looker's token endpoint could not be reached.") from None
        if not isinstance(token, dict) or not token.get("access_token"):
            raise UpstreamError("Looker's token endpoint answered without an access token.")
        return token

    def current_user(self, access_token: str) -> UserInfo:
        """``GET /api/4.0/user``: who the token belongs to."""
        response = self._call("GET", "/api/4.0/user", access_token)
        if response.status_code != 200:
            raise UpstreamError(f"Looker answered {response.status_code} for the signed-in user.")
        try:
            body = response.json()
            user_id = str(body["id"])
        except (ValueError, KeyError, TypeError):
            raise UpstreamError("Looker answered an unreadable user.") from None
        display = body.get("display_name") or " ".join(
            part for part in (body.get("first_name"), body.get("last_name")) if part
        )
        return UserInfo(id=user_id, display_name=display or "", email=body.get("email") or "")

    def revoke(self, access_token: str) -> bool:
        """``DELETE /api/logout``: Looker destroys the access token and its refresh token.

        Returns whether Looker confirmed it; failures are logged, never raised, because a
        logout must end the local session even when Looker is unreachable.
        """
        try:
            response = self._call("DELETE", "/api/logout", access_token)
        except (UpstreamError, UpstreamTimeout) as exc:
            log.warning("could not revoke the token at Looker: %s", exc.message)
            return False
        # 404 means Looker no longer knows the token: it is as revoked as it gets.
        return response.status_code in (200, 204, 404)

    def revoke_grant(self, tokens: TokenSet) -> bool:
        """End a whole grant at Looker, also when its access token has already expired.

        ``DELETE /api/logout`` needs a live access token; an expired one is first traded for a
        new one with the refresh token (Looker's logout then destroys both). A refresh Looker
        refuses means the grant is already dead. Never raises, as :meth:`revoke`.
        """
        if tokens.expires_at > time.time() or not tokens.refresh_token:
            return self.revoke(tokens.access_token)
        try:
            fresh = self.refresh(tokens.refresh_token)
        except TokenRequestRejected:
            return True  # Looker no longer honours the refresh token: nothing left to end
        except (UpstreamError, UpstreamTimeout) as exc:
            log.warning("could not revoke a grant at Looker: %s", exc.message)
            return False
        return self.revoke(fresh.access_token)

    def revoke_grants(self, grants: Sequence[TokenSet]) -> int:
        """End each grant at Looker (a few at a time); returns how many Looker confirmed.

        The session store hands over the grants of sessions it ends without their cookie
        (logout everywhere, the per-user session cap); see docs/security.md.
        """
        if not grants:
            return 0
        if len(grants) == 1:
            return int(self.revoke_grant(grants[0]))
        with ThreadPoolExecutor(max_workers=min(REVOKE_PARALLELISM, len(grants))) as pool:
            return sum(pool.map(self.revoke_grant, grants))

    def _call(self, method: str, path: str, access_token: str) -> requests.Response:
        try:
            return self._http.request(
                method,
                f"{self.settings.looker_api_url}{path}",
                headers={"Authorization": f"Bearer {access_token}"},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout:
            raise UpstreamTimeout() from None
        except requests.RequestException:
            raise UpstreamError() from None


def _token_set(token: dict[str, Any], previous_refresh_token: str | None) -> TokenSet:
    try:
        expires_in = float(token.get("expires_in") or 3600)
    except (TypeError, ValueError):
        expires_in = 3600.0
    return TokenSet(
        access_token=str(token["access_token"]),
        refresh_token=token.get("refresh_token") or previous_refresh_token,
        expires_at=time.time() + expires_in,
        expires_in=expires_in,
    )
