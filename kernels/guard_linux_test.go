package kernels

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"unsafe"
)

// guarded returns a float32 slice of n elements that ends exactly where an
// inaccessible page begins (its capacity is n): reading past its end
// faults instead of reading whatever memory follows. free unmaps it.
func guarded(t *testing.T, n int) (s []float32, free func()) {
	t.Helper()
	page := syscall.Getpagesize()
	size := (n*4+page-1)/page*page + page
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	if err := syscall.Mprotect(mem[size-page:], syscall.PROT_NONE); err != nil {
		t.Skipf("mprotect: %v", err)
	}
	end := size - page
	f := unsafe.Slice((*float32)(unsafe.Pointer(&mem[end-n*4])), n)
	return f[:n:n], func() { syscall.Munmap(mem) }
}

// TestConvInPlaceGuard runs the convolutions that read images in place
// (and input gradients made by them) on a batch that ends at an
// inaccessible page: the last image must be copied, not read past its end
// (a fault fails the test run).
func TestConvInPlaceGuard(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 9))
		for _, hw := range []int{5, 7, 17, 35} {
			g := ConvGeom{N: 2, C: 3, H: hw, W: hw, F: 5, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, OH: hw, OW: hw}
			x, free := guarded(t, g.N*g.C*g.H*g.W)
			copy(x, randSlice[float32](rng, len(x)))
			w := randSlice[float32](rng, g.F*g.C)
			y := make([]float32, g.N*g.F*g.ohw())
			ConvForward(g, x, w, nil, y, false)
			closeTo(t, "forward", g, y, naiveConv(g, x, w, nil), g.ckk())
			free()
			gy, free := guarded(t, len(y))
			copy(gy, randSlice[float32](rng, len(gy)))
			dx := make([]float32, len(x))
			ConvInputGrad(g, gy, w, dx)
			wdx, _ := naiveConvGrads(g, dx, w, gy)
			closeTo(t, "input grad", g, dx, wdx, g.F)
			free()
		}
	})
}
