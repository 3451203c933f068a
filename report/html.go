package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"

	"github.com/arp-robustness/arp/viz"
)

// Write renders the report of runs as one self-contained HTML page: the
// style sheet is inline, every image is a data: URI, and a Content Security
// Policy forbids the page to load anything from elsewhere.
func Write(w io.Writer, runs []*Run, opt Options) error {
	if len(runs) == 0 {
		return fmt.Errorf("report: no runs")
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, build(runs, opt)); err != nil {
		return fmt.Errorf("report: %v", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// The page's own script only checks the page: it counts script errors,
// blocked requests and images that failed to render, shows a warning if
// there are any, and leaves the counts in <body data-check="..."> (which
// the browser test reads).
//
// The page's text is set in the plots' typeface (viz.FontFamily), which
// it embeds (see pageFont), falling back to Arial and Helvetica, whose
// metrics it shares.
var pageTemplate = template.Must(template.New("report").Parse(strings.Replace(pageSource, "$FONT", strconv.Quote(viz.FontFamily), 1)))

const pageSource = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; font-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<script>
window.arpErrors = [];
window.addEventListener("error", function (e) { window.arpErrors.push(String(e.message || (e.target && e.target.tagName) || "error")); }, true);
document.addEventListener("securitypolicyviolation", function (e) { window.arpErrors.push("blocked " + e.blockedURI); });
</script>
<style>
{{.FontFace}}
:root { --fg: #1d2330; --muted: #5d6677; --line: #d9dee7; --bg: #ffffff; --panel: #f5f7fa; --accent: #0072b2; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 $FONT, Arial, "Helvetica Neue", Helvetica, sans-serif; color: var(--fg); background: var(--bg); }
header { background: #16324f; color: #fff; padding: 22px 32px 16px; }
header h1 { margin: 0 0 4px; font-size: 24px; font-weight: 600; }
header p { margin: 2px 0; color: #c8d6e5; font-size: 13px; }
header code { color: #fff; }
nav { position: sticky; top: 0; z-index: 2; background: #fff; border-bottom: 1px solid var(--line); padding: 8px 32px; font-size: 14px; }
nav a { color: var(--accent); text-decoration: none; margin-right: 18px; }
main { padding: 8px 32px 48px; max-width: 1500px; }
section { margin-top: 28px; }
h2 { font-size: 20px; border-bottom: 2px solid var(--line); padding-bottom: 4px; margin: 0 0 12px; }
h3 { font-size: 16px; margin: 22px 0 8px; }
p.note { background: #fff8e1; border-left: 4px solid #e69f00; padding: 6px 10px; margin: 6px 0; font-size: 13px; }
p.intro { color: var(--muted); margin: 6px 0; max-width: 1100px; }
.tablewrap { overflow-x: auto; margin: 8px 0 14px; }
table { border-collapse: collapse; font-size: 13px; }
p.caption { color: var(--muted); font-size: 13px; margin: 10px 0 2px; max-width: 1100px; }
th, td { border: 1px solid var(--line); padding: 5px 9px; vertical-align: top; text-align: left; }
th { background: var(--panel); font-weight: 600; }
td.rowhead { font-weight: 600; background: #fafbfc; max-width: 420px; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
td.small { font-size: 12px; color: var(--muted); max-width: 360px; }
td.strong, .strong { font-weight: 700; }
td.holds { background: #e3f4ea; color: #145a32; font-weight: 600; }
td.nothold { background: #fde8e4; color: #8e2412; font-weight: 600; }
td.mixed { background: #fff3d6; color: #7a4f00; font-weight: 600; }
td.inconclusive { background: #eef1f5; color: #4a5568; }
td[title] { cursor: help; }
.plots { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
.plots figure { margin: 0; }
.plots img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { font-size: 12px; color: var(--muted); }
.gallery { display: flex; flex-wrap: wrap; gap: 8px; }
.example { display: flex; align-items: center; gap: 6px; padding: 6px; border: 1px solid var(--line); border-radius: 4px; background: var(--panel); width: fit-content; }
.example.succeeded { border-left: 4px solid #d55e00; }
.example.failed { border-left: 4px solid #009e73; }
.example img { image-rendering: pixelated; border: 1px solid #000; }
.example .cap { font-size: 12px; color: var(--fg); margin-left: 6px; width: 150px; }
details { margin: 6px 0; font-size: 13px; }
details pre { white-space: pre-wrap; background: var(--panel); padding: 8px; border: 1px solid var(--line); }
#arp-check { display: none; background: #8e2412; color: #fff; padding: 8px 32px; }
</style>
</head>
<body>
<div id="arp-check"></div>
<header>
<h1>{{.Title}}</h1>
<p>Runs: {{range $i, $r := .Runs}}{{if $i}}, {{end}}<strong>{{$r}}</strong>{{end}}</p>
<p>Generated {{.Generated}}{{if .Command}} by <code>{{.Command}}</code>{{end}}. Self-contained: every image is embedded in this file.</p>
</header>
<nav>{{range .Sections}}<a href="#{{.ID}}">{{.Title}}</a>{{end}}</nav>
<main>
{{range .Notes}}<p class="note">{{.}}</p>
{{end}}
{{range .Sections}}<section id="{{.ID}}">
<h2>{{.Title}}</h2>
{{range .Intro}}<p class="intro">{{.}}</p>
{{end}}
{{range .Blocks}}{{if .Title}}<h3>{{.Title}}</h3>
{{end}}{{range .Text}}<p class="intro">{{.}}</p>
{{end}}{{range .Tables}}{{if .Caption}}<p class="caption">{{.Caption}}</p>{{end}}<div class="tablewrap"><table>
<thead><tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}<tr>{{range .}}<td{{if .Class}} class="{{.Class}}"{{end}}{{if .Title}} title="{{.Title}}"{{end}}>{{.Text}}</td>{{end}}</tr>
{{end}}</tbody></table></div>
{{end}}{{if .Images}}<div class="plots">{{range .Images}}<figure><img src="{{.Src}}" alt="{{.Alt}}" width="{{.W}}" height="{{.H}}">{{if .Caption}}<figcaption>{{.Caption}}</figcaption>{{end}}</figure>{{end}}</div>
{{end}}{{if .Figures}}{{if .FigureHead}}<p class="caption">{{range $i, $h := .FigureHead}}{{if $i}} | {{end}}{{$h}}{{end}}</p>{{end}}<div class="gallery">{{range .Figures}}<div class="example {{.Class}}">{{range .Images}}<img src="{{.Src}}" alt="{{.Alt}}" title="{{.Alt}}" width="{{.W}}" height="{{.H}}">{{end}}<span class="cap">{{.Caption}}</span></div>
{{end}}</div>
{{end}}{{range .Details}}<details><summary>{{.Summary}}</summary><pre>{{.Text}}</pre></details>
{{end}}{{end}}</section>
{{end}}
</main>
<script>
function arpCheck(font) {
  var imgs = document.images, broken = 0;
  for (var i = 0; i < imgs.length; i++) {
    if (!imgs[i].complete || imgs[i].naturalWidth === 0) { broken++; }
  }
  if (font !== "loaded") { window.arpErrors.push("embedded font " + font); }
  var check = { images: imgs.length, broken: broken, font: font, errors: window.arpErrors };
  document.body.setAttribute("data-check", JSON.stringify(check));
  if (broken > 0 || window.arpErrors.length > 0) {
    var el = document.getElementById("arp-check");
    el.textContent = "This page did not render completely: " + broken + " image(s) failed, " + window.arpErrors.length + " error(s).";
    el.style.display = "block";
  }
}
// the status of the embedded typeface, once the fonts are settled
window.addEventListener("load", function () {
  if (!document.fonts) { arpCheck("unchecked"); return; }
  document.fonts.ready.then(function () {
    var font = "missing";
    document.fonts.forEach(function (f) { if (f.family.replace(/"/g, "") === {{.FontFamily}}) { font = f.status; } });
    arpCheck(font);
  });
});
</script>
</body>
</html>
`
