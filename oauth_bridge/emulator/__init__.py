"""A strict, in-memory Looker emulator: UI host (``/auth``, ``/login``) and API host.

Use it wherever a real Looker is not at hand: tests (:class:`EmulatorServer` on free ports), the
demo, and ``oauth-bridge emulator``. It follows Looker's documented behaviour; see
``docs/emulator.md`` for the facts it follows and their sources.
"""

from oauth_bridge.emulator.config import EmulatorConfig
from oauth_bridge.emulator.server import EmulatorServer, serve_forever
from oauth_bridge.emulator.state import EmulatorState

__all__ = ["EmulatorConfig", "EmulatorServer", "EmulatorState", "serve_forever"]
