package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMaxPoolGrad2x2Plane holds the AVX-512 and AVX2 plane kernels to the
// scatter they replace (clear, then add gy where y > 0 at the index) bit
// for bit on random planes (full blocks of 16 or 8 windows, masked tails,
// NaN and signed zero gradients, NaN pooled values), checks their sums,
// and that an index outside its block, or the Go path, is refused.
func TestMaxPoolGrad2x2Plane(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(31, 32))
		for trial := 0; trial < 400; trial++ {
			ph, pw := 1+rng.IntN(9), 1+rng.IntN(40)
			n, ow := ph*pw, 2*pw
			base := int32(rng.IntN(1000))
			gy, y := randSlice[float32](rng, n+3), randSlice[float32](rng, n+3)
			idx := make([]int32, n)
			for i := range idx {
				r, c := i/pw, i%pw
				idx[i] = base + int32(2*r*ow+2*c+rng.IntN(2)*ow+rng.IntN(2))
				switch rng.IntN(12) {
				case 0:
					gy[i] = float32(math.Copysign(0, -1))
					y[i] = 1
				case 1:
					gy[i] = float32(math.NaN())
				case 2:
					y[i] = float32(math.NaN())
				case 3:
					y[i] = 0
				}
			}
			want := make([]float32, 4*n)
			var wsum float64
			for i, j := range idx {
				if y[i] > 0 {
					want[j-base] += gy[i]
					wsum += float64(gy[i])
				}
			}
			z := randSlice[float32](rng, 4*n+5)
			guard := append([]float32(nil), z[4*n:]...)
			s, ok := MaxPoolGrad2x2Plane(gy, y, idx, base, ph, pw, z)
			if Current() == Go {
				if ok {
					t.Fatal("the Go path reported success")
				}
				return
			}
			if !ok {
				t.Fatalf("%dx%d: refused valid indices", ph, pw)
			}
			for i := range want {
				if math.Float32bits(z[i]) != math.Float32bits(want[i]) && !(want[i] != want[i] && z[i] != z[i]) {
					t.Fatalf("%dx%d: element %d = %v, want %v", ph, pw, i, z[i], want[i])
				}
			}
			for i, v := range guard {
				if math.Float32bits(z[4*n+i]) != math.Float32bits(v) {
					t.Fatalf("%dx%d: element %d past the plane written", ph, pw, 4*n+i)
				}
			}
			if !(math.IsNaN(wsum) && math.IsNaN(float64(s))) && math.Abs(float64(s)-wsum) > 1e-4*(1+math.Abs(wsum)) {
				t.Fatalf("%dx%d: sum %v, want %v", ph, pw, s, wsum)
			}
			// an index outside its block (two rows down, or two columns
			// right: a 3x3 window's third row or column)
			bad := rng.IntN(n)
			if pw > 1 && rng.IntN(2) == 0 {
				idx[bad] += 2
			} else {
				idx[bad] += int32(2 * ow)
			}
			if _, ok := MaxPoolGrad2x2Plane(gy, y, idx, base, ph, pw, z); ok {
				t.Fatalf("%dx%d: index %d moved out of its block was accepted", ph, pw, bad)
			}
		}
	})
}

// BenchmarkMaxPoolGrad2x2Plane times one image of CifarNet's conv1 pool
// backward (64 planes of 16x16 windows into 32x32) on the path in use
// (ARP_CPU chooses it): the plane kernel, or on the Go path the scatter it
// replaces (clear the plane, add gy where y > 0 at the index).
func BenchmarkMaxPoolGrad2x2Plane(b *testing.B) {
	const planes, ph, pw = 64, 16, 16
	n, ow := ph*pw, 2*pw
	rng := rand.New(rand.NewPCG(1, 2))
	gy, y := randSlice[float32](rng, planes*n), randSlice[float32](rng, planes*n)
	idx := make([]int32, planes*n)
	for p := 0; p < planes; p++ {
		for i := 0; i < n; i++ {
			r, c := i/pw, i%pw
			idx[p*n+i] = int32(p*4*n + 2*r*ow + 2*c + rng.IntN(2)*ow + rng.IntN(2))
		}
	}
	z := make([]float32, planes*4*n)
	for i := 0; i < b.N; i++ {
		for p := 0; p < planes; p++ {
			o := p * n
			if _, ok := MaxPoolGrad2x2Plane(gy[o:o+n], y[o:o+n], idx[o:o+n], int32(p*4*n), ph, pw, z[4*o:4*o+4*n]); ok {
				continue
			}
			zp := z[4*o : 4*o+4*n]
			clear(zp)
			for k, j := range idx[o : o+n] {
				if y[o+k] > 0 {
					zp[j-int32(4*o)] += gy[o+k]
				}
			}
		}
	}
}
