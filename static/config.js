// Where the bridge runs. `oauth-bridge demo` serves its own copy of this file with the
// bridge URL it started; this default fits `oauth-bridge serve` on its default port.
export const BRIDGE_URL = "http://localhost:8080";
