package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestBinary32 holds Binary32 to a Go loop, bit for bit, on every path,
// for every operation and stride pattern, lengths around the vector width
// and values that include zeros of both signs, infinities, NaNs and
// subnormals.
func TestBinary32(t *testing.T) {
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), 1e-40, -3.5, 7}
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		fill := func(n int) []float32 {
			v := make([]float32, n)
			for i := range v {
				if rng.IntN(5) == 0 {
					v[i] = special[rng.IntN(len(special))]
				} else {
					v[i] = float32(rng.NormFloat64())
				}
			}
			return v
		}
		for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 100, 1000} {
			for op := BinAdd; op <= BinDiv; op++ {
				for _, st := range [][2]int{{1, 1}, {1, 0}, {0, 1}} {
					sa, sb := st[0], st[1]
					a, b := fill(max(1, n*sa)), fill(max(1, n*sb))
					out := fill(n)
					done := Binary32(op, a, sa, b, sb, out)
					if done%16 != 0 || done > n || (Current() == AVX512 && done != n&^15) {
						t.Fatalf("n %d: did %d elements", n, done)
					}
					for i := 0; i < done; i++ {
						x, y := a[i*sa], b[i*sb]
						var want float32
						switch op {
						case BinAdd:
							want = x + y
						case BinSub:
							want = x - y
						case BinMul:
							want = x * y
						case BinDiv:
							want = x / y
						}
						if math.Float32bits(out[i]) != math.Float32bits(want) && !(want != want && out[i] != out[i]) {
							t.Fatalf("op %d strides %d,%d n %d: element %d is %v, want %v (%v, %v)", op, sa, sb, n, i, out[i], want, x, y)
						}
					}
				}
			}
		}
	})
}
