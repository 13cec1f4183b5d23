package reports

// htmlStyle is the page's stylesheet. Fonts are the reader's own (system-ui
// first); the charts ask for Liberation Sans, whose metrics gonum used to
// place their text, with Arial and Helvetica as metric-compatible fallbacks.
const htmlStyle = `
:root {
  --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --soft: #f6f8fa; --card: #fff;
  --pass: #1a7f37; --pass-bg: #dafbe1; --fail: #cf222e; --fail-bg: #ffebe9;
  --warn: #9a6700; --warn-bg: #fff8c5; --broken: #8250df; --broken-bg: #fbefff;
  --int: #bc4c00; --int-bg: #fff1e5; --accent: #0969da;
}
* { box-sizing: border-box; }
html { scroll-padding-top: 3.5rem; }
body { margin: 0; background: var(--soft); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", Arial, sans-serif; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 0.88em; }
.wrap { max-width: 1200px; margin: 0 auto; padding: 0 24px; }
h1, h2, h3, h4 { line-height: 1.25; }
h2 { font-size: 1.35rem; margin: 0 0 16px; }
h3 { font-size: 1.05rem; margin: 22px 0 8px; }
h4 { font-size: 0.95rem; margin: 0 0 4px; }

header.top { background: var(--card); border-top: 8px solid var(--muted); border-bottom: 1px solid var(--line); padding: 20px 0 16px; }
header.top.passed { border-top-color: var(--pass); }
header.top.failed { border-top-color: var(--fail); }
header.top.broken { border-top-color: var(--broken); }
header.top.interrupted { border-top-color: var(--int); }
.eyebrow { color: var(--muted); font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.08em; }
.headline { display: flex; align-items: center; gap: 18px; flex-wrap: wrap; }
h1 { font-size: 2rem; margin: 4px 0; }
.status { display: inline-block; font-size: 1.5rem; font-weight: 700; text-transform: uppercase; letter-spacing: 0.04em;
  padding: 4px 18px; border-radius: 8px; color: #fff; background: var(--muted); }
.status.passed { background: var(--pass); }
.status.failed { background: var(--fail); }
.status.broken { background: var(--broken); }
.status.interrupted { background: var(--int); }
.desc { margin: 4px 0; font-size: 1.05rem; }
.exit { margin: 6px 0; color: var(--muted); }
.exit b { color: var(--ink); }
pre.error { background: var(--fail-bg); color: #82071e; border: 1px solid #ffcecb; border-radius: 6px; padding: 10px 12px; white-space: pre-wrap; margin: 8px 0; }

dl.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 10px 24px; margin: 14px 0 0; }
dl.facts div.wide { grid-column: span 2; }
dl.facts dt { color: var(--muted); font-size: 0.78rem; text-transform: uppercase; letter-spacing: 0.05em; }
dl.facts dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
dl.facts.compact { grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); }
.hash { overflow-wrap: anywhere; }

nav { position: sticky; top: 0; z-index: 1; background: rgba(255,255,255,0.96); border-bottom: 1px solid var(--line); }
nav .wrap { display: flex; flex-wrap: wrap; gap: 2px 18px; padding-top: 8px; padding-bottom: 8px; }
nav a { color: var(--accent); text-decoration: none; font-size: 0.9rem; }

main.wrap { padding-top: 20px; padding-bottom: 20px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 20px 24px; margin: 0 0 20px; }
section.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 12px; background: none; border: 0; padding: 0; }
.figure { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
.figure .value { font-size: 1.45rem; font-weight: 700; font-variant-numeric: tabular-nums; }
.figure .label { color: var(--muted); font-size: 0.82rem; }

.badge { display: inline-block; font-size: 0.8rem; font-weight: 600; padding: 1px 9px; border-radius: 999px; background: var(--soft); color: var(--muted); border: 1px solid var(--line); }
.badge.passed { background: var(--pass-bg); color: var(--pass); border-color: #aceebb; }
.badge.failed { background: var(--fail-bg); color: var(--fail); border-color: #ffcecb; }
.badge.broken { background: var(--broken-bg); color: var(--broken); border-color: #ecd8ff; }
.badge.interrupted { background: var(--int-bg); color: var(--int); border-color: #ffd8b5; }

ul.assertions { list-style: none; padding: 0; margin: 0; }
ul.assertions li { display: flex; gap: 12px; padding: 10px 12px; border-radius: 8px; margin-bottom: 8px; border: 1px solid var(--line); border-left-width: 5px; }
ul.assertions li.pass { border-left-color: var(--pass); }
ul.assertions li.fail { border-left-color: var(--fail); background: var(--fail-bg); }
ul.assertions li.warn { border-left-color: var(--warn); background: var(--warn-bg); }
ul.assertions .icon { font-size: 1.2rem; font-weight: 700; width: 1.4rem; text-align: center; flex: none; }
li.pass .icon { color: var(--pass); }
li.fail .icon { color: var(--fail); }
li.warn .icon { color: var(--warn); }
ul.assertions .body { min-width: 0; }
.verdict { color: var(--muted); margin-left: 6px; }
li.fail .verdict { color: var(--fail); font-weight: 600; }
li.warn .verdict { color: var(--warn); font-weight: 600; }
.sev { font-size: 0.75rem; text-transform: uppercase; letter-spacing: 0.05em; color: var(--warn); border: 1px solid currentColor; border-radius: 4px; padding: 0 5px; }
code.cond { display: inline-block; margin-top: 2px; color: var(--muted); overflow-wrap: anywhere; }
.msg { margin: 4px 0 0; }
.observed { margin: 4px 0 0; font-size: 0.9rem; color: var(--muted); }
.observed b { color: var(--ink); font-variant-numeric: tabular-nums; }

.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { text-align: left; vertical-align: top; padding: 6px 10px; border-bottom: 1px solid #eaeef2; }
thead th { font-size: 0.75rem; text-transform: uppercase; letter-spacing: 0.04em; color: var(--muted); border-bottom: 2px solid var(--line); white-space: nowrap; }
tbody th { font-weight: 600; }
tr.first > * { border-top: 1px solid var(--line); }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.strong { font-weight: 700; }
.slow { color: var(--warn); font-weight: 700; }
.err { color: var(--fail); font-size: 0.85rem; margin-top: 3px; overflow-wrap: anywhere; }
td.errors { color: var(--muted); }
.muted { color: var(--muted); }
.small { font-size: 0.8rem; font-weight: normal; }
.note { color: var(--muted); font-size: 0.88rem; margin: 0 0 8px; }
.missing { color: var(--muted); font-style: italic; background: var(--soft); border: 1px dashed var(--line); border-radius: 8px; padding: 14px; text-align: center; margin: 8px 0; }

figure.chart { margin: 0 0 26px; }
figure.chart:last-child { margin-bottom: 4px; }
figure.chart figcaption { display: flex; align-items: baseline; gap: 12px; flex-wrap: wrap; margin-bottom: 4px; }
figure.chart h3 { margin: 0; }
figure.chart .note { margin: 0; }
.plot { overflow-x: auto; }
/* Below 640 px the chart's text would be too small to read: scroll instead. */
.plot svg { display: block; width: 100%; min-width: 640px; height: auto; }
.plot svg text { font-family: "Liberation Sans", Arial, Helvetica, sans-serif !important; }
table.changes tr.fail > * { background: var(--fail-bg); color: #82071e; font-weight: 600; }
table.changes tr.warn > * { background: var(--warn-bg); }
table.changes tr.pass > * { color: var(--pass); }
ul.growths { margin: -16px 0 24px 56px; padding-left: 18px; color: var(--muted); font-size: 0.88rem; }
.plot.small svg { min-width: 340px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 6px 28px; }
ul.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 20px; padding: 0; margin: 6px 0 0 56px; font-size: 0.88rem; }
ul.legend li { display: flex; align-items: center; gap: 7px; }
.swatch { display: inline-block; width: 22px; border-top: 3px solid currentColor; }
.swatch.dashed { border-top-style: dashed; }

.health { padding: 10px 14px; border-radius: 8px; margin: 0 0 8px; font-weight: 600; }
.health.ok { background: var(--pass-bg); color: var(--pass); }
.health.bad { background: var(--warn-bg); color: var(--warn); }
ul.examples { margin: 0; padding-left: 20px; font-size: 0.88rem; }

h4 { margin: 18px 0 6px; color: var(--muted); font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.05em; }
table.metrics { font-size: 0.85rem; }
table.metrics th, table.metrics td { padding: 4px 8px; }
table.metrics th.metric { max-width: 360px; }
table.values { width: auto; min-width: 50%; }
table.values th.metric { max-width: 480px; }
.desc-small { color: var(--muted); font-size: 0.8rem; font-weight: normal; margin-top: 2px; }
.key { color: var(--muted); font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 0.85em; white-space: nowrap; }
table.steps tbody th { white-space: nowrap; }
table.components tbody th { white-space: nowrap; }
table.components tr.first > * { border-bottom: 0; }
table.components td.cmdline { padding-top: 0; }
table.components td.cmdline details { margin: 0 0 4px; }
td.step-err { color: var(--fail); background: var(--fail-bg); font-weight: 600; }
.unit { font-size: 0.75rem; font-weight: normal; color: var(--muted); border: 1px solid var(--line); border-radius: 4px; padding: 0 5px; }
.better { font-size: 0.75rem; font-weight: normal; color: var(--muted); }
details { margin: 8px 0; }
details > summary { cursor: pointer; color: var(--accent); }
details.step-metrics { border-top: 1px solid var(--line); padding-top: 10px; margin-top: 16px; }
details.step-metrics > summary { margin-bottom: 10px; }
.chips code { display: inline-block; background: var(--soft); border: 1px solid var(--line); border-radius: 4px; padding: 1px 6px; margin: 2px 0; }
pre.cmd, pre.source { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; overflow: auto; }
pre.source { max-height: 70vh; }
footer { color: var(--muted); font-size: 0.8rem; padding-bottom: 30px; }
@media print { nav { display: none; } section { break-inside: avoid; } }
`
