package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestDescriptiveEdgeCases(t *testing.T) {
	if !math.IsNaN(Mean(nil)) || !math.IsNaN(Median(nil)) || !math.IsNaN(StdDev([]float64{1})) {
		t.Error("empty or single-value input should give NaN")
	}
	if !math.IsNaN(Median([]float64{1, math.NaN(), 3})) {
		t.Error("median with NaN should be NaN")
	}
	x := []float64{4, 1, 3, 2}
	if q := Quantiles(x, 0, 1, -0.1, 1.1, 0.5); q[0] != 1 || q[1] != 4 || !math.IsNaN(q[2]) || !math.IsNaN(q[3]) || q[4] != 2.5 {
		t.Errorf("Quantiles = %v", q)
	}
	if !slices.Equal(x, []float64{4, 1, 3, 2}) {
		t.Error("Quantiles reordered its input")
	}
	// The mean stays accurate with a large offset.
	y := []float64{1e9 + 0.1, 1e9 + 0.2, 1e9 + 0.3}
	if m := Mean(y); math.Abs(m-(1e9+0.2)) > 1e-6 {
		t.Errorf("Mean = %.10f", m)
	}
	if v := Variance(y); math.Abs(v-0.01) > 1e-6 {
		t.Errorf("Variance = %v", v)
	}
	s := Describe([]float64{5, 1, 3})
	if s.N != 3 || s.Mean != 3 || s.Min != 1 || s.Max != 5 || s.Median != 3 || s.Q1 != 2 || s.Q3 != 4 || s.StdDev != 2 {
		t.Errorf("Describe = %+v", s)
	}
}

func TestRanks(t *testing.T) {
	r, tie := Ranks([]float64{10, 20, 10, 30, 10, 20})
	want := []float64{2, 4.5, 2, 6, 2, 4.5}
	if !slices.Equal(r, want) || tie != (27-3)+(8-2) {
		t.Errorf("Ranks = %v, %v; want %v, 30", r, tie, want)
	}
}

// bruteForceP enumerates every way to split the pooled ranks 1..n1+n2 between the groups and
// returns the two-sided exact p-value 2*P(U <= min(u, n1*n2-u)).
func bruteForceP(n1, n2 int, u float64) float64 {
	n := n1 + n2
	var count, total float64
	k := math.Min(u, float64(n1*n2)-u)
	for mask := 0; mask < 1<<n; mask++ {
		if popcount(mask) != n1 {
			continue
		}
		// U of the group marked by mask: pairs (x in mask, y not in mask) with x above y.
		var uu, ys float64
		for i := range n { // positions in increasing order
			if mask&(1<<i) != 0 {
				uu += ys
			} else {
				ys++
			}
		}
		total++
		if uu <= k {
			count++
		}
	}
	return math.Min(1, 2*count/total)
}

func popcount(m int) int {
	c := 0
	for ; m != 0; m &= m - 1 {
		c++
	}
	return c
}

func TestMannWhitneyExactBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sz := range [][2]int{{1, 1}, {1, 5}, {3, 4}, {5, 5}, {6, 3}, {7, 8}, {2, 12}} {
		for range 5 {
			vals := r.Perm(sz[0] + sz[1])
			x := make([]float64, sz[0])
			y := make([]float64, sz[1])
			for i := range x {
				x[i] = float64(vals[i])
			}
			for i := range y {
				y[i] = float64(vals[sz[0]+i])
			}
			res, err := MannWhitneyUMethod(x, y, Exact)
			if err != nil {
				t.Fatal(err)
			}
			if want := bruteForceP(sz[0], sz[1], res.U); math.Abs(res.P-want) > 1e-12 {
				t.Errorf("n=%v U=%v: exact p %v, enumeration %v", sz, res.U, res.P, want)
			}
		}
	}
	// The null distribution sums to one and is symmetric.
	d := uDistribution(6, 9)
	var s float64
	for i, p := range d {
		s += p
		if math.Abs(p-d[len(d)-1-i]) > 1e-15 {
			t.Fatalf("asymmetric at %d", i)
		}
	}
	if math.Abs(s-1) > 1e-12 {
		t.Errorf("sum = %v", s)
	}
}

func TestMannWhitneyProperties(t *testing.T) {
	x := []float64{5, 6, 7, 8, 9, 10, 11, 12, 13, 14}
	y := []float64{1, 2, 3, 4, 5.5, 6.5, 7.5, 8.5, 9.5, 1.5}
	a, err := MannWhitneyU(x, y)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := MannWhitneyU(y, x)
	if a.U+b.U != 100 || a.P != b.P || a.Z != -b.Z || a.RankBiserial != -b.RankBiserial {
		t.Errorf("swapping the samples: %+v vs %+v", a, b)
	}
	if a.Z <= 0 || a.RankBiserial <= 0 || a.CommonLanguage != a.U/100 || a.Exact {
		t.Errorf("x larger: %+v", a)
	}
	// Common-language effect size by direct counting.
	var wins float64
	for _, xv := range x {
		for _, yv := range y {
			switch {
			case xv > yv:
				wins++
			case xv == yv:
				wins += 0.5
			}
		}
	}
	if a.U != wins {
		t.Errorf("U = %v, pair count %v", a.U, wins)
	}
	// Complete separation gives rank-biserial 1.
	c, _ := MannWhitneyU([]float64{10, 11, 12}, []float64{1, 2})
	if c.RankBiserial != 1 || c.CommonLanguage != 1 || !c.Exact {
		t.Errorf("separated: %+v", c)
	}
	// All values tied.
	d, err := MannWhitneyU([]float64{1, 1, 1}, []float64{1, 1})
	if err != nil || d.P != 1 || d.Z != 0 || d.RankBiserial != 0 {
		t.Errorf("all tied: %+v, %v", d, err)
	}
	// Large samples use the normal approximation and are fast.
	r := rand.New(rand.NewPCG(3, 4))
	big1, big2 := make([]float64, 5000), make([]float64, 7000)
	for i := range big1 {
		big1[i] = r.NormFloat64() + 0.1
	}
	for i := range big2 {
		big2[i] = r.NormFloat64()
	}
	e, err := MannWhitneyU(big1, big2)
	if err != nil || e.Exact || e.P > 1e-3 {
		t.Errorf("large shifted samples: %+v, %v", e, err)
	}
}

func TestMannWhitneyErrors(t *testing.T) {
	tests := []struct {
		x, y   []float64
		method Method
		want   string
	}{
		{nil, []float64{1}, Auto, "first sample is empty"},
		{[]float64{1}, nil, Auto, "second sample is empty"},
		{[]float64{1, math.NaN()}, []float64{1}, Auto, "first sample[1] is NaN"},
		{[]float64{1, 2}, []float64{2, 3}, Exact, "without tied values"},
		{make([]float64, 200), make([]float64, 200), Auto, ""}, // ties: asymptotic, fine
		{seq(200), seq2(200), Exact, "limited to n1*n2"},
		{[]float64{1}, []float64{2}, Method(9), "unknown method"},
	}
	for i, tc := range tests {
		_, err := MannWhitneyUMethod(tc.x, tc.y, tc.method)
		if tc.want == "" {
			if err != nil {
				t.Errorf("case %d: %v", i, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("case %d: error %v, want %q", i, err, tc.want)
		}
	}
}

func seq(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = float64(i)
	}
	return s
}

func seq2(n int) []float64 {
	s := seq(n)
	for i := range s {
		s[i] += 0.5
	}
	return s
}

func TestSpearmanProperties(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5, 6}
	y := []float64{1, 8, 27, 64, 125, 216} // monotone, not linear
	r, err := Spearman(x, y)
	if err != nil || r.Rho != 1 || r.P != 0 {
		t.Errorf("monotone: %+v, %v", r, err)
	}
	p, _ := Pearson(x, y)
	if p >= 1 || p < 0.9 {
		t.Errorf("Pearson of a cubic = %v", p)
	}
	slices.Reverse(y)
	r, _ = Spearman(x, y)
	if r.Rho != -1 {
		t.Errorf("reversed: %+v", r)
	}
	for _, tc := range []struct {
		x, y []float64
		want string
	}{
		{[]float64{1, 2}, []float64{1, 2}, "2 pairs, need at least 3"},
		{[]float64{1, 2, 3}, []float64{1, 2}, "x has 3 values but y has 2"},
		{[]float64{1, 1, 1}, []float64{1, 2, 3}, "x is constant"},
		{[]float64{1, 2, 3}, []float64{4, 4, 4}, "y is constant"},
		{[]float64{1, 2, math.Inf(1)}, []float64{1, 2, 3}, "x[2] is +Inf"},
	} {
		if _, err := Spearman(tc.x, tc.y); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Spearman(%v, %v): %v, want %q", tc.x, tc.y, err, tc.want)
		}
	}
}

func TestBootstrap(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x := make([]float64, 400)
	for i := range x {
		x[i] = 10 + 2*r.NormFloat64()
	}
	b := Bootstrap{Resamples: 4000, Seed: 7}
	ci, err := b.Mean(x)
	if err != nil {
		t.Fatal(err)
	}
	// For the mean of 400 values the percentile interval is close to mean ± 1.96 sd/sqrt(n).
	half := 1.959964 * StdDev(x) / math.Sqrt(float64(len(x)))
	if ci.Estimate != Mean(x) || math.Abs(ci.Lo-(ci.Estimate-half)) > 0.1*half || math.Abs(ci.Hi-(ci.Estimate+half)) > 0.1*half {
		t.Errorf("mean CI %v, normal theory %v ± %v", ci, ci.Estimate, half)
	}
	if ci.Level != 0.95 {
		t.Errorf("Level = %v", ci.Level)
	}
	again, _ := b.Mean(x)
	if again != ci {
		t.Error("same seed gave a different interval")
	}
	other, _ := Bootstrap{Resamples: 4000, Seed: 8}.Mean(x)
	if other == ci {
		t.Error("different seeds gave the same interval")
	}
	med, err := b.Median(x)
	if err != nil || med.Estimate != Median(x) || !(med.Lo < med.Estimate && med.Estimate < med.Hi) {
		t.Errorf("median CI %v, %v", med, err)
	}
	// A wider level gives a wider interval.
	wide, _ := Bootstrap{Resamples: 4000, Seed: 7, Level: 0.99}.Mean(x)
	if !(wide.Lo < ci.Lo && wide.Hi > ci.Hi) {
		t.Errorf("99%% %v not wider than 95%% %v", wide, ci)
	}
	// Constant data: a degenerate interval.
	c, _ := Bootstrap{}.Median([]float64{3, 3, 3})
	if c.Lo != 3 || c.Hi != 3 {
		t.Errorf("constant data: %v", c)
	}
	// Difference of two groups.
	y := make([]float64, 300)
	for i := range y {
		y[i] = 9 + 2*r.NormFloat64()
	}
	d, err := b.Diff(x, y, Mean)
	if err != nil || math.Abs(d.Estimate-(Mean(x)-Mean(y))) > 1e-12 || !(d.Lo > 0) || !(d.Lo < d.Estimate && d.Estimate < d.Hi) {
		t.Errorf("difference CI %v, %v", d, err)
	}
	for _, tc := range []struct {
		b    Bootstrap
		x    []float64
		want string
	}{
		{Bootstrap{}, nil, "sample is empty"},
		{Bootstrap{}, []float64{1, math.NaN()}, "sample[1] is NaN"},
		{Bootstrap{Resamples: 5}, []float64{1}, "5 resamples"},
		{Bootstrap{Level: 1.5}, []float64{1}, "confidence level 1.5"},
	} {
		if _, err := tc.b.Mean(tc.x); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v on %v: %v, want %q", tc.b, tc.x, err, tc.want)
		}
	}
}

// TestBootstrapCoverage checks that 90% intervals for the mean of normal data cover the true
// mean about 90% of the time.
func TestBootstrapCoverage(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const trials = 300
	covered := 0
	x := make([]float64, 50)
	for i := range trials {
		for j := range x {
			x[j] = r.NormFloat64()
		}
		ci, err := Bootstrap{Resamples: 500, Level: 0.9, Seed: uint64(i)}.Mean(x)
		if err != nil {
			t.Fatal(err)
		}
		if ci.Lo <= 0 && 0 <= ci.Hi {
			covered++
		}
	}
	// Binomial(300, ~0.88) (the percentile interval is a little short for n=50): 3 sd is ~0.06.
	if rate := float64(covered) / trials; rate < 0.80 || rate > 0.96 {
		t.Errorf("coverage %v, want about 0.9", rate)
	}
}

func TestWilsonErrors(t *testing.T) {
	for _, tc := range []struct {
		k, n  int
		level float64
		want  string
	}{
		{0, 0, 0.95, "0 trials"},
		{5, 4, 0.95, "5 successes out of 4"},
		{-1, 4, 0.95, "-1 successes"},
		{1, 4, 0, "confidence level 0"},
	} {
		if _, err := Wilson(tc.k, tc.n, tc.level); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Wilson(%d, %d, %v): %v, want %q", tc.k, tc.n, tc.level, err, tc.want)
		}
	}
}

func TestBinRates(t *testing.T) {
	x := []float64{0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0}
	s := []bool{true, true, true, false, true, false, false, true, false, false, false}
	bins, err := BinRates(x, s, 2, EqualWidth, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	// [0, 0.5): 0..0.4 (5 values, 4 successes); [0.5, 1]: 0.5..1.0 (6 values, 1 success).
	if len(bins) != 2 || bins[0].Count != 5 || bins[0].Successes != 4 || bins[1].Count != 6 || bins[1].Successes != 1 {
		t.Fatalf("bins = %+v", bins)
	}
	w, _ := Wilson(4, 5, 0.95)
	if bins[0].Rate != 0.8 || bins[0].RateLo != w.Lo || bins[0].RateHi != w.Hi || math.Abs(bins[0].MeanX-0.2) > 1e-15 {
		t.Errorf("bin 0 = %+v", bins[0])
	}
	if bins[0].Lo != 0 || bins[0].Hi != 0.5 || bins[1].Lo != 0.5 || bins[1].Hi != 1 {
		t.Errorf("edges: %+v", bins)
	}

	// Quantile bins hold about equal counts; tied values merge edges.
	q, err := BinRates(x, s, 4, EqualCount, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	var counts []int
	for _, b := range q {
		counts = append(counts, b.Count)
	}
	if !slices.Equal(counts, []int{3, 2, 3, 3}) { // edges 0, 0.25, 0.5, 0.75, 1
		t.Errorf("quantile bin counts %v", counts)
	}
	tied := []float64{0, 0, 0, 0, 0, 0, 1, 2}
	q, err = BinRates(tied, make([]bool, 8), 4, EqualCount, 0.95)
	if err != nil || len(q) != 2 || q[0].Count != 6 || q[1].Count != 2 { // edges 0, 0.25, 2
		t.Errorf("tied quantile bins: %+v, %v", q, err)
	}
	one, err := BinRates([]float64{2, 2, 2}, []bool{true, false, true}, 5, EqualWidth, 0.95)
	if err != nil || len(one) != 1 || one[0].Count != 3 || one[0].Successes != 2 {
		t.Errorf("constant x: %+v, %v", one, err)
	}

	// Fixed edges, with an empty bin.
	e, err := BinEdges([]float64{0.05, 0.1, 0.95}, []bool{true, false, true}, []float64{0, 0.25, 0.5, 0.75, 1}, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	if e[1].Count != 0 || !math.IsNaN(e[1].Rate) || e[1].RateLo != 0 || e[1].RateHi != 1 || e[3].Count != 1 {
		t.Errorf("fixed edges: %+v", e)
	}

	for _, tc := range []struct {
		x     []float64
		s     []bool
		edges []float64
		want  string
	}{
		{[]float64{1}, nil, []float64{0, 1}, "1 values but 0 outcomes"},
		{[]float64{2}, []bool{true}, []float64{0, 1}, "x[0] = 2 is outside the edges [0, 1]"},
		{[]float64{0.5}, []bool{true}, []float64{0, 1, 1}, "edges must increase"},
		{[]float64{0.5}, []bool{true}, []float64{0}, "1 edges"},
		{[]float64{math.NaN()}, []bool{true}, []float64{0, 1}, "x[0] is NaN"},
	} {
		if _, err := BinEdges(tc.x, tc.s, tc.edges, 0.95); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("BinEdges(%v, %v, %v): %v, want %q", tc.x, tc.s, tc.edges, err, tc.want)
		}
	}
	if _, err := BinRates(x, s, 0, EqualWidth, 0.95); err == nil {
		t.Error("0 bins accepted")
	}
}

func TestLogisticSeparation(t *testing.T) {
	x := []float64{0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9}
	y := []bool{false, false, false, false, true, true, true, true}
	r, err := Logistic(y, [][]float64{x}, LogisticOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Separated || !(r.Coef[1] > 10) || math.IsInf(r.Coef[1], 0) || math.IsNaN(r.StdErr[1]) {
		t.Errorf("separable data: %+v", r)
	}
	if p := r.Prob(0.5); math.Abs(p-0.5) > 0.01 {
		t.Errorf("Prob(0.5) = %v, want about 0.5 by symmetry", p)
	}
	if _, err := Logistic(y, [][]float64{x}, LogisticOptions{Ridge: -1}); err == nil || !strings.Contains(err.Error(), "separable") {
		t.Errorf("separable data without ridge: %v", err)
	}
}

func TestLogisticRecovers(t *testing.T) {
	// Simulated data with known coefficients; the estimates should land within a few SEs.
	r := rand.New(rand.NewPCG(11, 12))
	n := 3000
	x1, x2 := make([]float64, n), make([]float64, n)
	y := make([]bool, n)
	for i := range n {
		x1[i] = r.Float64()
		x2[i] = 100 + 20*r.NormFloat64() // a predictor on another scale
		eta := 1.5 - 4*x1[i] + 0.02*(x2[i]-100)
		y[i] = r.Float64() < 1/(1+math.Exp(-eta))
	}
	res, err := Logistic(y, [][]float64{x1, x2}, LogisticOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{1.5 - 2, -4, 0.02}
	for j, w := range want {
		if math.Abs(res.Coef[j]-w) > 4*res.StdErr[j] {
			t.Errorf("coefficient %d = %v ± %v, true %v", j, res.Coef[j], res.StdErr[j], w)
		}
		if math.Abs(res.Z[j]-res.Coef[j]/res.StdErr[j]) > 1e-12 {
			t.Errorf("Z[%d] inconsistent", j)
		}
	}
	if res.P[1] > 1e-10 || res.LRP > 1e-10 || res.Separated || res.LRStat <= 0 {
		t.Errorf("strong effect not detected: %+v", res)
	}
}

func TestLogisticErrors(t *testing.T) {
	y := []bool{true, false, true, false}
	for _, tc := range []struct {
		y    []bool
		x    [][]float64
		want string
	}{
		{y, nil, "no predictors"},
		{y, [][]float64{{1, 2, 3}}, "predictor 0 has 3 values, want 4"},
		{y, [][]float64{{1, 1, 1, 1}}, "predictor 0 is constant"},
		{y, [][]float64{{1, 2, math.NaN(), 4}}, "observation 2 is NaN"},
		{[]bool{true, true, true, true}, [][]float64{{1, 2, 3, 4}}, "all 4 outcomes are true"},
		{[]bool{true, false}, [][]float64{{1, 2}}, "2 observations for 2 coefficients"},
		{[]bool{true, false, true, false, true}, [][]float64{{1, 2, 3, 4, 5}, {2, 4, 6, 8, 10}}, "collinear"},
	} {
		opt := LogisticOptions{}
		if tc.want == "collinear" {
			opt.Ridge = -1
		}
		if _, err := Logistic(tc.y, tc.x, opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.x, err, tc.want)
		}
	}
}
