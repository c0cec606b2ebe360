// Vega-Lite through vega-embed: the charts the demo SPA draws Looker tiles with.
//
// One bundle, an ES module, so a page imports what it draws with and nothing else:
// `vegaEmbed(element, spec, options)` renders a Vega-Lite spec (the SPA builds the spec from
// the tile's vis_config and the result's field metadata). The renderer is SVG, so a test can
// read the drawn marks and the labels as the browser shows them.
export { default as vegaEmbed } from 'vega-embed'
export { version as vegaVersion } from 'vega'
export { version as vegaLiteVersion } from 'vega-lite'
// Vega compiles its expressions with `new Function` unless given an interpreter; with this one
// the page keeps a Content-Security-Policy without 'unsafe-eval' (vega-embed's `ast` and `expr`
// options, see the vega-interpreter README).
export { expressionInterpreter } from 'vega-interpreter'
