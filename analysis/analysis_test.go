package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/data"
	"github.com/arp-robustness/arp/mask"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/shard"
)

// TestRegionModel runs the whole study on a model whose attention is known:
// it looks only at the left half of the image. FGSM (eps 0.3) then breaks
// exactly the images whose square has only 4 pixels there (4*0.7 < 3), which
// are the images of lowest coverage, so observation 1 must hold with a large
// effect.
func TestRegionModel(t *testing.T) {
	m := newRegionModel(16, 16, 8, 3)
	ds := squares()
	dir := t.TempDir()
	st := &Study{Model: m, Data: data.FromDataset(ds), DataSpec: "squares", Dir: dir,
		Config: Config{Attacks: []string{"fgsm", "iter-ll:steps=4"}, Eps: 0.3, Layer: "feat", BatchSize: 32, Gallery: 2}}
	h, err := st.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if h.MapH != 16 || h.MapW != 16 || h.Layer != "feat" || h.TopK != 28 {
		t.Fatalf("header map %dx%d layer %q topk %d", h.MapH, h.MapW, h.Layer, h.TopK)
	}
	_, recs, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != ds.Len() {
		t.Fatalf("%d records, want %d", len(recs), ds.Len())
	}
	gallery := 0
	for _, r := range recs {
		if !r.Analysed() {
			t.Fatalf("image %d skipped (%s)", r.Index, r.Skipped)
		}
		want := float64(inRegion(r.Index)) / 16
		if got := r.Clean.Coverage.F(); math.Abs(got-want) > 1e-9 {
			t.Errorf("image %d: coverage %g, want %g", r.Index, got, want)
		}
		// The attention mask is the object inside the region.
		mm := h.MeanMask(r.Clean.Map)
		for i, v := range mm {
			if v != (ds.Masks[r.Index][i] && i%16 < 8) {
				t.Fatalf("image %d: mask pixel %d is %v", r.Index, i, v)
			}
		}
		a := r.Attacks["fgsm"]
		if a.Success != (inRegion(r.Index) == 4) {
			t.Errorf("image %d (%d pixels in region): success %v", r.Index, inRegion(r.Index), a.Success)
		}
		// The attack dims the object but keeps its place: same mask.
		if a.IoU != 1 {
			t.Errorf("image %d: clean/adv IoU %g, want 1", r.Index, a.IoU)
		}
		if math.Abs(a.Linf.F()-0.3) > 1e-6 {
			t.Errorf("image %d: L-inf %g, want 0.3", r.Index, a.Linf)
		}
		it := r.Attacks["iter-ll:steps=4"]
		if len(it.StepIoU) != 4 || len(it.StepSuccess) != 4 || len(it.StepComponents) != 4 || len(it.StepLinf) != 4 {
			t.Fatalf("image %d: trace of %d steps, want 4", r.Index, len(it.StepIoU))
		}
		for k, l := range it.StepLinf {
			// steps of eps/4 towards one class: each pixel that can move does
			if want := 0.3 * float64(k+1) / 4; math.Abs(l.F()-want) > 1e-6 {
				t.Errorf("image %d: L-inf %g after step %d, want %g", r.Index, l, k+1, want)
			}
		}
		if r.TruthArea.F() != 16.0/256 {
			t.Errorf("image %d: object area %g, want %g", r.Index, r.TruthArea, 16.0/256)
		}
		if r.Image != "" {
			gallery++
			img, err := r.Image.Image(256)
			if err != nil || !bytes.Equal(boolBytes(mask.Above(img, 0.5)), boolBytes(ds.Masks[r.Index])) {
				t.Errorf("image %d: stored image does not match (%v)", r.Index, err)
			}
		}
	}
	// 2 per attack and outcome; iter-ll fails everywhere at 4 steps of eps/4... or not, so at least 2 and at most 8.
	if gallery < 2 || gallery > 8 {
		t.Errorf("%d gallery records", gallery)
	}
	s, err := Summarize(dir)
	if err != nil {
		t.Fatal(err)
	}
	v := s.Attacks[0].Verdicts[0]
	if v.Observation != "1" || v.Status != Holds || v.Strength != "large" {
		t.Errorf("observation 1: %+v", v)
	}
	if got := s.Attacks[0].Completeness.RankBiserial.F(); got != -1 {
		t.Errorf("rank-biserial %g, want -1 (complete separation)", got)
	}
	if l := s.Attacks[0].Logistic; l == nil || !(l.Slope < 0) || !l.Separated {
		t.Errorf("logistic %+v: want a negative slope with separation", l)
	}
	if err := s.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, rundir.AnalysisMD))
	for _, want := range []string{"Observation 1 holds", "## fgsm", "Per-step trace", "Success rate by completeness"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("summary.md lacks %q", want)
		}
	}
	var back Summary
	b, _ := os.ReadFile(filepath.Join(dir, rundir.AnalysisJSON))
	if err := json.Unmarshal(b, &back); err != nil || len(back.Attacks) != 2 {
		t.Errorf("summary.json: %v", err)
	}
}

func boolBytes(m []bool) []byte {
	b := make([]byte, len(m))
	for i, v := range m {
		if v {
			b[i] = 1
		}
	}
	return b
}

// TestVerdicts checks the statistics on hand-made outcomes whose answer is
// known.
func TestVerdicts(t *testing.T) {
	normal := func(mu, sd float64) func(r *rand.Rand, s bool) float64 {
		return func(r *rand.Rand, _ bool) float64 { return mu + sd*r.NormFloat64() }
	}
	split := func(att, res float64) func(r *rand.Rand, s bool) float64 {
		return func(r *rand.Rand, s bool) float64 {
			if s {
				return att + 0.1*r.NormFloat64()
			}
			return res + 0.1*r.NormFloat64()
		}
	}
	for _, tc := range []struct {
		name          string
		n, attacked   int
		cov, iou      func(r *rand.Rand, s bool) float64
		want1, want2a string
	}{
		{"attacked have lower coverage and IoU", 400, 100, split(0.3, 0.6), split(0.4, 0.8), Holds, Holds},
		{"no difference", 4000, 1000, normal(0.5, 0.1), normal(0.7, 0.1), DoesNotHold, DoesNotHold},
		{"the opposite", 400, 100, split(0.7, 0.4), split(0.9, 0.6), DoesNotHold, DoesNotHold},
		{"too few attacked", 400, 5, split(0.3, 0.6), split(0.4, 0.8), Inconclusive, Inconclusive},
		{"never attacked", 100, 0, normal(0.5, 0.1), normal(0.5, 0.1), Inconclusive, Inconclusive},
		{"small and noisy", 30, 12, split(0.45, 0.5), split(0.75, 0.8), Inconclusive, Inconclusive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := fakeHeader(AttackInfo{Key: "a", Name: "fgsm"})
			recs := fakeRecords(tc.n, tc.attacked, 3, tc.cov, tc.iou)
			h.Data.Images = tc.n
			s, err := Compute(h, recs)
			if err != nil {
				t.Fatal(err)
			}
			a := s.Attacks[0]
			if a.Verdicts[0].Status != tc.want1 || a.Verdicts[1].Status != tc.want2a {
				t.Errorf("verdicts %q / %q, want %q / %q\n%s\n%s", a.Verdicts[0].Status, a.Verdicts[1].Status, tc.want1, tc.want2a,
					a.Verdicts[0].Text, a.Verdicts[1].Text)
			}
			if l := a.Logistic; tc.want1 == Holds && (l == nil || !(l.Slope < 0) || !(l.ClassSlope < 0) || l.ClassNote != "") {
				t.Errorf("logistic fit %+v: want negative slopes, also within classes", l)
			}
			if s.Overall[0].Status != tc.want1 {
				t.Errorf("overall 1: %q, want %q", s.Overall[0].Status, tc.want1)
			}
			if a.N != tc.n || a.Succeeded != tc.attacked || !s.Complete {
				t.Errorf("counts %d/%d complete %v", a.Succeeded, a.N, s.Complete)
			}
			var md bytes.Buffer
			s.Markdown(&md)
			if !strings.Contains(md.String(), a.Verdicts[0].Text) {
				t.Error("summary.md lacks the verdict text")
			}
			if _, err := json.Marshal(s); err != nil {
				t.Errorf("summary does not encode: %v", err)
			}
		})
	}
}

// TestStepVerdict checks observation 3 on hand-made per-step traces.
func TestStepVerdict(t *testing.T) {
	// success[k] and iou[k] of every image after step k+1.
	type curve func(i, k int) (bool, float64)
	for _, tc := range []struct {
		name string
		f    curve
		want string
	}{
		{"IoU keeps shrinking after success levels off", func(i, k int) (bool, float64) {
			return i%2 == 0 && k >= 1, 0.9 - 0.08*float64(k) + 0.01*float64(i%5)
		}, Holds},
		{"IoU stops shrinking too", func(i, k int) (bool, float64) {
			return i%2 == 0 && k >= 1, 0.6 + 0.01*float64(i%5) + 0.001*float64((i+k)%3)
		}, DoesNotHold},
		{"success still rising", func(i, k int) (bool, float64) {
			return i%10 < k, 0.9 - 0.05*float64(k)
		}, Inconclusive},
		{"never succeeds", func(i, k int) (bool, float64) { return false, 0.9 - 0.05*float64(k) }, Inconclusive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := fakeHeader(AttackInfo{Key: "a", Name: "iter-ll", Traced: true})
			recs := fakeRecords(100, 0, 1, func(*rand.Rand, bool) float64 { return 0.5 }, func(*rand.Rand, bool) float64 { return 0.5 })
			for i, r := range recs {
				a := r.Attacks["a"]
				for k := 0; k < 8; k++ {
					s, iou := tc.f(i, k)
					a.StepSuccess = append(a.StepSuccess, s)
					a.StepIoU = append(a.StepIoU, Num(iou))
					a.StepIoUTopK = append(a.StepIoUTopK, Num(iou))
					a.StepConf = append(a.StepConf, 0.5)
				}
				a.Success = a.StepSuccess[7]
			}
			s, err := Compute(h, recs)
			if err != nil {
				t.Fatal(err)
			}
			a := s.Attacks[0]
			if a.Steps == nil || len(a.Steps.Step) != 9 {
				t.Fatalf("steps %+v", a.Steps)
			}
			v := a.Verdicts[len(a.Verdicts)-1]
			if v.Observation != "3" || v.Status != tc.want {
				t.Errorf("observation 3: %q, want %q: %s", v.Status, tc.want, v.Text)
			}
		})
	}
}

// TestResume interrupts an analysis after its first batch, resumes it and
// compares the records with an uninterrupted run (PGD's random start makes
// the comparison sensitive to how seeds are drawn).
func TestResume(t *testing.T) {
	m := newRegionModel(16, 16, 8, 3)
	ds := squares()
	cfg := Config{Attacks: []string{"pgd:steps=3", "iter-ll:steps=2"}, Eps: 0.2, Layer: "feat", BatchSize: 20, Gallery: 1, Seed: 5}
	full := t.TempDir()
	if _, err := (&Study{Model: m, Data: data.FromDataset(ds), DataSpec: "squares", Dir: full, Config: cfg}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	st := &Study{Model: m, Data: data.FromDataset(ds), DataSpec: "squares", Dir: dir, Config: cfg, Progress: func(done, total int) {
		calls++
		if done >= 20 {
			cancel()
		}
	}}
	_, err := st.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "run the same command again to resume") {
		t.Fatalf("interrupted run: %v", err)
	}
	// A crash in the middle of a write leaves a partial line.
	f, _ := os.OpenFile(filepath.Join(dir, rundir.AnalysisRecords), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"index":20,"batch":1,"label":1,"pr`)
	f.Close()
	// Another setting is refused.
	other := cfg
	other.Eps = 0.25
	if _, err := (&Study{Model: m, Data: data.FromDataset(ds), DataSpec: "squares", Dir: dir, Config: other}).Run(context.Background()); !errors.Is(err, ErrSettingsChanged) {
		t.Fatalf("changed settings: %v", err)
	}
	var first int
	st = &Study{Model: m, Data: data.FromDataset(ds), DataSpec: "squares", Dir: dir, Config: cfg, Progress: func(done, total int) {
		if first == 0 {
			first = done
		}
	}}
	if _, err := st.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if first != 20 {
		t.Errorf("resumed at %d images, want 20", first)
	}
	a, _ := os.ReadFile(filepath.Join(full, rundir.AnalysisRecords))
	b, _ := os.ReadFile(filepath.Join(dir, rundir.AnalysisRecords))
	if !bytes.Equal(a, b) {
		t.Errorf("resumed records differ from an uninterrupted run (%d vs %d bytes)", len(b), len(a))
	}
	// Running a finished analysis again changes nothing.
	if _, err := st.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, _ := os.ReadFile(filepath.Join(dir, rundir.AnalysisRecords))
	if !bytes.Equal(b, c) {
		t.Error("re-running a finished analysis changed its records")
	}
}

func TestBadInput(t *testing.T) {
	m := newRegionModel(16, 16, 8, 3)
	ds := squares()
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"eps", Config{Eps: 2, Layer: "feat"}, "eps 2"},
		{"method", Config{Method: "magic", Layer: "feat"}, `unknown attention method "magic"`},
		{"attack", Config{Attacks: []string{"nope"}, Layer: "feat"}, "nope"},
		{"l2 attack", Config{Attacks: []string{"pgd-l2"}, Layer: "feat"}, "L-inf"},
		{"twice", Config{Attacks: []string{"fgsm", "fgsm"}, Layer: "feat"}, "listed twice"},
		{"layer", Config{Layer: "conv9"}, `unknown layer "conv9"`},
		{"no layer", Config{}, "no attention layer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := (&Study{Model: m, Data: data.FromDataset(ds), Dir: t.TempDir(), Config: tc.cfg}).Run(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	// Records without a header.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, rundir.AnalysisRecords), []byte("{}\n"), 0o644)
	_, err := (&Study{Model: m, Data: data.FromDataset(ds), Dir: dir, Config: Config{Layer: "feat"}}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "analysis.json is missing") {
		t.Fatalf("records without header: %v", err)
	}
	if _, err := ReadHeader(t.TempDir()); !errors.Is(err, ErrNoAnalysis) {
		t.Fatalf("empty directory: %v", err)
	}
}

func TestReadRecords(t *testing.T) {
	good := `{"index":0,"batch":0,"label":1,"pred":1,"conf":0.5,"clean":{"map":[1,2],"coverage":null,"iou_truth":null,"coverage_topk":null,"coverage_area":null,"area":0.5,"components":1,"largest_share":1,"entropy":0.9}}` + "\n"
	for _, tc := range []struct {
		name, in string
		n        int
		want     string
	}{
		{"empty", "", 0, ""},
		{"one", good, 1, ""},
		{"partial last line", good + `{"index":1,"ba`, 1, ""},
		{"bad middle line", good + "{oops}\n" + good, 0, "line 2"},
		{"unknown field", `{"index":0,"batch":0,"nope":1}` + "\n", 0, "line 1"},
		{"negative index", `{"index":-1,"batch":0,"skipped":"x"}` + "\n", 0, "negative"},
		{"no clean map", `{"index":0,"batch":0,"label":0,"pred":0,"conf":1}` + "\n", 0, "no clean map"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, _, _, err := readRecords(strings.NewReader(tc.in), "r.jsonl")
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "r.jsonl") {
					t.Fatalf("error %v, want %q naming the file", err, tc.want)
				}
				return
			}
			if err != nil || len(recs) != tc.n {
				t.Fatalf("%d records, %v; want %d", len(recs), err, tc.n)
			}
			if tc.n == 1 && !math.IsNaN(recs[0].Clean.Coverage.F()) {
				t.Error("null coverage did not read as NaN")
			}
		})
	}
}

func FuzzReadRecords(f *testing.F) {
	f.Add(`{"index":0,"batch":0,"label":1,"pred":1,"conf":0.5,"clean":{"map":[1,2],"coverage":null,"components":1}}` + "\n")
	f.Add(`{"index":3,"batch":0,"label":1,"pred":2,"skipped":"misclassified","conf":0.1}` + "\n")
	f.Add(`{"index":0,"batch":0,"label":1,"pred":1,"conf":0.5,"clean":{"map":[1]},"attacks":{"a":{"success":true,"adv":{"map":[1]},"step_iou":[0.5],"step_iou_topk":[0.5],"step_conf":[0.5],"step_success":[true]}}}` + "\n")
	f.Fuzz(func(t *testing.T, in string) {
		recs, _, _, err := readRecords(strings.NewReader(in), "fuzz")
		if err != nil {
			return
		}
		h := fakeHeader(AttackInfo{Key: "a", Name: "iter-ll", Traced: true})
		// Duplicates are an error; anything else must not panic.
		_, _ = Compute(h, recs)
	})
}

func TestNumJSON(t *testing.T) {
	b, err := json.Marshal(struct{ A, B Num }{Num(math.NaN()), 0.25})
	if err != nil || string(b) != `{"A":null,"B":0.25}` {
		t.Fatalf("%s %v", b, err)
	}
	var back struct{ A, B Num }
	if err := json.Unmarshal(b, &back); err != nil || !math.IsNaN(back.A.F()) || back.B != 0.25 {
		t.Fatalf("%+v %v", back, err)
	}
	m, _ := json.Marshal(Map{0.1, 1e-7})
	var f []float32
	if json.Unmarshal(m, &f) != nil || f[0] != 0.1 || f[1] != 1e-7 {
		t.Fatalf("map %s", m)
	}
	if _, err := Pixels("!!").Image(1); err == nil {
		t.Error("bad base64 accepted")
	}
	if _, err := EncodeImage([]float32{0, 1}).Image(3); err == nil {
		t.Error("wrong length accepted")
	}
}

func TestLIME(t *testing.T) {
	m := newRegionModel(16, 16, 8, 3)
	ds := squares().Subset([]int{0, 40, 70})
	dir := t.TempDir()
	st := &Study{Model: m, Data: data.FromDataset(ds), DataSpec: "squares", Dir: dir,
		Config: Config{Attacks: []string{"fgsm"}, Eps: 0.3, Method: "lime", LIMESamples: 60, LIMESegments: 16}}
	h, err := st.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if h.MapH != 16 || h.TopK != 10 || h.Layer != "" {
		t.Fatalf("map %dx%d topk %d layer %q", h.MapH, h.MapW, h.TopK, h.Layer)
	}
	_, recs, err := Load(dir)
	if err != nil || len(recs) != 3 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	for _, r := range recs {
		if len(r.Clean.Map) != 256 {
			t.Fatalf("LIME map of %d values", len(r.Clean.Map))
		}
		// LIME must find the square (inside the region) as what matters.
		if r.Clean.Pointing == nil || !*r.Clean.Pointing {
			t.Errorf("image %d: the LIME map's maximum is not on the square", r.Index)
		}
	}
}

func FuzzHeader(f *testing.F) {
	h := fakeHeader(AttackInfo{Key: "a", Name: "fgsm"})
	b, _ := json.Marshal(h)
	f.Add(b)
	f.Add([]byte(`{"format":"arp-analysis/1","map_h":1,"map_w":1,"data":{"c":1,"h":1,"w":1},"config":{"method":"lime"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, rundir.AnalysisHeader), b, 0o644); err != nil {
			t.Skip()
		}
		h, err := ReadHeader(dir)
		if err != nil {
			return
		}
		m := make([]float32, h.MapH*h.MapW)
		if mask.CheckMap(m, h.MapH, h.MapW) == nil && h.MapH*h.MapW <= 1<<16 && h.Data.H*h.Data.W <= 1<<16 {
			h.MeanMask(m)
			h.TopKMask(m)
		}
		_, _ = Compute(h, nil)
	})
}

func TestAttacksAreLinf(t *testing.T) {
	got := Attacks()
	for _, n := range got {
		if n == "pgd-l2" || n == "cw-l2" {
			t.Errorf("the study lists the L2 attack %s", n)
		}
	}
	if len(got) != len(attack.Names())-2 {
		t.Errorf("%d attacks of %d: %v", len(got), len(attack.Names()), got)
	}
}

// TestAttackSeedRecorded checks that the header records the seed each
// attack ran with: the study's, or the spec's own; and that headers written
// before (seed 0 where the study's seed was used) read back corrected.
func TestAttackSeedRecorded(t *testing.T) {
	m := newRegionModel(16, 16, 8, 3)
	cfg := Config{Attacks: []string{"pgd:steps=2", "r-step-ll:seed=9"}, Eps: 0.2, Layer: "feat", BatchSize: 20, Limit: 20, Gallery: -1, Seed: 5}
	dir := t.TempDir()
	hr, err := (&Study{Model: m, Data: data.FromDataset(squares()), DataSpec: "squares", Dir: dir, Config: cfg}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"pgd:steps=2": 5, "r-step-ll:seed=9": 9}
	check := func(what string, h *Header) {
		t.Helper()
		for _, a := range h.Attacks {
			if got := a.Settings["seed"]; got != want[a.Key] {
				t.Errorf("%s: attack %s: seed %v, want %v", what, a.Key, got, want[a.Key])
			}
		}
	}
	check("run", hr)
	h, err := ReadHeader(dir)
	if err != nil {
		t.Fatal(err)
	}
	check("analysis.json", h)
	s, err := Summarize(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range s.Attacks {
		if a.Settings["seed"] != want[a.Key] {
			t.Errorf("attack summary %s: seed %v, want %v", a.Key, a.Settings["seed"], want[a.Key])
		}
	}
	// An analysis.json of an earlier version: seed 0 recorded for the
	// attack without a seed of its own.
	b, err := os.ReadFile(filepath.Join(dir, rundir.AnalysisHeader))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	raw["attacks"].([]any)[0].(map[string]any)["settings"].(map[string]any)["seed"] = 0
	if b, err = json.Marshal(raw); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, rundir.AnalysisHeader), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if h, err = ReadHeader(dir); err != nil {
		t.Fatal(err)
	}
	check("analysis.json of an earlier version", h)
}

// TestEstimate: the time of the whole study is the measured time per image
// times its images (a shard's, for a shard), and nothing is written.
func TestEstimate(t *testing.T) {
	m := newRegionModel(16, 16, 8, 3)
	ds := squares()
	cfg := Config{Attacks: []string{"pgd:steps=3"}, Eps: 0.2, Layer: "feat", BatchSize: 20, Seed: 5}
	dir := filepath.Join(t.TempDir(), "never")
	st := &Study{Model: m, Data: data.FromDataset(ds), DataSpec: "squares", Dir: dir, Config: cfg}
	total, per, err := st.Estimate(context.Background(), 4)
	if err != nil {
		t.Fatal(err)
	}
	if per <= 0 || total != per*time.Duration(ds.Len()) {
		t.Errorf("estimate %v at %v per image for %d images", total, per, ds.Len())
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Estimate wrote %s: %v", dir, err)
	}
	sh := &Study{Model: m, Data: data.FromDataset(ds), DataSpec: "squares", Dir: dir, Config: cfg, Shard: shard.Spec{Index: 0, Count: 2}}
	total, per, err = sh.Estimate(context.Background(), 4)
	nb := shard.Count(ds.Len(), 20)
	lo, hi, _ := sh.Shard.Batches(nb)
	ilo, ihi := shard.Images(lo, hi, 20, ds.Len())
	if err != nil || total != per*time.Duration(ihi-ilo) {
		t.Errorf("shard: %v at %v per image, want %d images: %v", total, per, ihi-ilo, err)
	}
}
