package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAvgPoolPlane3x3 holds the flat 3x3 average pool (Inception v3's
// branch pool: stride 1, padding 1 counted) to avgPoolPlane, and its
// adjoint to avgPoolAdjointPlane, bit for bit (NaNs as NaNs) on every
// kernel path, planes of 3x3 to 40x37 with -0, infinities and NaNs among
// random values, and checks that pools without counted padding are left
// to avgPoolPlane.
func TestAvgPoolPlane3x3(t *testing.T) {
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-40}
	p := Conv2dParams{StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, DilationH: 1, DilationW: 1}
	forEachKernelPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 33))
		for trial := 0; trial < 60; trial++ {
			h, w := 3+rng.IntN(38), 3+rng.IntN(35)
			g, _ := PoolOutShape("test", []int{1, 1, h, w}, 3, 3, p)
			x := make([]float32, h*w)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
				if trial%3 == 2 && rng.IntN(20) == 0 {
					x[i] = special[rng.IntN(len(special))]
				}
			}
			rows := newPoolAxis(g.h, g.oh, g.kh, 1, 1, true)
			cols := newPoolAxis(g.w, g.ow, g.kw, 1, 1, true)
			rowInv, colInv := make([]float32, g.oh), make([]float32, g.ow)
			for o := range colInv {
				colInv[o] = 1
			}
			for o := range rowInv {
				rowInv[o] = float32(1.0 / 9)
			}
			want, got := make([]float32, h*w), make([]float32, h*w)
			avgPoolPlane(x, want, make([]float32, h*w), g, rows, cols, rowInv, colInv)
			if !avgPoolPlane3x3(x, got, make([]float32, h*w), g, rows, cols, rowInv, colInv, true) {
				t.Fatalf("%dx%d: not taken", h, w)
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
					t.Fatalf("%dx%d: element %d (row %d, column %d) is %v, avgPoolPlane gives %v", h, w, i, i/w, i%w, got[i], want[i])
				}
			}
			if avgPoolPlane3x3(x, got, make([]float32, h*w), g, rows, cols, rowInv, colInv, false) {
				t.Fatalf("%dx%d: taken without countPad", h, w)
			}
			// the adjoint, x the output gradient
			avgPoolAdjointPlane(want, x, make([]float32, h*w), g, rows, cols, rowInv, colInv)
			if !avgPoolAdjointPlane3x3(got, x, make([]float32, h*w), g, rows, cols, rowInv, colInv, true) {
				t.Fatalf("%dx%d: adjoint not taken", h, w)
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
					t.Fatalf("%dx%d: adjoint element %d (row %d, column %d) is %v, avgPoolAdjointPlane gives %v", h, w, i, i/w, i%w, got[i], want[i])
				}
			}
		}
	})
}
