package analysis

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/arp-robustness/arp/stats"
)

// TestVerdictErrorRates simulates the decision rule of observations 1 and
// 2 (docs/analysis.md, "Verdicts") and checks the error rates the docs
// state: a real effect at the equivalence margin or beyond is rarely
// called negligible, the attacks of an observation together rarely claim
// an effect that is not there (Holm), and large groups without an effect
// are called negligible.
func TestVerdictErrorRates(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	// attacked values N(shift, 1), resisted N(0, 1): rank-biserial r =
	// 2*Phi(shift/sqrt 2) - 1
	shift := func(rb float64) float64 { return math.Sqrt2 * math.Sqrt2 * math.Erfinv(rb) }
	sample := func(n int, mu float64) []float64 {
		x := make([]float64, n)
		for i := range x {
			x[i] = mu + r.NormFloat64()
		}
		return x
	}
	// rates runs reps analyses of `attacks` attacks, each with groups of
	// na attacked and nr resisted images and true effect rb (attacked
	// lower: the predicted direction of observations 1 and 2a), and
	// returns the share of analyses in which some attack was called
	// negligible and in which some attack's verdict claimed a difference
	// (holds or the opposite).
	rates := func(rb float64, na, nr, attacks, reps int) (negligible, claimed float64) {
		neg, cl := 0, 0
		for k := 0; k < reps; k++ {
			var as []*AttackSummary
			for a := 0; a < attacks; a++ {
				c := &Comparison{Metric: "m", Expect: "lower", Attacked: Group{N: na}, Resisted: Group{N: nr}}
				c.rankTests(sample(na, -shift(rb)), sample(nr, 0))
				s := &AttackSummary{Key: string(rune('a' + a)), Completeness: c}
				s.Verdicts = []Verdict{rankVerdict("1", s, c)}
				as = append(as, s)
			}
			decide(as)
			n, c := false, false
			for _, s := range as {
				switch v := s.Verdicts[0]; {
				case v.Status == DoesNotHold && v.Strength == "negligible":
					n = true
				case v.Status == Holds || v.Status == DoesNotHold:
					c = true
				}
			}
			if n {
				neg++
			}
			if c {
				cl++
			}
		}
		return float64(neg) / float64(reps), float64(cl) / float64(reps)
	}
	for _, tc := range []struct {
		name       string
		rb         float64
		na, nr     int
		attacks    int
		maxNeg     float64 // documented bounds
		minNeg     float64
		maxClaimed float64
	}{
		// a real effect at the margin is called negligible at most 5% of
		// the time (the equivalence test's size)
		{"r = 0.1, 30/30", 0.1, 30, 30, 1, 0.05, 0, 1},
		{"r = 0.1, 100/1000", 0.1, 100, 1000, 1, 0.05, 0, 1},
		{"r = 0.1, 1000/1000", 0.1, 1000, 1000, 1, 0.05, 0, 1},
		// a real r = 0.2 with 30 images per group: the old point-estimate
		// rule called it negligible in about one analysis in five
		{"r = 0.2, 30/30", 0.2, 30, 30, 1, 0.05, 0, 1},
		// no effect, four attacks: a claimed difference in at most 5% of
		// the analyses (family-wise, Holm)
		{"no effect, 4 attacks of 30/30", 0, 30, 30, 4, 0.05, 0, 0.05},
		{"no effect, 4 attacks of 300/3000", 0, 300, 3000, 4, 1, 0, 0.05},
		// no effect, large groups: negligible in most analyses
		{"no effect, 1000/1000", 0, 1000, 1000, 1, 1, 0.9, 0.05},
	} {
		// fewer analyses of the large groups keep the test fast; the
		// bounds allow for 2.5 standard errors of the simulation
		reps := 2000
		if tc.na*tc.attacks > 200 {
			reps = 300
		}
		se := func(p float64) float64 { return math.Sqrt(p * (1 - p) / float64(reps)) }
		neg, claimed := rates(tc.rb, tc.na, tc.nr, tc.attacks, reps)
		t.Logf("%s: negligible %.3f, difference claimed %.3f", tc.name, neg, claimed)
		if neg > tc.maxNeg+2.5*se(tc.maxNeg) || neg < tc.minNeg-2.5*se(tc.minNeg) || claimed > tc.maxClaimed+2.5*se(tc.maxClaimed) {
			t.Errorf("%s: negligible in %.3f of %d analyses (want %g-%g), a difference claimed in %.3f (want at most %g)",
				tc.name, neg, reps, tc.minNeg, tc.maxNeg, claimed, tc.maxClaimed)
		}
	}
	// the old rule for comparison: |r| < 0.1 at 30 per group was negligible
	old, reps := 0, 2000
	for k := 0; k < reps; k++ {
		mw, _ := stats.MannWhitneyU(sample(30, -shift(0.2)), sample(30, 0))
		if math.Abs(mw.RankBiserial) < Negligible {
			old++
		}
	}
	if float64(old)/float64(reps) < 0.1 {
		t.Errorf("the old rule called r = 0.2 negligible in only %.3f of the analyses: the simulation does not show what it should", float64(old)/float64(reps))
	}
}

// stepRecords makes n records of a traced iterative attack "it" of the
// given steps: image i breaks at step brk(i) (0: never) and the attack
// returns its first successful iterate, so broken images carry smaller
// perturbations and keep more of their attention in the returned image;
// the trace goes on to the last step, where broken and resisted images
// have the same IoU distribution and perturbation size.
func stepRecords(n, steps int, eps float64, brk func(i int) int, rng *rand.Rand) []*Record {
	var out []*Record
	for i := 0; i < n; i++ {
		b := brk(i)
		a := &AttackRecord{Adv: &MapStats{Components: 1}}
		for k := 1; k <= steps; k++ {
			iou := 1 - 0.06*float64(k) + 0.05*rng.NormFloat64() // falls with every step, alike for all
			a.StepIoU = append(a.StepIoU, Num(iou))
			a.StepIoUTopK = append(a.StepIoUTopK, Num(iou))
			a.StepSuccess = append(a.StepSuccess, b > 0 && k >= b)
			a.StepConf = append(a.StepConf, 0.5)
			a.StepComponents = append(a.StepComponents, 1+rng.IntN(2))
			a.StepLinf = append(a.StepLinf, Num(math.Min(eps, float64(k)*eps/4)))
		}
		last := steps
		if b > 0 {
			last = b
		}
		a.Success = b > 0
		a.IoU, a.Linf = a.StepIoU[last-1], a.StepLinf[last-1]
		a.Adv.Components = a.StepComponents[last-1]
		out = append(out, &Record{Index: i, Label: i % 3, Pred: i % 3, Conf: 0.9,
			Clean:   &MapStats{Map: Map{1, 0, 0, 0}, Components: 1, Coverage: 0.5, CoverageArea: 0.5, CoverageTopK: 0.5, IoUTruth: 0.5},
			Attacks: map[string]*AttackRecord{"it": a}})
	}
	return out
}

// TestObservation2ComparesLikeWithLike: an iterative attack returns a
// broken image at its first successful step, so its broken images carry
// smaller perturbations and a higher IoU for that reason alone.
// Observation 2 must then be measured at one step of the trace, where
// both groups are equally perturbed (here they do not differ at all), and
// a comparison of unequally perturbed groups must not give a verdict.
func TestObservation2ComparesLikeWithLike(t *testing.T) {
	const n, steps, eps = 600, 8, 0.1
	rng := rand.New(rand.NewPCG(5, 6))
	brk := func(i int) int { // a third of the images break, at steps 1-4
		if i%3 == 0 {
			return 1 + (i/3)%4
		}
		return 0
	}
	h := fakeHeader(AttackInfo{Key: "it", Name: "iter-ll", Traced: true})
	h.Config.Eps = eps
	recs := stepRecords(n, steps, eps, brk, rng)
	h.Data.Images = n
	s, err := Compute(h, recs)
	if err != nil {
		t.Fatal(err)
	}
	a := s.Attacks[0]
	if a.IoU.Step != steps || a.Components.Step != steps {
		t.Fatalf("observation 2 measured at steps %d/%d, want %d", a.IoU.Step, a.Components.Step, steps)
	}
	if l := a.IoU.Linf; l == nil || !l.Equal || l.Attacked.Mean.Est != eps || l.Resisted.Mean.Est != eps {
		t.Fatalf("L-inf check %+v: want equal groups at eps", l)
	}
	for _, v := range a.Verdicts[1:3] {
		if v.Status == Holds || v.Strength != "negligible" && v.Status == DoesNotHold {
			t.Errorf("observation %s: %s (%s): %s", v.Observation, v.Status, v.Strength, v.Text)
		}
	}
	// The returned images do differ: broken ones are less perturbed and
	// keep more attention (what the old analysis compared).
	var iouA, iouR []float64
	for _, r := range recs {
		if x := r.Attacks["it"]; x.Success {
			iouA = append(iouA, x.IoU.F())
		} else {
			iouR = append(iouR, x.IoU.F())
		}
	}
	if mw, _ := stats.MannWhitneyU(iouA, iouR); !(mw.RankBiserial > 0.3 && mw.P < 1e-6) {
		t.Fatalf("returned images: r %+.2f p %g; the test needs the confound", mw.RankBiserial, mw.P)
	}

	// An untraced attack with the same records: the groups' perturbations
	// differ, so observation 2 stays inconclusive.
	h2 := fakeHeader(AttackInfo{Key: "it", Name: "pgd"})
	h2.Config.Eps, h2.Data.Images = eps, n
	s2, err := Compute(h2, recs)
	if err != nil {
		t.Fatal(err)
	}
	a2 := s2.Attacks[0]
	if l := a2.IoU.Linf; a2.IoU.Step != 0 || l == nil || l.Equal {
		t.Fatalf("untraced: step %d, L-inf check %+v; want unequal groups", a2.IoU.Step, l)
	}
	for _, v := range a2.Verdicts[1:3] {
		if v.Status != Inconclusive || v.tested {
			t.Errorf("untraced observation %s: %s: %s", v.Observation, v.Status, v.Text)
		}
	}

	// The attention-gated attack decides observation 2 by construction.
	h3 := fakeHeader(AttackInfo{Key: "it", Name: "gated-step-ll", Traced: true})
	h3.Config.Eps, h3.Data.Images = eps, n
	s3, err := Compute(h3, recs)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range s3.Attacks[0].Verdicts[1:3] {
		if v.Status != NotTested {
			t.Errorf("gated observation %s: %s", v.Observation, v.Status)
		}
	}
	if o := s3.Overall[1]; o.Status != NotMeasured {
		t.Errorf("gated overall 2a: %+v", o)
	}
}

// TestAttentionSummaryAreas: completeness comes with the areas of the
// masks, and observation 1 reads the area-matched coverage, which a mask
// that is larger for some images cannot inflate.
func TestAttentionSummaryAreas(t *testing.T) {
	h := fakeHeader(AttackInfo{Key: "a", Name: "fgsm"})
	rng := rand.New(rand.NewPCG(1, 1))
	var recs []*Record
	for i := 0; i < 400; i++ {
		s := i < 100
		// attacked images have larger mean-threshold masks and so a
		// higher mean-mask coverage; their area-matched coverage is the
		// same as the others'
		area := 0.3 + 0.05*rng.Float64()
		if s {
			area += 0.3
		}
		recs = append(recs, &Record{Index: i, Label: i % 3, Pred: i % 3, Conf: 0.9, TruthArea: 0.2,
			Clean: &MapStats{Map: Map{1, 0, 0, 0}, Components: 1, Area: Num(area), Coverage: Num(area * 2), CoverageArea: Num(0.5 + 0.1*rng.NormFloat64()),
				CoverageTopK: 0.4, IoUTruth: 0.3},
			Attacks: map[string]*AttackRecord{"a": {Success: s, IoU: 0.8, Linf: 0.1, Adv: &MapStats{Components: 1}}}})
	}
	h.Data.Images = len(recs)
	s, err := Compute(h, recs)
	if err != nil {
		t.Fatal(err)
	}
	at := s.Attention
	if at == nil || at.N != 400 || at.ObjectArea.Median.Est != 0.2 || math.Abs(at.TopKArea.F()-0.25) > 1e-12 || !(at.MeanArea.Median.Est > 0.3) {
		t.Fatalf("attention summary %+v", at)
	}
	if c := s.Attacks[0].Completeness; c.Metric != "coverage_area" {
		t.Fatalf("observation 1 reads %s", c.Metric)
	}
	if v := s.Attacks[0].Verdicts[0]; v.Status == DoesNotHold && v.Strength != "negligible" || v.Status == Holds {
		t.Fatalf("observation 1 on area-matched coverage: %s", v.Text)
	}
}

// TestIterSchedules: the paper's Iter-LL schedule is 2 unprojected
// Step-LL steps of eps; the default 10 projected steps of eps/4; a spec's
// own settings win. Map scaling applies to the ReLU maps only.
func TestIterSchedules(t *testing.T) {
	for _, tc := range []struct {
		schedule, spec string
		steps          int
		alpha          float64
		unprojected    bool
	}{
		{"", "iter-ll", 10, 0.025, false},
		{IterFine, "iter-ll", 10, 0.025, false},
		{IterPaper, "iter-ll", 2, 0.1, true},
		{IterPaper, "iter-ll:steps=3", 3, 0.1, true},
		{IterPaper, "iter-ll:project=true", 2, 0.1, false},
		{IterPaper, "bim", 10, 0.025, false},
	} {
		c := Config{Eps: 0.1, IterSchedule: tc.schedule}.WithDefaults()
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		sp, err := c.attack(tc.spec, 0)
		if err != nil {
			t.Fatal(err)
		}
		if sp.Config.Steps != tc.steps || math.Abs(sp.Config.Alpha-tc.alpha) > 1e-12 || sp.Config.Unprojected != tc.unprojected {
			t.Errorf("%s %s: %d steps of %g, unprojected %v", tc.schedule, tc.spec, sp.Config.Steps, sp.Config.Alpha, sp.Config.Unprojected)
		}
	}
	for _, c := range []Config{{IterSchedule: "coarse"}, {CAMScale: "min-max"}, {Method: "lime", CAMScale: "min-max"}, {Method: "gradcam", CAMScale: "norm"}} {
		if err := c.WithDefaults().Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if err := (Config{Method: "gradcam++", CAMScale: "min-max"}).WithDefaults().Validate(); err != nil {
		t.Error(err)
	}
}
