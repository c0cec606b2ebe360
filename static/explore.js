// An ad-hoc query: pick a model and an explore, tick dimensions and measures, run it as the
// signed-in user through Looker's run_inline_query, and see a chart and a table.
//
// The field lists come from Looker (`lookml_model_explore`), so a user sees only what their
// role may. Running needs Looker's `explore` permission; a role without it (the Viewer) gets
// Looker's 403, which is shown as a message, not as a broken page.

import { draw, resultTable } from "./vis.js";

const QUERY_LIMIT = "500";

/** The chart an ad-hoc result is drawn as, as Looker's explore would pick one. */
function chartFor(dimensions, measures) {
  if (!measures.length) return "looker_grid";
  if (!dimensions.length) return "single_value";
  if (dimensions.length > 1) return "looker_grid";
  return String(dimensions[0].type || "").startsWith("date") ? "looker_line" : "looker_column";
}

function option(value, text) {
  const element = document.createElement("option");
  element.value = value;
  element.textContent = text;
  return element;
}

function fieldChoice(field) {
  const label = document.createElement("label");
  label.className = "field-choice";
  const box = document.createElement("input");
  box.type = "checkbox";
  box.value = String(field.name);
  const text = document.createElement("span");
  text.textContent = String(field.label_short || field.label || field.name);
  label.append(box, text);
  return label;
}

/**
 * Wires the explore panel. `call(path, {method, body})` calls the bridge and rejects with an
 * error carrying `status`; `onExpired` is called on a 401.
 */
export function setUpExplore(view, call, { onExpired, setStatus }) {
  let explore = null;
  let run = 0;

  function say(text, kind = "") {
    view.message.textContent = text;
    view.message.className = `notice ${kind}`.trim();
    view.message.hidden = !text;
  }

  function failed(error, doing) {
    if (error && error.status === 401) {
      onExpired();
      return;
    }
    if (error && error.status === 403) {
      say(`Looker refused to run this query: ${error.message} Your Looker role may not explore ` +
          "(Looker's explore permission); ask an admin if you need it.", "warning");
      return;
    }
    say(`Could not ${doing}: ${error instanceof Error ? error.message : error}`, "error");
  }

  async function loadExplore() {
    explore = null;
    view.dimensions.replaceChildren();
    view.measures.replaceChildren();
    const [model, name] = String(view.explore.value).split("::");
    if (!model || !name) return;
    try {
      const path = `/api/4.0/lookml_models/${encodeURIComponent(model)}/explores/` +
        `${encodeURIComponent(name)}?fields=name,model_name,fields`;
      explore = await call(path);
      const fields = (explore && explore.fields) || {};
      view.dimensions.replaceChildren(...(fields.dimensions || []).map(fieldChoice));
      view.measures.replaceChildren(...(fields.measures || []).map(fieldChoice));
    } catch (error) {
      failed(error, "read the explore");
    }
  }

  async function load() {
    say("");
    view.result.hidden = true;
    try {
      const models = await call("/api/4.0/lookml_models?fields=name,label,explores");
      const options = [];
      for (const model of Array.isArray(models) ? models : []) {
        for (const item of model.explores || []) {
          const text = `${model.label || model.name} › ${item.label || item.name}`;
          options.push(option(`${model.name}::${item.name}`, text));
        }
      }
      view.explore.replaceChildren(...options);
      await loadExplore();
    } catch (error) {
      failed(error, "list the models");
    }
  }

  function chosen(list) {
    return [...list.querySelectorAll("input:checked")].map((box) => box.value);
  }

  async function runQuery(event) {
    event.preventDefault();
    if (!explore) return;
    const dimensions = chosen(view.dimensions);
    const measures = chosen(view.measures);
    if (!dimensions.length && !measures.length) {
      say("Choose at least one dimension or measure.", "warning");
      return;
    }
    const mine = ++run;
    say("");
    view.run.disabled = true;
    setStatus("Running the query…");
    try {
      const body = {
        model: explore.model_name,
        view: explore.name,
        fields: [...dimensions, ...measures],
        limit: QUERY_LIMIT,
      };
      const detail = await call("/api/4.0/queries/run/json_detail", { method: "POST", body });
      if (mine !== run) return;
      const type = chartFor(detail.fields.dimensions, detail.fields.measures);
      view.result.hidden = false;
      view.result.dataset.visType = type;
      await draw(view.chart, type, detail, { height: 260, title: "Ad-hoc query" });
      const table = resultTable(detail, "Rows of the ad-hoc query");
      view.table.replaceChildren(table);
      setStatus(`Ran the query: ${detail.data.length} rows.`);
    } catch (error) {
      if (mine === run) {
        view.result.hidden = true;
        setStatus("");
        failed(error, "run the query");
      }
    } finally {
      view.run.disabled = false;
    }
  }

  view.explore.addEventListener("change", loadExplore);
  view.form.addEventListener("submit", runQuery);
  return { load };
}
