package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/analysis"
	"github.com/arp-robustness/arp/eval"
	"github.com/arp-robustness/arp/nn"
)

func TestReportSeeds(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, seed uint64, worst float64) string {
		s := seed
		r := eval.Report{Model: name, Data: "mnist:test", Images: 20, DataImages: 100, Mode: "cascade", TrainingSeed: &s,
			Subset: &eval.Subset{N: 20, Seed: 1, Indices: []int{3, 4}}, Clean: eval.Counts{Correct: 19, Total: 20, Accuracy: 0.95},
			Threats: []eval.Threat{{Norm: "linf", Eps: 0.1, Attacks: []eval.AttackResult{{Name: "pgd", Spec: "pgd", Accuracy: eval.Counts{Accuracy: worst}}},
				Worst: eval.Counts{Accuracy: worst}}}}
		b, _ := json.Marshal(r)
		p := filepath.Join(dir, fmt.Sprintf("%s-s%d.json", name, seed))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	adv := []string{write("adv", 1, 0.90), write("adv", 2, 0.92)}
	arpFiles := []string{write("arp", 2, 0.91), write("arp", 1, 0.88)}
	two := write("two-step", 1, 0.85)
	js := filepath.Join(dir, "seeds.json")
	code, out, errs := arp(t, "report", "seeds", "--diff", "arp,adv", "--json", js,
		"adv="+strings.Join(adv, ","), "arp="+strings.Join(arpFiles, ","), "two-step="+two)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"| cell | adv (2 seeds) | arp (2 seeds) | two-step (1 seed) | arp − adv |", "paired by training seed",
		"| **worst case linf eps 0.1** | 91.00 [", "| 85.00 |", "-1.50 [", "(-2.00, -1.00)", "wrote " + js} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	var c eval.SeedComparison
	b, _ := os.ReadFile(js)
	if err := json.Unmarshal(b, &c); err != nil || len(c.Rows) != 3 {
		t.Fatalf("JSON: %v %+v", err, c)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "seeds", "adv"}, `"adv": want GROUP=EVAL.json`},
		{[]string{"report", "seeds", "--diff", "arp", "adv=" + adv[0]}, `--diff "arp": want A,B`},
		{[]string{"report", "seeds", "--diff", "arp,adv", "adv=" + adv[0]}, "difference arp - adv"},
		{[]string{"report", "seeds", "adv=" + filepath.Join(dir, "none.json")}, "no such file"},
	} {
		code, _, errs := arp(t, tc.args...)
		if code != 1 || !strings.Contains(errs, tc.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d: %s", tc.args, code, errs)
		}
	}
}

// TestReportVerdicts: arp report verdicts lines up committed analyses
// (summary.json of each seed) and refuses a malformed group or a missing
// analysis with one line naming it.
func TestReportVerdicts(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, seed uint64, r float64) string {
		s := analysis.Summary{Complete: true,
			Header: &analysis.Header{Config: analysis.Config{Eps: 0.1, Method: "gradcam-arp"}, Layer: "pool2", Data: analysis.DataRef{Name: "mnist:test"},
				Model: analysis.ModelRef{Info: &nn.Info{Seed: seed}}, Attacks: []analysis.AttackInfo{{Key: "fgsm"}}},
			Attacks: []*analysis.AttackSummary{{Key: "fgsm", Verdicts: []analysis.Verdict{{Observation: "2a", Status: analysis.Holds, Strength: "medium",
				Effect: analysis.Num(r), EffectCI: analysis.Interval{Est: analysis.Num(r), Lo: analysis.Num(r - 0.1), Hi: analysis.Num(r + 0.1)}}}}}}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		d := filepath.Join(dir, fmt.Sprintf("%s-s%d", name, seed))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "summary.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	adv := []string{write("adv", 2, -0.4), write("adv", 1, -0.3)}
	md := filepath.Join(dir, "verdicts.md")
	code, out, errs := arp(t, "report", "verdicts", "--markdown", md, "adv="+strings.Join(adv, ","))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| obs. | attack | seed 1 | seed 2 | over seeds |", "| 2a | fgsm | holds (medium), -0.30 [-0.40, -0.20] | holds (medium), -0.40 [", "-0.35 [", "**repeats**"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("verdicts lack %q:\n%s", want, b)
		}
	}
	if !strings.Contains(out, "wrote "+md) {
		t.Errorf("output %q does not say what it wrote", out)
	}
	for _, c := range []struct{ arg, want string }{
		{"adv", "want GROUP=ANALYSIS"},
		{"adv=" + filepath.Join(dir, "none"), "missing"},
	} {
		code, _, errs := arp(t, "report", "verdicts", c.arg)
		if code == 0 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") > 0 {
			t.Errorf("%s: exit %d, %q; want one line with %q", c.arg, code, errs, c.want)
		}
	}
}
