package reports

// htmlTemplateText is the page. It reads an htmlView; the styles are inline
// because the page must be one file that fetches nothing.
const htmlTemplateText = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.R.Scenario.Name}} — {{.R.Outcome.Status}} — kwok-run</title>
<style>` + htmlStyle + `</style>
</head>
<body>
<header class="top {{.StatusClass}}">
<div class="wrap">
<div class="eyebrow">kwok-run scale test</div>
<div class="headline">
<h1>{{or .R.Scenario.Name "unnamed scenario"}}</h1>
<span class="status {{.StatusClass}}">{{or .R.Outcome.Status "unknown"}}</span>
</div>
{{with .R.Scenario.Description}}<p class="desc">{{.}}</p>{{end}}
<p class="exit">exit code <b>{{.R.Outcome.ExitCode}}</b>{{with .R.Outcome.StoppedIn}} · stopped in step <b>{{.}}</b>{{end}}</p>
{{with .R.Outcome.Error}}<pre class="error">{{.}}</pre>{{end}}
<dl class="facts">
<div class="wide"><dt>started</dt><dd>{{or .Started "—"}}</dd></div>
<div><dt>duration</dt><dd>{{.Duration}}</dd></div>
<div><dt>assertions</dt><dd>{{with .R.Assertions}}{{$.AssertionsHeld}} of {{len .}} held{{else}}none{{end}}</dd></div>
<div><dt>kwok-run</dt><dd>{{or .R.KwokRun "—"}}</dd></div>
<div><dt>seed</dt><dd>{{.R.Scenario.Seed}}</dd></div>
<div><dt>timeout</dt><dd>{{or .R.Scenario.Timeout "—"}}</dd></div>
<div class="wide"><dt>file</dt><dd><code>{{or .R.Scenario.File "—"}}</code></dd></div>
<div class="wide"><dt>sha256</dt><dd><code class="hash">{{or .R.Scenario.SHA256 "—"}}</code></dd></div>
</dl>
</div>
</header>
<nav><div class="wrap">
<a href="#assertions">Assertions</a><a href="#steps">Steps</a><a href="#objects">Objects</a><a href="#latency">Latency</a><a href="#throughput">Throughput</a><a href="#resources">Resources</a>{{if .Storage}}<a href="#storage">Storage</a>{{end}}<a href="#measurement">Measurement</a><a href="#metrics">Metrics</a><a href="#cluster">Cluster</a><a href="#scenario">Scenario</a>
</div></nav>
<main class="wrap">
{{with .KeyFigures}}<section class="figures" aria-label="key figures">
{{range .}}<div class="figure"><div class="value">{{.Value}}</div><div class="label">{{.Key}}</div></div>
{{end}}</section>{{end}}

<section id="assertions">
<h2>Assertions</h2>
{{if .Assertions}}<ul class="assertions">
{{range .Assertions}}<li class="{{.Class}}">
<span class="icon" aria-hidden="true">{{.Icon}}</span>
<div class="body">
<div class="line"><b>{{.Name}}</b> <span class="verdict">{{.Verdict}}</span>{{if eq .Severity "warning"}} <span class="sev">warning only</span>{{end}}</div>
<code class="cond">{{.Condition}}</code>
{{with .Message}}<p class="msg">{{.}}</p>{{end}}
{{with .Observed}}<p class="observed">{{range $i, $o := .}}{{if $i}} · {{end}}<code>{{$o.Key}}</code> = <b>{{$o.Value}}</b>{{end}}</p>{{end}}
</div>
</li>
{{end}}</ul>
{{else}}<p class="missing">The scenario has no assertions.</p>{{end}}
</section>

<section id="steps">
<h2>Steps</h2>
{{if .Steps}}<div class="scroll"><table class="steps">
<thead><tr><th>Step</th><th>Status</th><th class="num">Start</th><th class="num">Duration</th><th>Action</th><th class="num">Done</th><th class="num">Rate asked → achieved</th><th>Errors</th></tr></thead>
<tbody>
{{range .Steps}}<tr{{if .First}} class="first"{{end}}>
{{- if .First}}<th scope="row" rowspan="{{.Rows}}">{{.Name}}</th><td rowspan="{{.Rows}}"><span class="badge {{.StatusClass}}">{{.Status}}</span></td><td class="num" rowspan="{{.Rows}}">{{.Start}}</td><td class="num" rowspan="{{.Rows}}">{{or .Duration "—"}}</td>{{end}}
{{- if .Action}}<td><code>{{.Action.Kind}}</code> {{.Action.Summary}}{{with .Action.Error}}<div class="err">{{.}}</div>{{end}}</td><td class="num">{{.Done}}</td><td class="num{{if .Slow}} slow{{end}}">{{or .Rate "—"}}</td><td class="errors">{{or .Errors "—"}}</td>
{{- else}}<td colspan="4" class="muted">no actions</td>{{end}}</tr>
{{with .StepError}}<tr><td colspan="4" class="step-err">✗ {{.}}</td></tr>
{{end}}{{end}}</tbody></table></div>
{{else}}<p class="missing">No step ran.</p>{{end}}
</section>

<section id="objects">
<h2>Objects</h2>
{{range .Objects}}{{template "chart" .}}{{end}}
</section>

<section id="latency">
<h2>Latency</h2>
{{range .Latency}}{{template "chart" .}}{{end}}
{{if .Latencies}}<h3>Percentiles</h3>
<div class="scroll"><table class="numbers">
<thead><tr><th>Latency</th><th class="num">Samples</th><th class="num">p50</th><th class="num">p90</th><th class="num">p99</th><th class="num">max</th></tr></thead>
<tbody>{{range .Latencies}}<tr><th scope="row"><code>{{.Metric}}</code>{{with .Key}} <span class="key">{{.}}</span>{{end}}</th><td class="num">{{.Count}}</td><td class="num">{{.P50}}</td><td class="num">{{.P90}}</td><td class="num strong">{{.P99}}</td><td class="num">{{.Max}}</td></tr>
{{end}}</tbody></table></div>{{end}}
</section>

<section id="throughput">
<h2>Throughput</h2>
{{range .Throughput}}{{template "chart" .}}{{end}}
</section>

<section id="resources">
<h2>Control-plane resources</h2>
{{range .CPU}}{{template "chart" .}}{{end}}
{{range .Memory}}{{template "chart" .}}{{end}}
</section>

{{if .Storage}}<section id="storage">
<h2>Storage</h2>
{{range .Storage}}{{template "chart" .}}{{end}}
</section>{{end}}

<section id="measurement">
<h2>Measurement</h2>
{{if eq .Health "ok"}}<p class="health ok">✓ Every transition was timed exactly; no watch was re-established and no scrape failed.</p>
{{else if eq .Health "doubtful"}}<p class="health bad">⚠ Some numbers are less certain: see the watches, untimed transitions and scrapes below.</p>{{end}}
<h3>Server-side cross-check</h3>
{{if .CrossChecks}}<p class="note">Latencies from kwok-run's watches beside the same intervals from the apiserver's own timestamps, which have one-second precision.</p>
<div class="scroll"><table class="numbers">
<thead><tr><th>Metric</th><th>Source</th><th class="num">Samples</th><th class="num">p50</th><th class="num">p90</th><th class="num">p99</th><th class="num">max</th></tr></thead>
<tbody>{{range .CrossChecks}}<tr class="first"><th scope="row" rowspan="2"><code>{{.Metric}}</code><div class="muted small">{{.Interval}}</div></th><td>watch</td>{{template "stats" .Watch}}</tr>
<tr><td>server</td>{{template "stats" .Server}}</tr>
{{end}}</tbody></table></div>
{{else}}<p class="missing">Not measured.</p>{{end}}
<h3>Watches</h3>
{{with .R.Measurement}}{{if .Watches}}<div class="scroll"><table class="numbers">
<thead><tr><th>Kind</th><th class="num">Events</th><th class="num">Restarts</th><th class="num">Relists</th><th class="num">Longest gap</th></tr></thead>
<tbody>{{range .Watches}}<tr><th scope="row">{{.Kind}}</th><td class="num">{{count .Events}}</td><td class="num{{if .Restarts}} slow{{end}}">{{count .Restarts}}</td><td class="num{{if .Relists}} slow{{end}}">{{count .Relists}}</td><td class="num">{{seconds .LongestGap}}</td></tr>
{{end}}</tbody></table></div>{{else}}<p class="missing">No measuring watch ran.</p>{{end}}
<dl class="facts compact">
<div><dt>untimed transitions</dt><dd{{if .Inexact}} class="slow"{{end}}>{{count .Inexact}}</dd></div>
<div><dt>created, never seen</dt><dd{{if .Unseen}} class="slow"{{end}}>{{count .Unseen}}</dd></div>
<div><dt>scrapes</dt><dd>{{count .Scrapes}}</dd></div>
<div><dt>scrapes failed</dt><dd{{if .ScrapesFailed}} class="slow"{{end}}>{{count .ScrapesFailed}}</dd></div>
</dl>
{{with .InexactExamples}}<p class="note">Transitions seen only after a watch gap or in a relist, counted but not timed, for example:</p>
<ul class="examples">{{range .}}<li><code>{{.}}</code></li>{{end}}</ul>{{end}}
{{with .UnseenExamples}}<p class="note">Objects kwok-run created that no watch saw (made and gone while a watch was down and relisted), for example:</p>
<ul class="examples">{{range .}}<li><code>{{.}}</code></li>{{end}}</ul>{{end}}{{end}}
</section>

<section id="metrics">
<h2>Metrics</h2>
{{if or .Metrics.Distributions .Metrics.Values}}{{template "metrics" .Metrics}}{{else}}<p class="missing">Nothing was measured.</p>{{end}}
{{with .StepMetrics}}<h3>By step</h3>
{{range .}}<details class="step-metrics"><summary>Step <b>{{.Name}}</b></summary>{{template "metrics" .Metrics}}</details>
{{end}}{{end}}
</section>

<section id="cluster">
<h2>Cluster</h2>
{{with .R.Cluster}}<dl class="facts">
<div><dt>backend</dt><dd>{{or .Backend "—"}}</dd></div>
<div><dt>Kubernetes</dt><dd>{{or .Kubernetes "—"}}</dd></div>
<div><dt>KWOK</dt><dd>{{or .Kwok "—"}}</dd></div>
<div><dt>etcd</dt><dd>{{or .Etcd "—"}}</dd></div>
<div><dt>node lease</dt><dd>{{or .NodeLeaseDuration "—"}}</dd></div>
</dl>{{end}}
{{with .FeatureGates}}<h3>Feature gates</h3><p class="chips">{{range .}}<code>{{.Key}}={{.Value}}</code> {{end}}</p>{{end}}
{{with .RuntimeConfig}}<h3>Runtime config</h3><p class="chips">{{range .}}<code>{{.Key}}={{.Value}}</code> {{end}}</p>{{end}}
<h3>Components</h3>
{{with .R.Cluster.Components}}<div class="scroll"><table class="components">
<thead><tr><th>Component</th><th>Version</th><th>Binary</th><th>sha256</th></tr></thead>
<tbody>{{range .}}<tr class="first"><th scope="row">{{.Name}}</th><td>{{or .Version "—"}}</td><td><code>{{or .Binary "—"}}</code></td><td><code class="hash small">{{or .SHA256 "—"}}</code></td></tr>
<tr><td colspan="4" class="cmdline"><details><summary>command line, {{len .Args}} arguments</summary><pre class="cmd">{{cmdline .Binary .Args}}</pre></details></td></tr>
{{end}}</tbody></table></div>{{else}}<p class="missing">No component was started.</p>{{end}}
</section>

<section id="variables">
<h2>Variables</h2>
{{if .Variables}}<div class="scroll"><table>
<thead><tr><th>Name</th><th>Type</th><th>Value</th><th>From</th></tr></thead>
<tbody>{{range .Variables}}<tr><th scope="row"><code>{{.Name}}</code></th><td>{{.Type}}</td><td><code>{{.Shown}}</code></td><td class="muted">{{.Source}}</td></tr>
{{end}}</tbody></table></div>{{else}}<p class="missing">The scenario has no variables.</p>{{end}}
</section>

<section id="scenario">
<h2>Scenario</h2>
{{if .R.Scenario.Source}}<details><summary><code>{{or .R.Scenario.File "scenario"}}</code> as it was run</summary><pre class="source">{{.R.Scenario.Source}}</pre></details>
{{else}}<p class="missing">The report does not hold the scenario's source.</p>{{end}}
</section>
</main>
<footer class="wrap">Written by kwok-run {{.R.KwokRun}} · report schema {{.R.SchemaVersion}}</footer>
</body>
</html>
` + htmlChartTemplateText + `{{define "stats"}}<td class="num">{{.Count}}</td><td class="num">{{.P50}}</td><td class="num">{{.P90}}</td><td class="num">{{.P99}}</td><td class="num">{{.Max}}</td>{{end}}
{{define "metrics"}}{{$stats := .Stats}}{{with .Distributions}}<h4>Distributions</h4>
<div class="scroll"><table class="numbers metrics">
<thead><tr><th>Metric</th><th>Key</th>{{range $stats}}<th class="num">{{.}}</th>{{end}}</tr></thead>
<tbody>{{range .}}{{template "metric-rows" .}}{{end}}</tbody></table></div>{{end}}
{{with .Values}}<h4>Values</h4>
<div class="scroll"><table class="numbers metrics values">
<thead><tr><th>Metric</th><th>Key</th><th class="num">Value</th></tr></thead>
<tbody>{{range .}}{{template "metric-rows" .}}{{end}}</tbody></table></div>{{end}}{{end}}
{{define "metric-rows"}}{{$g := .}}{{range $i, $row := .Rows}}<tr{{if not $i}} class="first"{{end}}>
{{- if not $i}}<th scope="row" rowspan="{{len $g.Rows}}" class="metric"><code>{{$g.Name}}</code>{{with $g.Unit}} <span class="unit">{{.}}</span>{{end}}{{if and $g.Better (ne $g.Better "neither")}} <span class="better">{{$g.Better}} is better</span>{{end}}{{with $g.Description}}<div class="desc-small">{{.}}</div>{{end}}</th>{{end -}}
<td class="key">{{$row.Key}}</td>{{range $row.Values}}<td class="num">{{.}}</td>{{end}}</tr>
{{end}}{{end}}`

// htmlChartTemplateText draws an htmlChart; every page with charts uses it.
const htmlChartTemplateText = `{{define "chart"}}<figure class="chart" id="{{.ID}}">
{{if or .Title .Note}}<figcaption>{{with .Title}}<h3>{{.}}</h3>{{end}}{{with .Note}}<span class="note">{{.}}</span>{{end}}</figcaption>{{end}}
{{if .SVG}}<div class="plot{{if .Small}} small{{end}}">{{.SVG}}</div>
<ul class="legend">{{range .Legend}}<li><span class="swatch{{if .Dashed}} dashed{{end}}" style="color: {{.Color}}"></span>{{.Name}}</li>{{end}}</ul>
{{else}}<p class="missing">{{or .Problem "Not measured."}}</p>{{end}}
</figure>
{{end}}
`
