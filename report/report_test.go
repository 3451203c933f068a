package report

import (
	"bytes"
	"encoding/base64"
	"errors"
	"html"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/arp-robustness/arp/viz"
)

var (
	imgSrc   = regexp.MustCompile(`<img [^>]*src="([^"]*)"`)
	anyURL   = regexp.MustCompile(`(?i)(src|href|action|data)\s*=\s*"([^"#][^"]*)"`)
	external = regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
)

func fullRun(t *testing.T, name, dataset string) string {
	return writeRun(t, filepath.Join(t.TempDir(), name), fixture{dataset: dataset, defense: name, model: true, eval: true, metrics: true, analysis: true})
}

func render(t *testing.T, runs []*Run) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, runs, Options{Now: func() time.Time { return time.Unix(0, 0) }}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestReportContents(t *testing.T) {
	adv := fullRun(t, "adv", "mnist:test")
	arp := fullRun(t, "arp", "mnist")
	runs, err := Load([]string{adv, arp}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs[0].Notes)+len(runs[1].Notes) != 0 {
		t.Errorf("notes for complete runs: %v %v", runs[0].Notes, runs[1].Notes)
	}
	page := render(t, runs)
	for _, want := range []string{
		`<section id="overview">`, `<section id="verdicts">`, `<section id="evaluation">`, `<section id="training">`,
		`<section id="attention">`, `<section id="examples">`, `<section id="guide">`,
		"<th>adv</th><th>arp</th>", // side by side
		"incomplete attention makes images more vulnerable", "worst case", "60.0%", "accuracy falls as eps grows",
		"adv · fgsm · attack succeeded", "arp · iter-ll · attack failed", "success rate by coverage", "IoU per step",
		"Content-Security-Policy", "default-src &#39;none&#39;",
	} {
		if !strings.Contains(page, want) && !strings.Contains(page, strings.ReplaceAll(want, "&#39;", "'")) {
			t.Errorf("report lacks %q", want)
		}
	}
	imgs := imgSrc.FindAllStringSubmatch(page, -1)
	// 2 runs x (4 eval plots... ) + galleries: 2 runs x 2 attacks x 2 outcomes x 4 examples x 5 images.
	if len(imgs) < 160 {
		t.Errorf("%d images, want at least 160", len(imgs))
	}
	for i, m := range imgs {
		const prefix = "data:image/png;base64,"
		src := html.UnescapeString(m[1])
		if !strings.HasPrefix(src, prefix) {
			t.Fatalf("image %d is not inline: %.60s", i, src)
		}
		b, err := base64.StdEncoding.DecodeString(src[len(prefix):])
		if err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
		if _, err := png.DecodeConfig(bytes.NewReader(b)); err != nil {
			t.Fatalf("image %d is not a PNG: %v", i, err)
		}
	}
	for _, m := range anyURL.FindAllStringSubmatch(page, -1) {
		if !strings.HasPrefix(m[2], "data:") {
			t.Errorf("reference to %q", m[0])
		}
	}
	if m := external.FindString(page); m != "" {
		t.Errorf("external URL %q in the page", m)
	}
	if !strings.Contains(page, "<style>") || strings.Contains(page, "<link") {
		t.Error("style sheet not inline")
	}
}

func TestMixedDatasets(t *testing.T) {
	a := fullRun(t, "adv", "mnist:test")
	b := fullRun(t, "arp", "fashion-mnist:test")
	_, err := Load([]string{a, b}, false)
	if !errors.Is(err, ErrMixedDatasets) || !strings.Contains(err.Error(), "mnist (adv)") ||
		!strings.Contains(err.Error(), "fashion-mnist (arp)") || !strings.Contains(err.Error(), "--allow-mixed") {
		t.Fatalf("error %v", err)
	}
	runs, err := Load([]string{a, b}, true)
	if err != nil {
		t.Fatal(err)
	}
	render(t, runs)
}

func TestMissingFiles(t *testing.T) {
	dir := t.TempDir()
	onlyMetrics := writeRun(t, filepath.Join(dir, "a"), fixture{dataset: "mnist", model: true, metrics: true})
	runs, err := Load([]string{onlyMetrics}, false)
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(runs[0].Notes, "\n")
	for _, want := range []string{"no eval.json", "arp eval --model " + onlyMetrics, "no analysis directory", "arp analyze"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes %q lack %q", notes, want)
		}
	}
	html := render(t, runs)
	if !strings.Contains(html, "no eval.json") || strings.Contains(html, `id="evaluation"`) || strings.Contains(html, `id="examples"`) {
		t.Error("missing-file notes or skipped sections wrong")
	}
	if !strings.Contains(html, `id="training"`) {
		t.Error("training section missing")
	}
	// An analysis directory on its own.
	full := fullRun(t, "arp", "mnist")
	runs, err = Load([]string{filepath.Join(full, "analysis")}, false)
	if err != nil || len(runs[0].Analyses) != 1 || runs[0].Name != "arp" {
		t.Fatalf("analysis dir: %v", err)
	}
	render(t, runs)
	// Two analyses of one run are labelled by method or directory.
	writeAnalysis(t, filepath.Join(full, "analysis-eps0.3"), full, "mnist")
	runs, err = Load([]string{full}, false)
	if err != nil || len(runs[0].Analyses) != 2 {
		t.Fatalf("two analyses: %v", err)
	}
	if page := render(t, runs); !strings.Contains(page, "<th>arp · gradcam-arp</th><th>arp · eps0.3</th>") {
		t.Error("analyses of one run not labelled apart")
	}
	// Same names are made unique.
	runs, err = Load([]string{full, full}, false)
	if err != nil || runs[0].Name == runs[1].Name {
		t.Fatalf("names %v", err)
	}

	for _, tc := range []struct {
		name string
		path func() string
		want string
	}{
		{"no such directory", func() string { return filepath.Join(dir, "nope") }, "no such directory"},
		{"a file", func() string { p := filepath.Join(dir, "f"); mustWrite(t, p, []byte("x")); return p }, "not a directory"},
		{"empty directory", func() string { p := filepath.Join(dir, "empty"); os.Mkdir(p, 0o755); return p }, "neither a run directory (no model.json)"},
		{"nothing to report", func() string { return writeRun(t, filepath.Join(dir, "bare"), fixture{model: true}) }, "nothing to report"},
		{"broken eval.json", func() string {
			return writeRun(t, filepath.Join(dir, "be"), fixture{model: true, eval: true, brokenEval: true})
		}, "eval.json: not an arp eval report"},
		{"broken model.json", func() string {
			return writeRun(t, filepath.Join(dir, "bm"), fixture{model: true, brokenModel: true, metrics: true})
		}, "model.json"},
		{"broken records", func() string {
			p := fullRun(t, "br", "mnist")
			f, _ := os.OpenFile(filepath.Join(p, "analysis", "records.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("{oops}\n")
			f.Close()
			return p
		}, "records.jsonl: line 41"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.path()
			_, err := Load([]string{p}, false)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := Load(nil, false); err == nil {
		t.Error("no paths accepted")
	}
}

func TestLoadMetrics(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m.jsonl")
	mustWrite(t, p, []byte(`{"step":1,"loss":2,"name":"x"}`+"\n"+`{"step":2,"loss":1}`+"\n"+`{"step":3,"lo`))
	m, err := loadMetrics(p)
	if err != nil || len(m) != 2 || m[1]["loss"] != 1 {
		t.Fatalf("%v %v", m, err)
	}
	mustWrite(t, p, []byte("{oops}\n{\"step\":1}\n"))
	if _, err := loadMetrics(p); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("error %v", err)
	}
}

func FuzzLoadMetrics(f *testing.F) {
	f.Add([]byte(`{"step":1,"loss":2}` + "\n"))
	f.Add([]byte(`{"step":1,"loss":"x"}` + "\n{"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "m.jsonl")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Skip()
		}
		m, err := loadMetrics(p)
		if err == nil {
			training([]*Run{{Name: "x", Training: m}})
		}
	})
}

// TestPageFont: the page's text is set in the typeface of its plots.
func TestPageFont(t *testing.T) {
	runs, err := Load([]string{fullRun(t, "adv", "mnist")}, false)
	if err != nil {
		t.Fatal(err)
	}
	page := render(t, runs)
	want := `body { margin: 0; font: 15px/1.5 "` + viz.FontFamily + `", Arial,`
	if !strings.Contains(page, want) {
		t.Errorf("the page's body font is not the plots' %q: want %q in the style sheet", viz.FontFamily, want)
	}
}

var attentionImg = regexp.MustCompile(`<img src="data:image/png;base64,([^"]*)" alt="(clean|adversarial) attention"`)

// TestGalleryColorBar: every attention map of the galleries carries a
// colour scale (the jet strip from dark blue to dark red under the map)
// and the page says what the values are.
func TestGalleryColorBar(t *testing.T) {
	runs, err := Load([]string{fullRun(t, "arp", "mnist")}, false)
	if err != nil {
		t.Fatal(err)
	}
	page := render(t, runs)
	ms := attentionImg.FindAllStringSubmatch(page, -1)
	if len(ms) == 0 {
		t.Fatal("no attention maps in the galleries")
	}
	for i, m := range ms {
		b, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		bd := img.Bounds()
		var blue, red bool
		for y := bd.Dy() / 2; y < bd.Dy(); y++ { // the scale is under the map
			for x := 0; x < bd.Dx(); x++ {
				c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
				blue = blue || c == viz.Jet(0)
				red = red || c == viz.Jet(1)
			}
		}
		if !blue || !red {
			t.Errorf("%s attention map %d (%v): no colour scale under it (dark blue %v, dark red %v)", m[2], i, bd, blue, red)
		}
	}
	for _, want := range []string{"each map has its own scale, whose ends are written under it",
		"map values are the ARP Grad-CAM of the true class: a softmax over the 2x2 cells of layer pool2", "uniform attention would be 0.25"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
