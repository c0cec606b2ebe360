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

// ---------------------------------------------------------------------------------------------
// Sign-in. At the top level the browser goes to the bridge's /auth/login and comes back. In a
// frame that cannot work (Looker's sign-in pages refuse to be framed, and a cookie set by a
// top-level page lands in the bridge's own cookie partition, not in the frame's), so a framed
// SPA signs in through a popup: the bridge's popup posts back a sealed one-time code, which
// only this frame can redeem, because only it holds the verifier the code was bound to; the
// redemption's answer sets the session cookie inside the frame's partition. docs/embedding.md.

const MESSAGE_TYPE = 'oauth_bridge:popup_login'
const DEFAULT_APP_ID = 'oauth-bridge-sdk'
const POPUP_FEATURES = 'popup,width=520,height=720'
const POPUP_TIMEOUT_MS = 10 * 60 * 1000 // the bridge keeps a sign-in under way 10 minutes

/** The browser refused to open the sign-in window (a popup blocker, or no user gesture). */
export class PopupBlockedError extends Error {
  constructor() {
    super(
      'The browser blocked the sign-in window. Allow pop-ups for this page and press Sign in ' +
        'again, or open the app in a tab of its own.',
    )
    this.name = 'PopupBlockedError'
    this.code = 'popup_blocked'
  }
}

/** The sign-in did not finish: the window was closed, Looker refused, or the code was not
 * redeemable. `code` is the bridge's or Looker's error code. */
export class SignInError extends Error {
  constructor(code, message) {
    super(message)
    this.name = 'SignInError'
    this.code = code
  }
}

/** Whether this document is inside a frame (where the top-level sign-in cannot work). */
export function isFramed() {
  try {
    return window.self !== window.top
  } catch {
    return true // a cross-origin top frame: certainly framed
  }
}

/** The bridge's top-level sign-in URL that comes back to `returnTo` (default: this page). */
export function loginUrl(bridgeUrl, returnTo) {
  const back = returnTo || `${window.location.origin}${window.location.pathname}`
  return `${trimmed(bridgeUrl)}/auth/login?return_to=${encodeURIComponent(back)}`
}

/**
 * Sign in the way that works where this page is: a popup when framed, else a top-level
 * redirect (which navigates away; the promise then never settles). Call it from a click.
 * Options: `appId`, `returnTo` (top level), `popup`: "auto" (default), "always" or "never".
 */
export function signIn(bridgeUrl, options = {}) {
  const mode = options.popup || 'auto'
  if (mode === 'always' || (mode === 'auto' && isFramed())) {
    return signInWithPopup(bridgeUrl, options)
  }
  window.location.assign(loginUrl(bridgeUrl, options.returnTo))
  return new Promise(() => {})
}

/**
 * Sign in through a popup and set the session cookie in this document's cookie partition.
 * Must be called from a user gesture (a click): the window is opened before anything else.
 * Resolves with the bridge's session answer (`{authenticated, user, expires_at}`); rejects
 * with PopupBlockedError or SignInError.
 */
export function signInWithPopup(bridgeUrl, options = {}) {
  const base = trimmed(bridgeUrl)
  const bridgeOrigin = new URL(base).origin
  const appId = options.appId || DEFAULT_APP_ID
  // Opened now, while the click's user activation lasts; pointed at the bridge once the
  // challenge is ready.
  const popup = window.open('about:blank', options.windowName || 'oauth_bridge_sign_in', POPUP_FEATURES)
  if (!popup) return Promise.reject(new PopupBlockedError())
  return (async () => {
    try {
      const verifier = randomVerifier()
      const challenge = await s256(verifier)
      const query = new URLSearchParams({ origin: window.location.origin, challenge })
      popup.location.href = `${base}/auth/popup/login?${query}`
      const code = await codeFrom(popup, bridgeOrigin, challenge, options.timeoutMs || POPUP_TIMEOUT_MS)
      const response = await fetch(`${base}/auth/popup/redeem`, {
        method: 'POST',
        credentials: 'include',
        cache: 'no-store',
        headers: { 'Content-Type': 'application/json', 'X-Looker-AppId': appId },
        body: JSON.stringify({ code, verifier }),
      })
      const answer = await response.json().catch(() => null)
      if (!response.ok) {
        throw new SignInError(
          (answer && answer.error) || 'http_error',
          (answer && answer.message) || `The bridge answered ${response.status}.`,
        )
      }
      // The browser may have refused the cookie (e.g. SameSite=Lax in a cross-site frame).
      const check = await fetch(`${base}/auth/session`, { credentials: 'include', cache: 'no-store' })
      if (check.status === 401) {
        throw new SignInError(
          'cookie_not_kept',
          "The browser did not keep the bridge's session cookie in this frame. A bridge " +
            'serving SPAs framed by another site needs OAUTH_BRIDGE_COOKIE_SAMESITE=None ' +
            '(which adds Partitioned) and https.',
        )
      }
      return answer
    } finally {
      if (!popup.closed) popup.close()
    }
  })()
}

function trimmed(url) {
  return String(url).replace(/\/+$/, '')
}

function base64url(bytes) {
  let text = ''
  for (const byte of bytes) text += String.fromCharCode(byte)
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function randomVerifier() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)))
}

async function s256(verifier) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))
  return base64url(new Uint8Array(digest))
}

/** The one-time code the popup posts, from that popup and the bridge's origin only. */
function codeFrom(popup, bridgeOrigin, challenge, timeoutMs) {
  return new Promise((resolve, reject) => {
    let closedSince = 0
    const finish = (action, value) => {
      window.removeEventListener('message', onMessage)
      clearInterval(watch)
      clearTimeout(deadline)
      action(value)
    }
    const onMessage = (event) => {
      if (event.source !== popup || event.origin !== bridgeOrigin) return
      const data = event.data
      if (!data || data.type !== MESSAGE_TYPE || data.challenge !== challenge) return
      if (typeof data.code === 'string') finish(resolve, data.code)
      else finish(reject, new SignInError(String(data.error || 'sign_in_failed'), signInFailure(data.error)))
    }
    // A closed window may still have a message on its way: give it a moment before giving up.
    const watch = setInterval(() => {
      if (!popup.closed) return
      closedSince = closedSince || Date.now()
      if (Date.now() - closedSince > 800) {
        finish(reject, new SignInError('popup_closed', 'The sign-in window was closed before the sign-in finished.'))
      }
    }, 200)
    const deadline = setTimeout(
      () => finish(reject, new SignInError('popup_timeout', 'The sign-in took too long; press Sign in again.')),
      timeoutMs,
    )
    window.addEventListener('message', onMessage)
  })
}

function signInFailure(code) {
  if (code === 'access_denied') return 'You declined the sign-in at Looker.'
  return `Looker did not complete the sign-in (${String(code || 'unknown error')}).`
}
