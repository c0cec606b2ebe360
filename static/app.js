// The demo SPA: signs in through oauth_bridge and calls the Looker API as the signed-in user.
//
// Everything goes to the bridge with `credentials: "include"`, so the bridge's HttpOnly session
// cookie travels and this code never sees a token. Calls that need the CSRF rule carry the
// non-simple `X-Looker-AppId` header (as the official Looker browser SDK does). Everything the
// bridge or Looker returns is treated as untrusted text: it is only ever set with textContent.

import { BRIDGE_URL } from "./config.js";
import { renderDashboard } from "./dashboard.js";
import { setUpExplore } from "./explore.js";
import { draw, resultTable } from "./vis.js";
import { isFramed, PopupBlockedError, signInWithPopup } from "./vendor/looker-bridge-sdk.js";

const APP_ID = "oauth-bridge-demo";
const RESULT_LIMIT = 100;
const LIST_FIELDS = "id,title,description";

/** An answer from the bridge that was not a success, in the bridge's JSON error shape. */
class BridgeError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "BridgeError";
    this.status = status;
    this.code = code;
  }
}

const $ = (id) => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`missing #${id}`);
  return element;
};

const view = {
  account: $("account"),
  userName: $("user-name"),
  userEmail: $("user-email"),
  signOut: $("sign-out"),
  status: $("status"),
  error: $("error"),
  signedOut: $("signed-out"),
  signedOutTitle: $("signed-out-title"),
  signedOutText: $("signed-out-text"),
  signIn: $("sign-in"),
  switchUser: $("switch-user"),
  lookerEmail: $("looker-email"),
  lookerLogout: $("looker-logout"),
  expired: $("expired"),
  expiredTitle: $("expired-title"),
  signInAgain: $("sign-in-again"),
  ownTab: $("own-tab"),
  ownTabLink: $("own-tab-link"),
  content: $("content"),
  looks: $("looks"),
  looksCount: $("looks-count"),
  dashboards: $("dashboards"),
  dashboardsCount: $("dashboards-count"),
  result: $("result"),
  resultTitle: $("result-title"),
  resultSummary: $("result-summary"),
  resultToggle: $("result-toggle"),
  showChart: $("show-chart"),
  showTable: $("show-table"),
  resultChart: $("result-chart"),
  resultTableRegion: $("result-table-region"),
  dashboard: $("dashboard"),
  dashboardTitle: $("dashboard-title"),
  dashboardDescription: $("dashboard-description"),
  dashboardGrid: $("dashboard-grid"),
  bridgeUrl: $("bridge-url"),
};

const explore = setUpExplore(
  {
    form: $("explore-form"),
    explore: $("explore-choice"),
    dimensions: $("explore-dimensions"),
    measures: $("explore-measures"),
    run: $("explore-run"),
    message: $("explore-message"),
    result: $("explore-result"),
    chart: $("explore-chart"),
    table: $("explore-table"),
  },
  callBridge,
  {
    // a call still on its way when the user signed out answers 401: that is no expiry
    onExpired: () => {
      if (!view.content.hidden) showExpired();
    },
    setStatus: (text) => setStatus(text),
  },
);

let runCounter = 0;
/** Who Looker itself knows this browser as, kept from the last session answer (see signOut). */
let lookerAccount = null;

async function readJson(response) {
  const type = response.headers.get("Content-Type") || "";
  if (!type.includes("json")) return null;
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/**
 * Calls the bridge. `csrf` adds the non-simple header the bridge requires on /api/ calls and
 * on sign-out; plain GETs of /auth/session stay "simple" requests and need no preflight.
 */
async function callBridge(path, { method = "GET", csrf = true, body = undefined } = {}) {
  const headers = { Accept: "application/json" };
  if (csrf) headers["X-Looker-AppId"] = APP_ID;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(`${BRIDGE_URL}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "include",
      cache: "no-store",
      redirect: "error",
    });
  } catch {
    throw new BridgeError(0, "network_error", "The bridge could not be reached. Is it running?");
  }
  if (response.status === 204) return null;
  const answer = await readJson(response);
  if (!response.ok) {
    const code = (answer && answer.error) || "http_error";
    const message = (answer && answer.message) || `The bridge answered ${response.status}.`;
    throw new BridgeError(response.status, code, message);
  }
  return answer;
}

function loginUrl() {
  // Come back to this page, without any query (such as a previous auth_error).
  const returnTo = `${window.location.origin}${window.location.pathname}`;
  return `${BRIDGE_URL}/auth/login?return_to=${encodeURIComponent(returnTo)}`;
}

/**
 * In a frame the top-level sign-in cannot work (Looker refuses to be framed, and the cookie
 * would land outside this frame's partition): sign in through the bridge's popup instead.
 */
async function signInFromFrame(event) {
  event.preventDefault();
  const link = event.currentTarget;
  clearError();
  view.ownTab.hidden = true;
  let popup;
  try {
    popup = signInWithPopup(BRIDGE_URL, { appId: APP_ID }); // opens the window at once
  } catch (error) {
    popup = Promise.reject(error);
  }
  link.setAttribute("aria-disabled", "true");
  setStatus("Signing in in the window that opened…");
  try {
    await popup;
    await start();
  } catch (error) {
    setStatus("");
    if (error instanceof PopupBlockedError) {
      showError(error.message);
      view.ownTab.hidden = false;
    } else {
      showError(error instanceof Error ? error.message : String(error));
    }
  } finally {
    link.removeAttribute("aria-disabled");
  }
}

function setStatus(text) {
  view.status.textContent = text;
}

function showError(text) {
  view.error.textContent = text;
  view.error.hidden = false;
}

function clearError() {
  view.error.textContent = "";
  view.error.hidden = true;
}

function showOnly(section) {
  for (const candidate of [view.signedOut, view.expired, view.content]) {
    candidate.hidden = candidate !== section;
  }
  view.account.hidden = section !== view.content;
}

function showSignedOut(title, text) {
  view.signedOutTitle.textContent = title;
  if (text) view.signedOutText.textContent = text;
  showOnly(view.signedOut);
}

function showExpired() {
  runCounter += 1; // drop any result still on its way
  clearError();
  setStatus(""); // the panel says it; its heading takes the focus so screen readers read it
  showOnly(view.expired);
  view.expiredTitle.focus();
}

/** One handler for failures of signed-in calls: a 401 means the session is over. */
function handleFailure(error, doing) {
  if (error instanceof BridgeError && error.status === 401) {
    showExpired();
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  showError(`Could not ${doing}: ${message}`);
  setStatus("");
}

function byTitle(a, b) {
  return String(a.title || "").localeCompare(String(b.title || ""));
}

function describedItem(item, kind) {
  const li = document.createElement("li");
  li.className = "item";
  const text = document.createElement("div");
  text.className = "item-text";
  const title = document.createElement("span");
  title.className = "item-title";
  title.textContent = item.title || `Untitled ${kind} ${item.id}`;
  text.append(title);
  if (item.description) {
    const description = document.createElement("span");
    description.className = "item-description";
    description.textContent = item.description;
    text.append(description);
  }
  li.append(text);
  return li;
}

function renderLooks(looks) {
  view.looks.replaceChildren();
  view.looksCount.textContent = `(${looks.length})`;
  if (looks.length === 0) {
    const empty = document.createElement("li");
    empty.className = "item muted";
    empty.textContent = "No looks you may open.";
    view.looks.append(empty);
    return;
  }
  for (const look of [...looks].sort(byTitle)) {
    const li = describedItem(look, "look");
    li.dataset.lookId = String(look.id);
    const run = document.createElement("button");
    run.type = "button";
    run.className = "button small";
    run.textContent = "Run";
    run.setAttribute("aria-label", `Run look “${look.title || look.id}”`);
    run.addEventListener("click", () => runLook(look, run));
    li.append(run);
    view.looks.append(li);
  }
}

function renderDashboards(dashboards) {
  view.dashboards.replaceChildren();
  view.dashboardsCount.textContent = `(${dashboards.length})`;
  if (dashboards.length === 0) {
    const empty = document.createElement("li");
    empty.className = "item muted";
    empty.textContent = "No dashboards you may open.";
    view.dashboards.append(empty);
    return;
  }
  for (const dashboard of [...dashboards].sort(byTitle)) {
    const li = describedItem(dashboard, "dashboard");
    li.dataset.dashboardId = String(dashboard.id);
    const open = document.createElement("button");
    open.type = "button";
    open.className = "button small";
    open.textContent = "Open";
    open.setAttribute("aria-label", `Open dashboard “${dashboard.title || dashboard.id}”`);
    open.addEventListener("click", () => openDashboard(dashboard, open));
    li.append(open);
    view.dashboards.append(li);
  }
}

/** Shows the chart or the table of the look on screen; `chart` false shows the table. */
function showLookAs(chart) {
  view.resultChart.hidden = !chart;
  view.resultTableRegion.hidden = chart;
  view.showChart.setAttribute("aria-pressed", String(chart));
  view.showTable.setAttribute("aria-pressed", String(!chart));
}

async function renderLook(look, detail, vis) {
  const title = look.title || `Look ${look.id}`;
  const type = String((vis && vis.type) || "looker_grid");
  detail.vis_config = vis || {};
  const table = resultTable(detail, `Rows of the look “${title}”`);
  table.id = "result-table";
  view.resultTableRegion.replaceChildren(table);
  view.resultTitle.textContent = title;
  const rows = detail.data.length;
  const shown = rows === 1 ? "1 row" : `${rows} rows`;
  view.resultSummary.textContent =
    rows >= RESULT_LIMIT ? `${shown} (the first ${RESULT_LIMIT} only)` : shown;
  const chartable = type !== "looker_grid" && type !== "table";
  view.resultToggle.hidden = !chartable;
  view.result.hidden = false;
  showLookAs(chartable);
  if (chartable) await draw(view.resultChart, type, detail, { height: 280, title });
}

async function runLook(look, button) {
  const run = ++runCounter;
  clearError();
  button.disabled = true;
  view.result.setAttribute("aria-busy", "true");
  setStatus(`Running “${look.title || look.id}”…`);
  try {
    const id = encodeURIComponent(String(look.id));
    // the look's query says how Looker draws it; json_detail carries labels and formats
    const [saved, detail] = await Promise.all([
      callBridge(`/api/4.0/looks/${id}?fields=query`),
      callBridge(`/api/4.0/looks/${id}/run/json_detail?limit=${RESULT_LIMIT}`),
    ]);
    if (run !== runCounter) return;
    if (!detail || !Array.isArray(detail.data)) {
      throw new Error("Looker answered something that is not rows.");
    }
    view.dashboard.hidden = true;
    await renderLook(look, detail, saved && saved.query && saved.query.vis_config);
    setStatus(`Ran “${look.title || look.id}”: ${detail.data.length} rows.`);
  } catch (error) {
    if (run === runCounter) handleFailure(error, "run the look");
  } finally {
    button.disabled = false;
    view.result.removeAttribute("aria-busy");
  }
}

/** Runs a saved query as json_detail (rows with field metadata) through the bridge. */
function runQuery(queryId) {
  const id = encodeURIComponent(String(queryId));
  return callBridge(`/api/4.0/queries/${id}/run/json_detail`);
}

async function openDashboard(summary, button) {
  const run = ++runCounter;
  clearError();
  button.disabled = true;
  setStatus(`Opening “${summary.title || summary.id}”…`);
  try {
    const id = encodeURIComponent(String(summary.id));
    const dashboard = await callBridge(`/api/4.0/dashboards/${id}`);
    if (run !== runCounter) return;
    view.result.hidden = true;
    view.dashboardTitle.textContent = dashboard.title || `Dashboard ${dashboard.id}`;
    view.dashboardDescription.textContent = dashboard.description || "";
    view.dashboard.dataset.dashboardId = String(dashboard.id);
    view.dashboard.hidden = false;
    view.dashboard.setAttribute("aria-busy", "true");
    await renderDashboard(view.dashboardGrid, dashboard, runQuery, {
      isCurrent: () => run === runCounter,
      onExpired: showExpired,
    });
    if (run !== runCounter) return;
    view.dashboard.removeAttribute("aria-busy");
    view.dashboardTitle.focus();
    setStatus(`Opened “${dashboard.title || dashboard.id}”.`);
  } catch (error) {
    if (run === runCounter) handleFailure(error, "open the dashboard");
  } finally {
    button.disabled = false;
  }
}

async function loadContent() {
  setStatus("Loading your looks and dashboards…");
  const fields = encodeURIComponent(LIST_FIELDS);
  const [looks, dashboards] = await Promise.all([
    callBridge(`/api/4.0/looks?fields=${fields}`),
    callBridge(`/api/4.0/dashboards?fields=${fields}`),
  ]);
  renderLooks(Array.isArray(looks) ? looks : []);
  renderDashboards(Array.isArray(dashboards) ? dashboards : []);
  await explore.load();
  setStatus("");
}

async function signOut() {
  view.signOut.disabled = true;
  clearError();
  try {
    const answer = await callBridge("/auth/logout", { method: "POST" });
    view.result.hidden = true;
    view.dashboard.hidden = true;
    view.dashboardGrid.replaceChildren();
    view.looks.replaceChildren();
    view.dashboards.replaceChildren();
    showSignedOut("You are signed out", "Sign in again whenever you like.");
    offerLookerLogout();
    setStatus("You are signed out.");
    if (answer && answer.message) showError(answer.message);
  } catch (error) {
    handleFailure(error, "sign out");
  } finally {
    view.signOut.disabled = false;
  }
}

/** A Looker URL from the bridge, as an http(s) URL of Looker's home page, or null. */
function lookerHome(value) {
  try {
    const url = new URL(String(value));
    return url.protocol === "https:" || url.protocol === "http:" ? new URL("/", url).href : null;
  } catch {
    return null;
  }
}

/**
 * Signing out of the bridge ends its session and revokes its token, but not the user's own
 * Looker session, and Looker skips its approval page for an app already approved: "Sign in"
 * would come straight back as the same user. Say so, and link to Looker to log out there.
 */
function offerLookerLogout() {
  const home = lookerAccount && lookerHome(lookerAccount.url);
  view.switchUser.hidden = !home;
  if (!home) return;
  view.lookerEmail.textContent = lookerAccount.email || "the same user";
  view.lookerLogout.href = home;
}

function reportAuthError() {
  const params = new URLSearchParams(window.location.search);
  const code = params.get("auth_error");
  if (code === null) return;
  const safe = /^[a-z_]{1,64}$/.test(code) ? code : "unknown_error";
  showError(`Looker did not complete the sign-in (${safe}). You can try again.`);
  window.history.replaceState(null, "", window.location.pathname);
}

function wire() {
  view.bridgeUrl.textContent = BRIDGE_URL;
  view.signIn.href = loginUrl();
  view.signInAgain.href = loginUrl();
  view.ownTabLink.href = `${window.location.origin}${window.location.pathname}`;
  if (isFramed()) {
    view.signIn.addEventListener("click", signInFromFrame);
    view.signInAgain.addEventListener("click", signInFromFrame);
  }
  view.signOut.addEventListener("click", signOut);
  view.showChart.addEventListener("click", () => showLookAs(true));
  view.showTable.addEventListener("click", () => showLookAs(false));
  reportAuthError();
}

async function start() {
  let session;
  try {
    session = await callBridge("/auth/session", { csrf: false });
  } catch (error) {
    if (error instanceof BridgeError && error.status === 401) {
      showSignedOut("Welcome");
      setStatus("You are not signed in.");
      return;
    }
    showSignedOut("Welcome");
    handleFailure(error, "check your session");
    return;
  }
  const user = session.user || {};
  lookerAccount = { url: session.looker_url, email: user.email };
  view.switchUser.hidden = true;
  view.ownTab.hidden = true;
  view.userName.textContent = user.display_name || "Looker user";
  view.userEmail.textContent = user.email || "";
  showOnly(view.content);
  try {
    await loadContent();
  } catch (error) {
    handleFailure(error, "load your content");
  }
}

wire();
start();
