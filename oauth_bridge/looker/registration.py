"""Registering the bridge with Looker as an OAuth client app, through the official looker-sdk.

Used by ``oauth-bridge register-client`` and the demo. The API3 admin credentials are passed in
code (never written to a ``looker.ini``) and never printed or logged. Import this module only where
it is needed (inside the function that registers): looker-sdk is slow to import, and neither the
bridge app, the emulator nor ``oauth-bridge --help`` should pay for it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import looker_sdk
from looker_sdk import error as sdk_error
from looker_sdk import models40
from looker_sdk.rtl import api_settings

log = logging.getLogger(__name__)


class ExplicitApiSettings(api_settings.ApiSettings):
    """looker-sdk settings given in code rather than read from a file or the environment."""

    def __init__(
        self, *, base_url: str, client_id: str, client_secret: str, verify_ssl: bool
    ) -> None:
        self._explicit = {
            "base_url": base_url,
            "client_id": client_id,
            "client_secret": client_secret,
            "verify_ssl": "true" if verify_ssl else "false",
        }
        super().__init__(filename="looker.ini", env_prefix=None)

    def read_config(self) -> Any:
        return dict(self._explicit)


class RegistrationError(Exception):
    """Registration failed for a reason the operator can fix; the message says what to do."""


def register_client(
    *,
    base_url: str,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    client_guid: str | None = None,
    verify_ssl: bool = True,
    display_name: str = "oauth_bridge",
    description: str = "Backend-for-frontend that calls the Looker API as the signed-in user.",
    on_reuse: Callable[[str], None] | None = None,
) -> str:
    """Register (or update) the OAuth client app and return its client_guid.

    Idempotent: with ``client_guid`` that app is updated (or registered under that guid); without
    one, an app that already has this redirect URI is reused and updated, so running the same
    command twice leaves one app. ``on_reuse`` hears a one-line note when an app is reused.
    Raises :class:`RegistrationError` with an actionable message for the usual mistakes.
    """
    sdk = looker_sdk.init40(
        config_settings=ExplicitApiSettings(
            base_url=base_url,
            client_id=client_id,
            client_secret=client_secret,
            verify_ssl=verify_ssl,
        )
    )
    body = models40.WriteOauthClientApp(
        redirect_uri=redirect_uri,
        display_name=display_name,
        description=description,
        enabled=True,
    )
    try:
        _sign_in(sdk, base_url)
        guid = client_guid or _existing_app(sdk, redirect_uri, on_reuse)
        if guid is None:
            guid = f"oauth-bridge-{uuid.uuid4()}"
            app = sdk.register_oauth_client_app(guid, body)
        else:
            try:
                sdk.oauth_client_app(guid, fields="client_guid")
            except sdk_error.SDKError as exc:
                if not _is_not_found(exc):
                    raise
                app = sdk.register_oauth_client_app(guid, body)
            else:
                app = sdk.update_oauth_client_app(guid, body)
    except sdk_error.SDKError as exc:
        if _is_html(exc):
            raise RegistrationError(_NOT_THE_API_HOST.format(base_url=base_url)) from None
        raise
    finally:
        if sdk.auth.is_authenticated:
            try:
                sdk.auth.logout()
            except sdk_error.SDKError:
                log.warning("could not end the admin API session at Looker")
    return str(app.client_guid or guid)


_NOT_THE_API_HOST = (
    "{base_url} answered with a web page, not the Looker API: set LOOKERSDK_BASE_URL to the API "
    "host (for example https://example.looker.com:19999, or https://example.looker.com on Looker "
    "(Google Cloud core); oauth-bridge emulator prints its API URL)"
)


_UNREACHABLE = (
    "Failed to establish a new connection",
    "NameResolutionError",
    "Max retries exceeded",
)


def _sign_in(sdk: Any, base_url: str) -> None:
    """Log in with the API3 credentials now, so a refusal is told apart from what follows.

    Looker's ``POST /api/4.0/login`` answers 404 "Not found" for an unknown client_id or a wrong
    secret (shared looker/NOTES.md, "Errors"; the SDK's own error then says only "Not found").
    """
    try:
        sdk.auth.authenticate({})
    except sdk_error.SDKError as exc:
        if any(sign in str(exc) for sign in _UNREACHABLE):
            raise RegistrationError(
                f"could not reach Looker at {base_url} (no connection): check LOOKERSDK_BASE_URL "
                "and that this machine can reach it"
            ) from None
        if _is_html(exc):
            raise RegistrationError(_NOT_THE_API_HOST.format(base_url=base_url)) from None
        if _is_not_found(exc):
            raise RegistrationError(
                f"Looker at {base_url} refused the API3 credentials (its login answers 'Not found' "
                "for an unknown client_id or a wrong secret): check LOOKERSDK_CLIENT_ID and "
                "LOOKERSDK_CLIENT_SECRET (an Admin's API3 keys, from Admin > Users > Edit Keys)"
            ) from None
        raise


def _existing_app(
    sdk: Any, redirect_uri: str, on_reuse: Callable[[str], None] | None
) -> str | None:
    """The guid of an app that already has ``redirect_uri``, if there is one.

    Only an Admin may list OAuth client apps; Looker answers 'Not found' to anyone else.
    """
    try:
        apps = sdk.all_oauth_client_apps(fields="client_guid,redirect_uri")
    except sdk_error.SDKError as exc:
        if _is_not_found(exc) or "403" in str(exc):
            raise RegistrationError(
                "the API3 credentials are valid but their user may not manage OAuth client apps "
                "(Looker answers 'Not found' to users without the Admin role): use an Admin's "
                "API3 keys"
            ) from None
        raise
    same = sorted(str(a.client_guid) for a in apps if a.redirect_uri == redirect_uri)
    if not same:
        return None
    note = f"reusing the OAuth client app {same[0]}, which already has this redirect URI"
    if len(same) > 1:
        note += f" (others with it too: {', '.join(same[1:])}; delete them in Admin > OAuth)"
    log.info(note)
    if on_reuse is not None:
        on_reuse(note)
    return same[0]


def _is_html(exc: Exception) -> bool:
    text = str(exc).lstrip().lower()
    return "<html" in text[:2000] or "<!doctype" in text[:2000]


def _is_not_found(exc: Exception) -> bool:
    text = str(exc)
    return "404" in text or "Not found" in text
