package stats

import (
	"fmt"
	"math"
)

// Paired compares two binary outcomes measured on the same items (two
// models on the same images, say): the counts of the four combinations,
// the difference of the proportions A - B with a confidence interval, and
// the exact McNemar test of equal proportions.
type Paired struct {
	N       int `json:"n"`
	Both    int `json:"both"`    // A and B true
	OnlyA   int `json:"only_a"`  // A true, B false
	OnlyB   int `json:"only_b"`  // A false, B true
	Neither int `json:"neither"` // both false
	// Diff is the difference pA - pB = (OnlyA - OnlyB)/N with Newcombe's
	// hybrid score interval for paired proportions.
	Diff CI `json:"diff"`
	// P is the exact two-sided McNemar p-value: the binomial test of
	// OnlyA against OnlyB + OnlyA discordant items at probability 1/2.
	P float64 `json:"p"`
}

// PairedProportions compares a[i] and b[i] over the same items. The
// interval is Newcombe's method 10 (Newcombe 1998, "Improved confidence
// intervals for the difference between binomial proportions based on
// paired data", Stat Med 17:2635): each proportion's Wilson interval
// combined with the correlation of the pairs; it stays inside [-1, 1]
// and keeps close to its nominal coverage where the Wald interval does
// not (few discordant pairs, proportions near 0 or 1).
func PairedProportions(a, b []bool, level float64) (Paired, error) {
	if len(a) != len(b) {
		return Paired{}, fmt.Errorf("paired proportions: %d and %d outcomes", len(a), len(b))
	}
	if len(a) == 0 {
		return Paired{}, fmt.Errorf("paired proportions: no items")
	}
	r := Paired{N: len(a)}
	for i := range a {
		switch {
		case a[i] && b[i]:
			r.Both++
		case a[i]:
			r.OnlyA++
		case b[i]:
			r.OnlyB++
		default:
			r.Neither++
		}
	}
	ci, err := newcombePaired(r.Both, r.OnlyA, r.OnlyB, r.Neither, level, true)
	if err != nil {
		return Paired{}, err
	}
	r.Diff = ci
	r.P = mcNemarExact(r.OnlyA, r.OnlyB)
	return r, nil
}

// newcombePaired is Newcombe's method 10 for counts e (both), f (A only),
// g (B only), h (neither); without correlated (a planted defect for the
// tests) it is Newcombe's interval for independent samples (method 10 of
// his 1998 paper on unpaired proportions), which ignores the pairing.
func newcombePaired(e, f, g, h int, level float64, correlated bool) (CI, error) {
	n := e + f + g + h
	fn := float64(n)
	w1, err := Wilson(e+f, n, level)
	if err != nil {
		return CI{}, err
	}
	w2, err := Wilson(e+g, n, level)
	if err != nil {
		return CI{}, err
	}
	p1, p2 := w1.Estimate, w2.Estimate
	theta := float64(f-g) / fn
	phi := 0.0
	if den := float64(e+f) * float64(g+h) * float64(e+g) * float64(f+h); den > 0 && correlated {
		phi = (float64(e)*float64(h) - float64(f)*float64(g)) / math.Sqrt(den)
	}
	d1, d2 := p1-w1.Lo, w2.Hi-p2
	e1, e2 := w1.Hi-p1, p2-w2.Lo
	delta := math.Sqrt(math.Max(0, d1*d1-2*phi*d1*d2+d2*d2))
	eps := math.Sqrt(math.Max(0, e1*e1-2*phi*e1*e2+e2*e2))
	return CI{Estimate: theta, Lo: math.Max(-1, theta-delta), Hi: math.Min(1, theta+eps), Level: level}, nil
}

// mcNemarExact is the two-sided exact McNemar p-value of f against g
// discordant pairs: twice the binomial tail of the larger count at 1/2,
// at most 1.
func mcNemarExact(f, g int) float64 {
	m := f + g
	if m == 0 {
		return 1
	}
	p, _ := BinomialUpperP(max(f, g), m, 0.5)
	return math.Min(1, 2*p)
}
