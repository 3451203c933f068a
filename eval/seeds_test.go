package eval

import (
	"math"
	"strings"
	"testing"
)

// seedReport is a report of one model: clean accuracy and, at L-inf eps
// 0.1, FGSM and the worst case.
func seedReport(seed uint64, clean, fgsm, worst float64, subset []int) *Report {
	s := seed
	return &Report{Model: "m", Data: "d:test", Images: 100, DataImages: 1000, Mode: "cascade", TrainingSeed: &s,
		Subset: &Subset{N: len(subset), Seed: 1, Indices: subset}, Clean: Counts{Accuracy: clean},
		Threats: []Threat{{Norm: "linf", Eps: 0.1, Attacks: []AttackResult{{Name: "fgsm", Spec: "fgsm", Accuracy: Counts{Accuracy: fgsm}}},
			Worst: Counts{Accuracy: worst}}}}
}

func TestCompareSeeds(t *testing.T) {
	sub := []int{1, 5, 9}
	adv := SeedGroup{Name: "adv", Reports: []*Report{seedReport(1, 0.99, 0.95, 0.93, sub), seedReport(2, 0.98, 0.94, 0.92, sub), seedReport(3, 0.99, 0.96, 0.94, sub)}}
	// arp's reports in another order: pairing is by training seed
	arp := SeedGroup{Name: "arp", Reports: []*Report{seedReport(3, 0.99, 0.95, 0.93, sub), seedReport(1, 0.99, 0.94, 0.92, sub), seedReport(2, 0.97, 0.93, 0.90, sub)}}
	c, err := CompareSeeds([]SeedGroup{adv, arp}, [][2]string{{"arp", "adv"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Rows) != 3 || c.Rows[2].Cell.Attack != "worst case" || c.Pairing != "training seed" {
		t.Fatalf("rows %+v, pairing %q", c.Rows, c.Pairing)
	}
	w := c.Rows[2]
	if math.Abs(w.Groups[0].Mean-0.93) > 1e-12 || math.Abs(w.Groups[1].Mean-2.75/3) > 1e-12 {
		t.Fatalf("worst-case means %v", w.Groups)
	}
	// paired by seed: seed 1 0.92-0.93, seed 2 0.90-0.92, seed 3 0.93-0.94
	d := w.Diffs[0]
	want := []float64{-0.01, -0.02, -0.01}
	for i, v := range want {
		if math.Abs(d.Values[i]-v) > 1e-12 || d.Seeds[i] != uint64(i+1) {
			t.Fatalf("differences %v (seeds %v), want %v", d.Values, d.Seeds, want)
		}
	}
	m := -0.04 / 3
	h := 4.302652729911275 * 0.005773502691896258 / math.Sqrt(3)
	if math.Abs(d.Mean-m) > 1e-12 || math.Abs(*d.Hi-m-h) > 1e-9 || math.Abs(m-*d.Lo-h) > 1e-9 {
		t.Fatalf("difference %+v, want %g ± %g", d, m, h)
	}
	var md strings.Builder
	if err := c.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| cell | adv (3 seeds) | arp (3 seeds) | arp − adv |", "| **worst case linf eps 0.1** | 93.00 [", "-1.33 [", "(-1.00, -2.00, -1.00)"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}

	// not comparable: other images, other attacks, unknown groups
	other := SeedGroup{Name: "none", Reports: []*Report{seedReport(1, 0.99, 0.5, 0.4, []int{1, 5, 8})}}
	if _, err := CompareSeeds([]SeedGroup{adv, other}, nil); err == nil || !strings.Contains(err.Error(), "other images") {
		t.Fatalf("other subset: %v", err)
	}
	pgd := seedReport(1, 0.99, 0.5, 0.4, sub)
	pgd.Threats[0].Attacks[0].Spec, pgd.Threats[0].Attacks[0].Name = "pgd", "pgd"
	if _, err := CompareSeeds([]SeedGroup{adv, {Name: "x", Reports: []*Report{pgd}}}, nil); err == nil || !strings.Contains(err.Error(), "attacks fgsm vs pgd") {
		t.Fatalf("other attacks: %v", err)
	}
	// the same attack with other settings (a weight tuned per model) pairs, with a note
	tuned := seedReport(1, 0.99, 0.5, 0.4, sub)
	tuned.Threats[0].Attacks[0].Spec = "fgsm:smoothing=0.1"
	c2, err := CompareSeeds([]SeedGroup{adv, {Name: "x", Reports: []*Report{tuned}}}, nil)
	if err != nil || len(c2.Notes) != 1 || !strings.Contains(c2.Notes[0], "fgsm:smoothing=0.1 (x seed 1)") {
		t.Fatalf("tuned settings: %v %v", err, c2)
	}
	if got := c2.Rows[1].Cell.Attack; got != "fgsm (smoothing per model)" {
		t.Fatalf("row of a tuned attack labelled %q, want the shared spec", got)
	}
	if _, err := CompareSeeds([]SeedGroup{adv, arp}, [][2]string{{"arp", "trades"}}); err == nil {
		t.Fatal("unknown group accepted")
	}
	// without training seeds the order pairs
	for _, r := range arp.Reports {
		r.TrainingSeed = nil
	}
	c, err = CompareSeeds([]SeedGroup{adv, arp}, [][2]string{{"arp", "adv"}})
	if err != nil || !strings.HasPrefix(c.Pairing, "order") || math.Abs(c.Rows[2].Diffs[0].Values[0]-0) > 1e-12 {
		t.Fatalf("order pairing: %v %+v", err, c)
	}
}

// TestSharedSpec: a row pairing an attack whose settings differ between
// models is labelled by what they share, not by one model's value.
func TestSharedSpec(t *testing.T) {
	for _, c := range []struct {
		specs []string
		want  string
	}{
		{[]string{"pgd:steps=40:restarts=5", "pgd:steps=40:restarts=5"}, "pgd:steps=40:restarts=5"},
		{[]string{"attention-loss:steps=40:restarts=5:lambda=0", "attention-loss:steps=40:restarts=5:lambda=0.3"},
			"attention-loss:steps=40:restarts=5 (lambda per model)"},
		{[]string{"attention-loss:steps=40:lambda=0", "attention-loss:steps=20:lambda=1"}, "attention-loss (steps, lambda per model)"},
		{[]string{"fgsm", "fgsm:smoothing=0.1"}, "fgsm (smoothing per model)"},
		{[]string{"pgd:steps=40:restarts=5", "pgd:restarts=5:steps=40"}, "pgd:restarts=5:steps=40 or pgd:steps=40:restarts=5"},
		{nil, ""},
	} {
		if got := sharedSpec(c.specs); got != c.want {
			t.Errorf("sharedSpec(%q) = %q, want %q", c.specs, got, c.want)
		}
	}
}
