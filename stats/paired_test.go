package stats

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// exactMcNemar sums the binomial probabilities of the two tails with exact
// rational arithmetic: an independent reference for mcNemarExact.
func exactMcNemar(f, g int) float64 {
	m := f + g
	k := max(f, g)
	tail := new(big.Rat)
	for x := k; x <= m; x++ {
		tail.Add(tail, new(big.Rat).SetInt(new(big.Int).Binomial(int64(m), int64(x))))
	}
	tail.Mul(tail, new(big.Rat).SetFrac(big.NewInt(2), new(big.Int).Lsh(big.NewInt(1), uint(m))))
	v, _ := tail.Float64()
	return math.Min(1, v)
}

func TestPairedProportionsCounts(t *testing.T) {
	a := []bool{true, true, false, false, true, false}
	b := []bool{true, false, true, false, false, false}
	r, err := PairedProportions(a, b, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if r.N != 6 || r.Both != 1 || r.OnlyA != 2 || r.OnlyB != 1 || r.Neither != 2 {
		t.Fatalf("counts %+v", r)
	}
	if math.Abs(r.Diff.Estimate-1.0/6) > 1e-15 || !(r.Diff.Lo < r.Diff.Estimate && r.Diff.Estimate < r.Diff.Hi) {
		t.Fatalf("difference %+v", r.Diff)
	}
	for _, c := range []struct{ a, b []bool }{{a, b[:3]}, {nil, nil}} {
		if _, err := PairedProportions(c.a, c.b, 0.95); err == nil {
			t.Errorf("%d and %d outcomes accepted", len(c.a), len(c.b))
		}
	}
}

func TestMcNemarExact(t *testing.T) {
	for _, c := range [][2]int{{0, 0}, {3, 3}, {1, 0}, {7, 1}, {1, 7}, {20, 5}, {52, 30}, {0, 12}, {140, 100}} {
		got, want := mcNemarExact(c[0], c[1]), exactMcNemar(c[0], c[1])
		if math.Abs(got-want) > 1e-9*math.Max(want, 1e-300) && math.Abs(got-want) > 1e-12 {
			t.Errorf("mcNemarExact(%d, %d) = %.12g, want %.12g", c[0], c[1], got, want)
		}
	}
}

// TestPairedIntervalCoverage: Newcombe's interval covers the true
// difference at about its nominal 95% over simulated paired data (here
// 2,000 data sets per setting, so the coverage is known to about ±1
// point), in settings like the project's: a thousand images, accuracies
// near 0.9 and few discordant pairs. A planted defect (the interval of
// independent samples, phi = 0) over-covers badly where the outcomes are
// strongly correlated (the check below); Newcombe's interval is somewhat
// conservative with very few discordant pairs, so the test wants coverage
// in [0.93, 0.985].
func TestPairedIntervalCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		name               string
		n                  int
		both, onlyA, onlyB float64 // cell probabilities; neither is the rest
	}{
		{"robust models, few discordant", 1000, 0.90, 0.012, 0.008},
		{"equal models", 1000, 0.85, 0.02, 0.02},
		{"small sample", 60, 0.5, 0.15, 0.05},
		{"rare discordance", 2000, 0.93, 0.003, 0.001},
	} {
		t.Run(c.name, func(t *testing.T) {
			truth := c.onlyA - c.onlyB
			covered, coveredUnpaired := 0, 0
			const sets = 2000
			a, b := make([]bool, c.n), make([]bool, c.n)
			for s := 0; s < sets; s++ {
				for i := range a {
					u := rng.Float64()
					switch {
					case u < c.both:
						a[i], b[i] = true, true
					case u < c.both+c.onlyA:
						a[i], b[i] = true, false
					case u < c.both+c.onlyA+c.onlyB:
						a[i], b[i] = false, true
					default:
						a[i], b[i] = false, false
					}
				}
				r, err := PairedProportions(a, b, 0.95)
				if err != nil {
					t.Fatal(err)
				}
				if r.Diff.Lo <= truth && truth <= r.Diff.Hi {
					covered++
				}
				u, err := newcombePaired(r.Both, r.OnlyA, r.OnlyB, r.Neither, 0.95, false)
				if err != nil {
					t.Fatal(err)
				}
				if u.Lo <= truth && truth <= u.Hi && u.Hi-u.Lo > r.Diff.Hi-r.Diff.Lo {
					coveredUnpaired++
				}
			}
			cov := float64(covered) / sets
			unpaired := float64(coveredUnpaired) / sets
			t.Logf("coverage %.3f; the unpaired interval (wider and covering) %.3f", cov, unpaired)
			if cov < 0.93 || cov > 0.985 {
				t.Errorf("coverage %.3f of the nominal 95%%", cov)
			}
			// the planted defect: ignoring the pairing gives wider intervals
			// that over-cover wherever the outcomes are correlated
			if c.name != "small sample" && unpaired < 0.99 {
				t.Errorf("the interval ignoring the pairing was wider and covering in only %.3f of the sets: the test cannot tell it from the paired one", unpaired)
			}
		})
	}
}
