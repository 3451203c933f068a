package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/eval"
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
	for _, want := range []string{"| cell | adv (2 seeds) | arp (2 seeds) | two-step (1 seeds) | arp − adv |", "paired by training seed",
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
