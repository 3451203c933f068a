package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRankBiserialCIAgainstPairs checks the DeLong standard error against
// its definition computed pair by pair.
func TestRankBiserialCIAgainstPairs(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float64, 23)
	y := make([]float64, 31)
	for i := range x {
		x[i] = math.Round(4*r.NormFloat64()+1) / 2 // ties on purpose
	}
	for i := range y {
		y[i] = math.Round(4*r.NormFloat64()) / 2
	}
	psi := func(a, b float64) float64 {
		switch {
		case a > b:
			return 1
		case a == b:
			return 0.5
		}
		return 0
	}
	v10 := make([]float64, len(x))
	v01 := make([]float64, len(y))
	auc := 0.0
	for i, a := range x {
		for j, b := range y {
			s := psi(a, b)
			v10[i] += s / float64(len(y))
			v01[j] += s / float64(len(x))
			auc += s
		}
	}
	auc /= float64(len(x) * len(y))
	want := 2 * math.Sqrt(sampleVariance(v10)/float64(len(x))+sampleVariance(v01)/float64(len(y)))
	ci, se, err := RankBiserialCI(x, y, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	mw, _ := MannWhitneyU(x, y)
	if math.Abs(ci.Estimate-(2*auc-1)) > 1e-12 || math.Abs(ci.Estimate-mw.RankBiserial) > 1e-12 || math.Abs(se-want) > 1e-12 {
		t.Fatalf("r %g se %g, want %g and %g", ci.Estimate, se, 2*auc-1, want)
	}
	z := 1.6448536269514722
	if math.Abs(ci.Lo-(ci.Estimate-z*se)) > 1e-9 || math.Abs(ci.Hi-(ci.Estimate+z*se)) > 1e-9 {
		t.Fatalf("interval %v", ci)
	}
	if _, _, err := RankBiserialCI(nil, y, 0.9); err == nil {
		t.Fatal("empty sample accepted")
	}
}

func TestEquivalenceP(t *testing.T) {
	for _, tc := range []struct{ est, se, margin, want float64 }{
		{0, 0.05, 0.1, normalSF(2)},
		{0.05, 0.05, 0.1, normalSF(1)},
		{-0.05, 0.05, 0.1, normalSF(1)},
		{0.2, 0.05, 0.1, normalSF(-2)},
		{0.05, 0, 0.1, 0},
		{0.1, 0, 0.1, 1},
	} {
		if got := EquivalenceP(tc.est, tc.se, tc.margin); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("EquivalenceP(%g, %g, %g) = %g, want %g", tc.est, tc.se, tc.margin, got, tc.want)
		}
	}
	// p < 0.05 exactly when the 90% interval lies inside the margin
	for _, est := range []float64{-0.2, -0.05, 0, 0.02, 0.04, 0.0178} {
		se := 0.05
		inside := math.Abs(est)+1.6448536269514722*se < 0.1
		if (EquivalenceP(est, se, 0.1) < 0.05) != inside {
			t.Errorf("est %g: p %g but 90%% CI inside = %v", est, EquivalenceP(est, se, 0.1), inside)
		}
	}
}

func TestHolm(t *testing.T) {
	// statsmodels.stats.multitest.multipletests([0.01, 0.04, 0.03, 0.005], method="holm")
	got := Holm([]float64{0.01, 0.04, 0.03, 0.005, math.NaN()})
	want := []float64{0.03, 0.06, 0.06, 0.02}
	for i, w := range want {
		if math.Abs(got[i]-w) > 1e-12 {
			t.Fatalf("Holm = %v, want %v", got, want)
		}
	}
	if !math.IsNaN(got[4]) {
		t.Fatalf("NaN p-value became %g", got[4])
	}
}

func TestMeanCIT(t *testing.T) {
	// scipy.stats.t.ppf(0.975, 2) = 4.302652729911275, t.ppf(0.95, 9) = 1.8331129326536335
	for _, tc := range []struct{ p, df, want float64 }{{0.975, 2, 4.302652729911275}, {0.95, 9, 1.8331129326536335}, {0.025, 2, -4.302652729911275}} {
		if got := TQuantile(tc.p, tc.df); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("TQuantile(%g, %g) = %.15g, want %.15g", tc.p, tc.df, got, tc.want)
		}
	}
	ci, err := MeanCIT([]float64{0.92, 0.93, 0.95}, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	// mean 0.9333..., s = 0.015275..., half-width 4.3027*s/sqrt(3)
	h := 4.302652729911275 * 0.015275252316519468 / math.Sqrt(3)
	if math.Abs(ci.Estimate-0.9333333333333333) > 1e-12 || math.Abs(ci.Hi-ci.Estimate-h) > 1e-9 || math.Abs(ci.Estimate-ci.Lo-h) > 1e-9 {
		t.Fatalf("MeanCIT = %v", ci)
	}
	if _, err := MeanCIT([]float64{1}, 0.95); err == nil {
		t.Fatal("one value accepted")
	}
}

func TestBinomialUpperP(t *testing.T) {
	// against the tail summed term by term
	direct := func(k, n int, p float64) float64 {
		s := 0.0
		for j := k; j <= n; j++ {
			lc, _ := math.Lgamma(float64(n + 1))
			a, _ := math.Lgamma(float64(j + 1))
			b, _ := math.Lgamma(float64(n - j + 1))
			s += math.Exp(lc - a - b + float64(j)*math.Log(p) + float64(n-j)*math.Log1p(-p))
		}
		return s
	}
	for _, tc := range []struct {
		k, n int
		p    float64
	}{{3, 100, 0.005}, {1, 100, 0.005}, {103, 8498, 0.005}, {50, 8498, 0.005}, {7, 20, 0.3}} {
		got, err := BinomialUpperP(tc.k, tc.n, tc.p)
		want := direct(tc.k, tc.n, tc.p)
		if err != nil || math.Abs(got-want) > 1e-10*math.Max(want, 1e-300) && math.Abs(got-want) > 1e-14 {
			t.Errorf("BinomialUpperP(%d, %d, %g) = %g, want %g (%v)", tc.k, tc.n, tc.p, got, want, err)
		}
	}
	if p, _ := BinomialUpperP(0, 10, 0.5); p != 1 {
		t.Errorf("P(X >= 0) = %g", p)
	}
	if _, err := BinomialUpperP(11, 10, 0.5); err == nil {
		t.Error("11 of 10 accepted")
	}
}
