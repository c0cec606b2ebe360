"""Everything that talks to one Looker instance, one object per concern.

- :mod:`.client`: :class:`LookerClient`, the OAuth client (authorization request, code exchange,
  refresh, revoke, current user) on the UI and API hosts.
- :mod:`.upstream`: :class:`LookerApi`, the API host's connection pool and request targets, which
  the proxy forwards through.
- :mod:`.registration`: registering the bridge as an OAuth client app through looker-sdk (import it
  only where needed: looker-sdk is slow to import and the app never needs it).

A second Looker instance is a second ``LookerClient`` and ``LookerApi`` built from its settings.
"""

from oauth_bridge.looker.client import AuthorizationRequest, LookerClient, TokenRequestRejected
from oauth_bridge.looker.upstream import LookerApi, Target

__all__ = ["AuthorizationRequest", "LookerApi", "LookerClient", "Target", "TokenRequestRejected"]
