package kernels

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// pool2x2Ref is the naive reference of MaxPool2x2Values: each window's
// first largest value in row-major order (strictly greater replaces), -1
// for a window holding a NaN (the kernel must stop before its row).
func pool2x2Ref(x []float32, w, stride, ow, rows int) ([]float32, int) {
	out := make([]float32, rows*ow)
	for i := 0; i < rows; i++ {
		for j := 0; j < ow; j++ {
			r := i*stride + 2*j
			win := []float32{x[r], x[r+1], x[r+w], x[r+w+1]}
			best := win[0]
			for _, v := range win {
				if v != v {
					return out, i
				}
				if v > best {
					best = v
				}
			}
			out[i*ow+j] = best
		}
	}
	return out, rows
}

// checkPool2x2Values runs MaxPool2x2Values on one geometry and compares
// bits with the reference (on paths without the kernel it must do
// nothing).
func checkPool2x2Values(t *testing.T, rng *rand.Rand, w, stride, ow, rows, choice int) {
	t.Helper()
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1, float32(math.Inf(1)), float32(math.Inf(-1))}
	n := (rows-1)*stride + w + 2*ow
	x := make([]float32, n+rng.IntN(3))
	for i := range x {
		switch choice {
		case 0:
			x[i] = rng.Float32()*2 - 1
		case 1:
			x[i] = float32(rng.IntN(3)) // many ties
		default:
			x[i] = special[rng.IntN(len(special))]
		}
	}
	if choice == 3 && rows > 0 { // a NaN in a window of a middle row
		i := rng.IntN(rows)
		x[i*stride+2*rng.IntN(ow)+w*rng.IntN(2)+rng.IntN(2)] = float32(math.NaN())
	}
	want, wantRows := pool2x2Ref(x, w, stride, ow, rows)
	dst := make([]float32, rows*ow+1)
	dst[rows*ow] = 42 // must stay
	done := MaxPool2x2Values(x, w, stride, ow, rows, dst)
	if Current() != AVX512 {
		if done != 0 {
			t.Fatalf("path %s did %d rows, want none", Current(), done)
		}
		return
	}
	if done != wantRows {
		t.Fatalf("w %d stride %d ow %d rows %d: did %d rows, want %d", w, stride, ow, rows, done, wantRows)
	}
	for i := 0; i < done*ow; i++ {
		if math.Float32bits(dst[i]) != math.Float32bits(want[i]) {
			t.Fatalf("w %d stride %d ow %d rows %d choice %d: window %d is %g (%08x), want %g (%08x)",
				w, stride, ow, rows, choice, i, dst[i], math.Float32bits(dst[i]), want[i], math.Float32bits(want[i]))
		}
	}
	if dst[rows*ow] != 42 {
		t.Fatalf("w %d ow %d rows %d: wrote past the last output", w, ow, rows)
	}
	checkPool2x2Rows(t, x, w, stride, ow, rows, choice, wantRows)
}

// checkPool2x2Rows runs MaxPool2x2Rows on x and compares its indices and
// values bit for bit with the naive first maximum of each window (rows
// before the first NaN: wantRows).
func checkPool2x2Rows(t *testing.T, x []float32, w, stride, ow, rows, choice, wantRows int) {
	t.Helper()
	const base = 1000
	idx := make([]int32, rows*ow+1)
	val := make([]float32, rows*ow+1)
	idx[rows*ow], val[rows*ow] = 42, 42 // must stay
	done := MaxPool2x2Rows(x, w, stride, ow, rows, base, idx, val)
	if done != wantRows {
		t.Fatalf("MaxPool2x2Rows w %d stride %d ow %d rows %d: did %d rows, want %d", w, stride, ow, rows, done, wantRows)
	}
	offs := [4]int{0, 1, w, w + 1}
	for i := 0; i < done; i++ {
		for j := 0; j < ow; j++ {
			r := i*stride + 2*j
			best := 0
			for k := 1; k < 4; k++ {
				if x[r+offs[k]] > x[r+offs[best]] {
					best = k
				}
			}
			wantIdx, wantVal := int32(base+r+offs[best]), x[r+offs[best]]
			if got := idx[i*ow+j]; got != wantIdx || math.Float32bits(val[i*ow+j]) != math.Float32bits(wantVal) {
				t.Fatalf("MaxPool2x2Rows w %d stride %d ow %d rows %d choice %d: window (%d,%d) is index %d value %g, want %d and %g",
					w, stride, ow, rows, choice, i, j, got, val[i*ow+j], wantIdx, wantVal)
			}
		}
	}
	if idx[rows*ow] != 42 || val[rows*ow] != 42 {
		t.Fatalf("MaxPool2x2Rows w %d ow %d rows %d: wrote past the last output", w, ow, rows)
	}
}

// MaxPool2x2Values and MaxPool2x2Rows against the naive reference on random geometries (rows
// of 1 to 40 windows: full blocks, masked tails and both; odd widths whose
// last column no window reads; row strides of 2 and more rows; several
// planes' rows in one call), with ties, -0/+0, infinities and NaNs, on
// every path.
func TestMaxPool2x2Values(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(21, 21))
		for _, c := range [][3]int{{28, 14, 14}, {14, 7, 7}, {32, 16, 16}, {16, 8, 8}, {2, 1, 1}, {64, 32, 4}, {66, 33, 3}} {
			for choice := 0; choice < 4; choice++ {
				checkPool2x2Values(t, rng, c[0], 2*c[0], c[1], c[2], choice)
			}
		}
		for trial := 0; trial < 300; trial++ {
			ow := 1 + rng.IntN(40)
			w := 2*ow + rng.IntN(2)
			stride := w * (2 + rng.IntN(2))
			checkPool2x2Values(t, rng, w, stride, ow, 1+rng.IntN(12), rng.IntN(4))
		}
	})
}

// FuzzMaxPool2x2Values holds MaxPool2x2Values and MaxPool2x2Rows to the reference on
// geometries and values the fuzzer chooses.
func FuzzMaxPool2x2Values(f *testing.F) {
	f.Add(uint8(14), uint8(0), uint8(1), uint8(28), uint8(0), uint64(1))
	f.Add(uint8(7), uint8(1), uint8(0), uint8(7), uint8(3), uint64(2))
	f.Add(uint8(33), uint8(1), uint8(1), uint8(5), uint8(2), uint64(3))
	f.Fuzz(func(t *testing.T, ow, oddW, extraStride, rows, choice uint8, seed uint64) {
		o := 1 + int(ow)%48
		w := 2*o + int(oddW)%2
		stride := w * (2 + int(extraStride)%3)
		forEachPath(t, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, uint64(bits.OnesCount8(choice))))
			checkPool2x2Values(t, rng, w, stride, o, 1+int(rows)%30, int(choice)%4)
		})
	})
}
