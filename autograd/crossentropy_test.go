package autograd

import (
	"math"
	"testing"

	"github.com/arp-robustness/arp/tensor"
)

// TestCrossEntropyConfidentRows checks value and logit gradient of the
// cross-entropy in float32 against float64 closed forms on rows where
// 1 - p(label) runs from 1e-4 down to 1e-30: the label's gradient entry,
// p - 1, is -sum of the others' and must keep its relative precision
// (written p - 1 in float32 it is 0 below about 6e-8).
func TestCrossEntropyConfidentRows(t *testing.T) {
	for _, smoothing := range []float64{0, 0.1} {
		for _, margin := range []float64{9, 16, 25, 40, 69} {
			// row: label 2 at margin, the others at 0, -1, -2, -3
			z := []float64{0, -1, margin, -2, -3}
			c := len(z)
			zv := Param(tensor.FromFloat32([]float32{0, -1, float32(margin), -2, -3}, 1, c))
			loss := CrossEntropy(zv, []int{2}, smoothing)
			g, err := Grad([]*Var{loss}, nil, []*Var{zv}, false)
			if err != nil {
				t.Fatal(err)
			}
			got := g[0].Value().Float64s()
			// float64 closed forms
			others := 0.0
			for k, v := range z {
				if k != 2 {
					others += math.Exp(v - margin)
				}
			}
			rel := math.Log1p(others) // log sum exp(z) - margin
			wantLoss := 0.0
			for k, v := range z {
				tk := smoothing / float64(c)
				if k == 2 {
					tk += 1 - smoothing
				}
				wantLoss += tk * (rel - (v - margin))
				p := math.Exp(v - margin - rel)
				want := p - tk
				if k == 2 {
					want = -others/(1+others) + smoothing*(1-1/float64(c))
				}
				if d := math.Abs(got[k] - want); d > 1e-5*math.Abs(want) {
					t.Errorf("smoothing %g margin %g: dL/dz_%d = %g, want %g", smoothing, margin, k, got[k], want)
				}
			}
			if d := math.Abs(loss.Item() - wantLoss); d > 1e-5*wantLoss {
				t.Errorf("smoothing %g margin %g: loss %g, want %g", smoothing, margin, loss.Item(), wantLoss)
			}
		}
	}
}
