// The official Looker browser SDK (@looker/sdk, @looker/sdk-rtl), pointed at oauth_bridge.
//
// The browser holds no Looker token: the bridge's session cookie goes with every request
// (`credentials: "include"`) and the bridge adds the user's token on its side. The SDK's own
// BrowserTransport already sends the `x-looker-appid` header (sdk-rtl baseTransport.ts
// `initRequest`, header name `LookerAppId` in transport.ts), which is the non-simple header the
// bridge's CSRF rule asks for; this session only has to add the cookie.
import { Looker40SDK } from '@looker/sdk'
import { ApiSettings, AuthSession, BrowserTransport, DefaultSettings } from '@looker/sdk-rtl'

/** Calls go to `${bridgeUrl}/api/4.0/…` with the bridge's cookie; there is never a token here. */
export class BridgeSession extends AuthSession {
  constructor(settings, transport) {
    super(settings, transport || new BrowserTransport(settings))
    this.bridgeUrl = settings.base_url
    this.appId = settings.agentTag
  }

  // The bridge answers 401 JSON `{error: "not_authenticated", login_url}` when the session is
  // gone; the SDK passes that to the caller like any other error.
  isAuthenticated() {
    return true
  }

  async getToken() {
    return undefined
  }

  async authenticate(props) {
    props.credentials = 'include'
    props.headers = { ...(props.headers || {}), 'x-looker-appid': this.appId }
    return props
  }

  /** Ends the bridge session (which revokes the tokens at Looker); true when the bridge agreed. */
  async logout() {
    const response = await fetch(`${this.bridgeUrl}/auth/logout`, {
      method: 'POST',
      credentials: 'include',
      headers: { 'x-looker-appid': this.appId },
    })
    return response.ok
  }
}

/**
 * A Looker40SDK that talks to Looker through the bridge at `bridgeUrl` (its origin, e.g.
 * "https://bridge.example.com"). Options: `appId` (sent as X-Looker-AppId, default
 * "oauth-bridge-sdk"), `timeout` (seconds).
 */
export function createBridgeSdk(bridgeUrl, options = {}) {
  const base = String(bridgeUrl).replace(/\/+$/, '')
  const settings = new ApiSettings({
    ...DefaultSettings(),
    base_url: base,
    agentTag: options.appId || 'oauth-bridge-sdk',
    ...(options.timeout ? { timeout: options.timeout } : {}),
  })
  return new Looker40SDK(new BridgeSession(settings))
}

export { Looker40SDK } from '@looker/sdk'
export {
  ApiSettings,
  AuthSession,
  BrowserTransport,
  DefaultSettings,
  LookerSDKError,
  ProxySession,
  sdkOk,
} from '@looker/sdk-rtl'
