"""Registering the bridge with Looker as an OAuth client app, through the official looker-sdk.

Used by ``oauth-bridge register-client`` and the demo. The API3 admin credentials are passed in
code (never written to a ``looker.ini``) and never printed or logged. Import this module only where
it is needed (inside the function that registers): looker-sdk is slow to import, and neither the
bridge app, the emulator nor ``oauth-bridge --help`` should pay for it.
"""

from __future__ import annotations

import logging
import uuid
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
) -> str:
    """Register (or update) the OAuth client app and return its client_guid.

    Idempotent: an app that already has this guid is updated to the given redirect URI and
    enabled; a new guid is made when none is given.
    """
    sdk = looker_sdk.init40(
        config_settings=ExplicitApiSettings(
            base_url=base_url,
            client_id=client_id,
            client_secret=client_secret,
            verify_ssl=verify_ssl,
        )
    )
    guid = client_guid or f"oauth-bridge-{uuid.uuid4()}"
    body = models40.WriteOauthClientApp(
        redirect_uri=redirect_uri,
        display_name=display_name,
        description=description,
        enabled=True,
    )
    try:
        try:
            sdk.oauth_client_app(guid)
        except sdk_error.SDKError as exc:
            if not _is_not_found(exc):
                raise
            app = sdk.register_oauth_client_app(guid, body)
        else:
            app = sdk.update_oauth_client_app(guid, body)
    finally:
        try:
            sdk.auth.logout()
        except sdk_error.SDKError:
            log.warning("could not end the admin API session at Looker")
    return str(app.client_guid or guid)


def _is_not_found(exc: Exception) -> bool:
    text = str(exc)
    return "404" in text or "Not found" in text
