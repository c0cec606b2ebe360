// Opens a Looker dashboard: its tiles placed as its layout places them, each tile's query run
// through the bridge as the signed-in user and drawn as its `vis_config` asks.
//
// Looker's dashboards lay tiles out on a "newspaper" grid of 24 columns
// (`dashboard_layouts[].dashboard_layout_components`: row, column, width, height); the page's
// CSS grid uses the same numbers. A tile whose query the user may not run (Looker answers 403 or
// 404) says so in place, and the rest of the dashboard still draws.

import { draw } from "./vis.js";

const GRID_ROW_PX = 40;
const GRID_GAP_PX = 10;
/** The tile's title and padding, which the chart's height leaves room for. */
const TILE_CHROME_PX = 80;

function activeLayout(dashboard) {
  const layouts = Array.isArray(dashboard.dashboard_layouts) ? dashboard.dashboard_layouts : [];
  const empty = { dashboard_layout_components: [] };
  return layouts.find((layout) => layout.active) || layouts[0] || empty;
}

function integer(value, fallback) {
  const number = Number(value);
  return Number.isInteger(number) && number >= 0 && number <= 1000 ? number : fallback;
}

/** Where each element sits, by element id; elements without a component stack at the end. */
function placements(dashboard) {
  const byElement = new Map();
  for (const component of activeLayout(dashboard).dashboard_layout_components || []) {
    byElement.set(String(component.dashboard_element_id), {
      row: integer(component.row, 0),
      column: Math.min(integer(component.column, 0), 23),
      width: Math.min(Math.max(integer(component.width, 8), 1), 24),
      height: Math.max(integer(component.height, 6), 2),
    });
  }
  return byElement;
}

function tileShell(element, place) {
  const tile = document.createElement("section");
  tile.className = "tile";
  tile.dataset.elementId = String(element.id);
  tile.style.setProperty("--tile-column", String(place.column + 1));
  tile.style.setProperty("--tile-width", String(place.width));
  tile.style.setProperty("--tile-row", String(place.row + 1));
  tile.style.setProperty("--tile-height", String(place.height));
  const heading = document.createElement("h3");
  heading.className = "tile-title";
  heading.textContent = element.title || element.title_text || `Tile ${element.id}`;
  const body = document.createElement("div");
  body.className = "tile-body";
  body.setAttribute("aria-busy", "true");
  tile.append(heading, body);
  return { tile, body, title: heading.textContent };
}

function message(body, text, kind) {
  const p = document.createElement("p");
  p.className = `tile-message ${kind}`;
  p.textContent = text;
  body.replaceChildren(p);
  body.closest(".tile").dataset.state = kind;
}

/**
 * Draws `dashboard` (Looker's Dashboard object, read through the bridge) into `grid`; `run`
 * runs a query id as json_detail and rejects with an error carrying `status`. Resolves when
 * every tile has drawn or said why not.
 */
export async function renderDashboard(grid, dashboard, run, { isCurrent, onExpired }) {
  const places = placements(dashboard);
  const elements = Array.isArray(dashboard.dashboard_elements) ? dashboard.dashboard_elements : [];
  let nextRow = Math.max(0, ...[...places.values()].map((p) => p.row + p.height));
  const tiles = elements.map((element) => {
    let place = places.get(String(element.id));
    if (!place) {
      place = { row: nextRow, column: 0, width: 24, height: 6 };
      nextRow += 6;
    }
    return { element, place, ...tileShell(element, place) };
  });
  grid.replaceChildren(...tiles.map((t) => t.tile));
  await Promise.all(
    tiles.map(async ({ element, place, body, title }) => {
      const query = element.query || (element.look && element.look.query);
      const queryId = element.query_id || (query && query.id);
      if (!queryId) {
        message(body, "This tile has no query to run.", "empty");
        return;
      }
      try {
        const detail = await run(queryId);
        if (!isCurrent()) return;
        const vis = (query && query.vis_config) || {};
        detail.vis_config = vis;
        body.removeAttribute("aria-busy");
        const type = String(vis.type || "looker_grid");
        const height = place.height * (GRID_ROW_PX + GRID_GAP_PX) - GRID_GAP_PX - TILE_CHROME_PX;
        await draw(body, type, detail, { height, title });
        body.closest(".tile").dataset.state = "drawn";
      } catch (error) {
        if (!isCurrent()) return;
        body.removeAttribute("aria-busy");
        if (error && error.status === 401) {
          onExpired();
        } else if (error && (error.status === 403 || error.status === 404)) {
          message(body, "You may not see this tile's data.", "refused");
        } else {
          const reason = error instanceof Error ? error.message : String(error);
          message(body, `Could not run this tile: ${reason}`, "failed");
        }
      }
    }),
  );
}
