// Draws one Looker result (run as `json_detail`) the way its query's `vis_config.type` asks.
//
// Charts are Vega-Lite specs rendered by vega-embed as SVG. Single values and tables are plain
// DOM. Labels come from the result's field metadata (`label_short`, `label`) and numbers from
// its `value_format_name`, so the chart says what Looker would. Every value from Looker is
// untrusted: it reaches the page only as data for Vega or as textContent.

import { expressionInterpreter, vegaEmbed } from "./vendor/charts.js";

/** Looker's built-in value formats as d3-format patterns (what Vega's axes and tooltips use). */
const D3_FORMATS = {
  decimal_0: ",.0f", decimal_1: ",.1f", decimal_2: ",.2f", decimal_3: ",.3f", decimal_4: ",.4f",
  usd_0: "$,.0f", usd: "$,.2f", id: ".0f",
  percent_0: ".0%", percent_1: ".1%", percent_2: ".2%", percent_3: ".3%", percent_4: ".4%",
};
const CHARTS = {
  looker_column: "bar",
  looker_bar: "bar",
  looker_line: "line",
  looker_area: "area",
  looker_pie: "arc",
};
const ROW_TOTAL = "$$$_row_total_$$$";
const NUMBER = new Intl.NumberFormat("en-US", { maximumFractionDigits: 6 });

function d3Format(field) {
  return (field && D3_FORMATS[field.value_format_name]) || ",~f";
}

function label(field) {
  return String((field && (field.label_short || field.label || field.name)) || "");
}

function cellValue(cell) {
  return cell && typeof cell === "object" && "value" in cell ? cell.value : cell;
}

/** The text Looker shows for a cell: its `rendered` form when it has one. */
export function cellText(cell) {
  if (cell === null || cell === undefined) return "";
  if (typeof cell === "object") {
    if ("rendered" in cell && cell.rendered != null) return String(cell.rendered);
    if ("value" in cell) return cellText(cell.value);
    return JSON.stringify(cell);
  }
  // a number without a format shows with thousands separators, as Looker shows it
  if (typeof cell === "number") return NUMBER.format(cell);
  return String(cell);
}

/** Long-form points {x, series, value, shown} of a result: one per row and measure (or pivot). */
function points(detail) {
  const dimension = detail.fields.dimensions[0];
  const measures = detail.fields.measures;
  const pivots = (detail.pivots || []).filter((p) => p.key !== ROW_TOTAL && !p.is_total);
  const out = [];
  for (const row of detail.data) {
    const x = dimension ? String(cellValue(row[dimension.name]) ?? "∅") : "";
    for (const measure of measures) {
      if (pivots.length) {
        for (const pivot of pivots) {
          const cell = (row[measure.name] || {})[pivot.key];
          out.push({ x, series: pivot.key, value: cellValue(cell), shown: cellText(cell) });
        }
      } else {
        const cell = row[measure.name];
        out.push({ x, series: label(measure), value: cellValue(cell), shown: cellText(cell) });
      }
    }
  }
  return out;
}

/** The Vega-Lite spec for `type`, or null when `type` is not a chart. */
export function chartSpec(type, detail, height) {
  const mark = CHARTS[type];
  if (!mark || !detail.fields.measures.length) return null;
  const dimension = detail.fields.dimensions[0];
  const measure = detail.fields.measures[0];
  const data = points(detail);
  const series = new Set(data.map((p) => p.series));
  const xTitle = label(dimension);
  const yTitle = detail.fields.pivots.length || series.size === 1 ? label(measure) : "";
  const format = d3Format(measure);
  const order = [...new Set(data.map((p) => p.x))];
  const axis = { labelAngle: 0, labelOverlap: "greedy" };
  const x = { field: "x", type: "ordinal", title: xTitle, sort: order, axis };
  const y = { field: "value", type: "quantitative", title: yTitle, axis: { format } };
  const color = series.size > 1 || mark === "arc"
    ? {
        field: mark === "arc" ? "x" : "series",
        type: "nominal",
        title: mark === "arc" ? xTitle : label(detail.fields.pivots[0]) || "Measure",
      }
    : { value: "#2c6fbb" };
  // the colour says the series; the tooltip adds the category and the value as Looker shows it
  const tooltip = [
    { field: "x", type: "ordinal", title: xTitle || "x" },
    { field: "shown", type: "nominal", title: label(measure) },
  ];
  const encoding = { color, tooltip };
  if (mark === "arc") {
    encoding.theta = { field: "value", type: "quantitative", stack: true, title: "Value" };
  } else if (type === "looker_bar") {
    encoding.y = { ...x };
    encoding.x = y;
  } else {
    encoding.x = x;
    encoding.y = y;
    if (mark === "bar" && series.size > 1 && !stacked(detail)) {
      encoding.xOffset = { field: "series" };
    }
    if (mark !== "bar" && !stacked(detail)) encoding.y.stack = null;
  }
  if (mark === "bar" && type === "looker_bar" && series.size > 1 && !stacked(detail)) {
    encoding.yOffset = { field: "series" };
  }
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    data: { values: data },
    // lines and areas mark each point too, so every value has a mark (and a label) of its own
    mark: mark === "line" || mark === "area"
      ? { type: mark, point: true, tooltip: true }
      : { type: mark, tooltip: true },
    encoding,
    width: "container",
    height,
    autosize: { type: "fit", contains: "padding" },
    config: { view: { stroke: null }, axis: { labelFontSize: 11, titleFontSize: 12 } },
  };
}

function stacked(detail) {
  const vis = detail.vis_config || {};
  return vis.stacking === "normal" || vis.stacking === "percent";
}

function singleValue(element, detail) {
  const measure = detail.fields.measures[0] || detail.fields.dimensions[0];
  const first = detail.data[0] || {};
  const value = document.createElement("p");
  value.className = "single-value";
  value.textContent = measure ? cellText(first[measure.name]) || "∅" : "∅";
  const caption = document.createElement("p");
  caption.className = "single-value-label";
  caption.textContent = label(measure);
  element.replaceChildren(value, caption);
}

/** A table of the result, headed by the fields' labels, pivoted measures one column per key. */
export function resultTable(detail, caption) {
  const table = document.createElement("table");
  const captionElement = document.createElement("caption");
  captionElement.className = "visually-hidden";
  captionElement.textContent = caption;
  const { dimensions, measures } = detail.fields;
  const pivots = detail.pivots || [];
  const columns = dimensions.map((f) => ({
    title: f.label || f.name,
    get: (row) => row[f.name],
    numeric: f.is_numeric,
  }));
  for (const measure of measures) {
    const title = measure.label || measure.name;
    if (!pivots.length) {
      columns.push({ title, get: (row) => row[measure.name], numeric: true });
      continue;
    }
    for (const pivot of pivots) {
      const name = pivot.key === ROW_TOTAL ? "Row total" : pivot.key;
      const get = (row) => (row[measure.name] || {})[pivot.key];
      columns.push({ title: `${title} · ${name}`, get, numeric: true });
    }
  }
  const head = document.createElement("tr");
  for (const column of columns) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = column.title;
    if (column.numeric) th.className = "number";
    head.append(th);
  }
  const thead = document.createElement("thead");
  thead.append(head);
  const tbody = document.createElement("tbody");
  for (const row of detail.data) {
    const tr = document.createElement("tr");
    for (const column of columns) {
      const td = document.createElement("td");
      td.textContent = cellText(column.get(row));
      if (column.numeric) td.className = "number";
      tr.append(td);
    }
    tbody.append(tr);
  }
  table.append(captionElement, thead, tbody);
  return table;
}

/**
 * Draws `detail` into `element` as `type`; resolves when the drawing is on the page. The chart
 * is SVG, each mark labelled (ARIA) with its values, so what is drawn can be read back.
 */
export async function draw(element, type, detail, { height = 220, title = "" } = {}) {
  element.dataset.visType = type;
  if (type === "single_value") {
    singleValue(element, detail);
    return;
  }
  const spec = chartSpec(type, detail, height);
  if (!spec) {
    const scroll = document.createElement("div");
    scroll.className = "table-scroll";
    scroll.append(resultTable(detail, title));
    element.replaceChildren(scroll);
    return;
  }
  element.replaceChildren();
  const chart = document.createElement("div");
  chart.className = "chart";
  element.append(chart);
  await vegaEmbed(chart, spec, {
    renderer: "svg",
    actions: false,
    defaultStyle: false,
    ast: true,
    expr: expressionInterpreter,
    tooltip: false,
    description: title,
  });
}
