package analysis

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/rundir"
)

// seedSummary is a finished analysis of a model trained with seed, whose
// fgsm verdicts on observations 1 and 2a are v1 and v2a.
func seedSummary(seed uint64, eps float64, v1, v2a Verdict) *Summary {
	h := &Header{Config: Config{Eps: eps, Method: "gradcam-arp"}, Layer: "pool2", Data: DataRef{Name: "d:test"},
		Model: ModelRef{Info: &nn.Info{Seed: seed}}, Attacks: []AttackInfo{{Key: "fgsm"}}}
	v1.Observation, v2a.Observation = "1", "2a"
	return &Summary{Header: h, Complete: true, Attacks: []*AttackSummary{{Key: "fgsm", Verdicts: []Verdict{v1, v2a}}},
		Attention: &AttentionSummary{CoverageArea: Group{Mean: Interval{Est: Num(0.1 * float64(seed))}}}}
}

func verdict(status, strength string, r, pEquiv float64) Verdict {
	return Verdict{Status: status, Strength: strength, Effect: Num(r), EffectCI: Interval{Est: Num(r), Lo: Num(r - 0.05), Hi: Num(r + 0.05)},
		PEquivalenceHolm: Num(pEquiv), EffectName: "rank-biserial r"}
}

func TestVerdictOutcome(t *testing.T) {
	for _, c := range []struct {
		v    Verdict
		want string
	}{
		{verdict(Holds, "large", -0.5, 1), OutcomeHolds},
		{verdict(DoesNotHold, "negligible", 0.01, 0.001), OutcomeNegligible},
		{verdict(DoesNotHold, "small", 0.25, 1), OutcomeOpposite},
		{verdict(Inconclusive, "", 0.05, 0.3), OutcomeInconclusive},
		{verdict(NotTested, "", math.NaN(), math.NaN()), OutcomeNotTested},
	} {
		if got := c.v.Outcome(); got != c.want {
			t.Errorf("%s/%s r %.2f: outcome %q, want %q", c.v.Status, c.v.Strength, c.v.Effect.F(), got, c.want)
		}
	}
}

// TestCompareSeedVerdicts: seeds are ordered by the training seed each
// model records, a row repeats only when every seed gives the same
// decided outcome, the mean effect is over seeds, and analyses of other
// settings are refused.
func TestCompareSeedVerdicts(t *testing.T) {
	holds := verdict(Holds, "medium", -0.4, 1)
	opp := verdict(DoesNotHold, "small", 0.3, 1)
	inc := verdict(Inconclusive, "", 0.05, 0.4)
	a := SeedGroup{Name: "arp", Summaries: []*Summary{seedSummary(3, 0.1, opp, holds), seedSummary(1, 0.1, inc, holds)}}
	b := SeedGroup{Name: "adv", Summaries: []*Summary{seedSummary(1, 0.1, opp, holds), seedSummary(2, 0.1, opp, verdict(Holds, "large", -0.6, 1))}}
	given := []SeedGroup{a, b}
	c, err := CompareSeedVerdicts(given)
	if err != nil {
		t.Fatal(err)
	}
	if seedOfSummary(given[0].Summaries[0], 0) != 3 {
		t.Fatal("the caller's groups were reordered")
	}
	if len(c.Seeds) != 2 || c.Seeds[0][0] != 1 || c.Seeds[0][1] != 3 {
		t.Fatalf("seeds %v, want each group in the order of its training seeds", c.Seeds)
	}
	if len(c.Rows) != 2 || c.Rows[0].Observation != "1" || c.Rows[1].Observation != "2a" {
		t.Fatalf("rows %+v", c.Rows)
	}
	obs1, obs2a := c.Rows[0], c.Rows[1]
	for _, x := range []struct {
		name string
		got  bool
		want bool
	}{
		{"arp obs 1 (inconclusive, opposite)", obs1.Repeats[0], false},
		{"adv obs 1 (opposite twice)", obs1.Repeats[1], true},
		{"arp obs 2a (holds twice)", obs2a.Repeats[0], true},
		{"adv obs 2a (holds medium and large)", obs2a.Repeats[1], true},
	} {
		if x.got != x.want {
			t.Errorf("%s: repeats %v, want %v", x.name, x.got, x.want)
		}
	}
	if obs1.Cells[0][0].Seed != 1 || obs1.Cells[0][0].Outcome != OutcomeInconclusive || obs1.Cells[0][1].Outcome != OutcomeOpposite {
		t.Fatalf("arp obs 1 cells %+v", obs1.Cells[0])
	}
	if e := obs2a.Effects[1]; math.Abs(e.Mean.F()+0.5) > 1e-12 || !(e.Lo.F() < -0.6 && e.Hi.F() > -0.4) {
		t.Fatalf("adv obs 2a effect over seeds %+v, want mean -0.5 with a t interval around both", e)
	}
	if math.Abs(c.Cover[0].CoverageArea[1].Est.F()-0.3) > 1e-12 {
		t.Fatalf("coverage not in seed order: %+v", c.Cover[0])
	}
	var md strings.Builder
	if err := c.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## arp", "| 1 | fgsm | inconclusive, +0.05 [+0.00, +0.10] | opposite (small), +0.30 [+0.25, +0.35] |", "**repeats**", "| arp | 3 |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	// not comparable: another budget
	other := SeedGroup{Name: "x", Summaries: []*Summary{seedSummary(1, 0.3, holds, holds)}}
	if _, err := CompareSeedVerdicts([]SeedGroup{a, other}); err == nil || !strings.Contains(err.Error(), "eps 0.3") {
		t.Fatalf("other budget: %v", err)
	}
	if _, err := CompareSeedVerdicts([]SeedGroup{a, {Name: "arp", Summaries: b.Summaries}}); err == nil {
		t.Fatal("a group given twice accepted")
	}
}

func TestReadSummaryRefusesUnfinished(t *testing.T) {
	dir := t.TempDir()
	s := seedSummary(1, 0.1, verdict(Holds, "large", -0.5, 1), verdict(Holds, "large", -0.5, 1))
	s.Complete = false
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, rundir.AnalysisJSON), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSummary(dir); err == nil || !strings.Contains(err.Error(), "not finished") {
		t.Fatalf("unfinished analysis: %v", err)
	}
	if _, err := ReadSummary(filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing: %v", err)
	}
}
