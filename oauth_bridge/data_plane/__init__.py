"""The nginx data plane: nginx carries ``/api/4.0/*`` bytes, the bridge decides who may send them.

In the default *embedded* mode the bridge itself forwards every API call
(:mod:`oauth_bridge.proxy`).
In *nginx* mode nginx terminates the browser's connection, asks the bridge's internal verify
endpoint (:mod:`.gate`, via ``auth_request``) whether and with which token a call may go, and then
streams it to Looker and back itself; anything the gate does not admit, and any 401 from Looker,
is handed to the embedded proxy, which answers it exactly as it always does.
:mod:`.nginx_config` writes that nginx configuration from the bridge's own settings
(``oauth-bridge nginx-config``); ``response_headers.js`` is the njs filter that keeps the
embedded mode's response-header allowlist and per-user caching rules. docs/operations.md shows
the layout and docs/proxy.md what nginx mode does differently.
"""
