package kernels

import (
	"math/rand/v2"
	"testing"
)

// TestHotKernelsDoNotAllocate: the kernels called once per channel plane
// or per row make no heap allocation on any path. A kernel called through
// a function value loses its noescape promise, and its pointer arguments
// (a sum, an argument block) then escape: one allocation per call, tens
// of thousands per training step (planted: MaxPoolGrad2x2Plane choosing
// its kernel into a variable, as at 41874d6, fails this).
func TestHotKernelsDoNotAllocate(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		ph, pw := 8, 8
		n := ph * pw
		gy, y := randSlice[float32](rng, n), randSlice[float32](rng, n)
		idx := make([]int32, n)
		for i := range idx {
			idx[i] = int32(2*(i/pw)*2*pw + 2*(i%pw))
		}
		z := make([]float32, 4*n)
		if a := testing.AllocsPerRun(20, func() { MaxPoolGrad2x2Plane(gy, y, idx, 0, ph, pw, z) }); a != 0 {
			t.Errorf("MaxPoolGrad2x2Plane: %v allocations per call", a)
		}
		out := make([]float32, 100)
		if a := testing.AllocsPerRun(20, func() { Binary32(BinMul, gy, 1, y, 0, out[:n]) }); a != 0 {
			t.Errorf("Binary32: %v allocations per call", a)
		}
	})
}
