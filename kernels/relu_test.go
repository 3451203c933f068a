package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestReluKernels holds ReluGrad32 and AddRelu32 to Go loops bit for bit
// on every path (the Go path leaves every element to the caller), lengths
// around the vector sizes, with -0, +0, infinities, NaNs of both signs,
// subnormals and random values; the elements past the returned count are
// left alone.
func TestReluKernels(t *testing.T) {
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1, float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), math.Float32frombits(0xffc00001), math.Float32frombits(1), math.Float32frombits(0x80000001)}
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 77))
		for _, n := range []int{0, 1, 7, 8, 15, 16, 17, 31, 33, 64, 100, 1000} {
			val := func() float32 {
				if rng.IntN(3) == 0 {
					return special[rng.IntN(len(special))]
				}
				return float32(rng.NormFloat64())
			}
			a, b := make([]float32, n), make([]float32, n)
			for i := range a {
				a[i], b[i] = val(), val()
			}
			const mark = 12345
			for _, op := range []struct {
				name string
				fn   func(a, b, out []float32) int
				want func(a, b float32) float32
			}{
				{"ReluGrad32", ReluGrad32, func(g, y float32) float32 {
					if int32(math.Float32bits(y)) > 0 {
						return g
					}
					return 0
				}},
				{"AddRelu32", AddRelu32, func(a, b float32) float32 {
					bits := math.Float32bits(a + b)
					return math.Float32frombits(bits &^ uint32(int32(bits)>>31))
				}},
			} {
				out := make([]float32, n)
				for i := range out {
					out[i] = mark
				}
				done := op.fn(a, b, out)
				want := map[Path]int{AVX512: n &^ 15, AVX2: n &^ 7, Go: 0}[Current()]
				if done != want {
					t.Fatalf("%s of %d elements did %d, want %d", op.name, n, done, want)
				}
				for i, v := range out {
					w := op.want(a[i], b[i])
					if i >= done {
						w = mark
					}
					if math.Float32bits(v) != math.Float32bits(w) {
						t.Fatalf("%s of %d elements: element %d (%v, %v) = %v (%#x), want %v (%#x)", op.name, n, i, a[i], b[i], v, math.Float32bits(v), w, math.Float32bits(w))
					}
				}
			}
		}
	})
}
