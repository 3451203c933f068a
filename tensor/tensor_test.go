package tensor

import (
	"fmt"
	"github.com/arp-robustness/arp/kernels"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func randT(rng *rand.Rand, dt DType, shape ...int) *Tensor {
	t := Zeros(dt, shape...)
	for i := 0; i < t.Size(); i++ {
		t.SetFlat(i, rng.Float64()*2-1)
	}
	return t
}

func near(t *testing.T, name string, got *Tensor, want []float64, tol float64) {
	t.Helper()
	if got.Size() != len(want) {
		t.Fatalf("%s: %d values, want %d", name, got.Size(), len(want))
	}
	for i, w := range want {
		if g := got.AtFlat(i); math.Abs(g-w) > tol || math.IsNaN(g) {
			t.Fatalf("%s[%d] = %g, want %g", name, i, g, w)
		}
	}
}

// naiveConv is a direct 7-loop convolution used as an independent reference.
func naiveConv(x, w *Tensor, p Conv2dParams) *Tensor {
	p = p.norm()
	n, c, h, wd := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	f, kh, kw := w.shape[0], w.shape[2], w.shape[3]
	oh := ConvOutSize(h, kh, p.StrideH, p.PadTop, p.PadBottom, p.DilationH)
	ow := ConvOutSize(wd, kw, p.StrideW, p.PadLeft, p.PadRight, p.DilationW)
	out := Zeros(x.dtype, n, f, oh, ow)
	for b := 0; b < n; b++ {
		for o := 0; o < f; o++ {
			for y := 0; y < oh; y++ {
				for z := 0; z < ow; z++ {
					s := 0.0
					for ch := 0; ch < c; ch++ {
						for i := 0; i < kh; i++ {
							for j := 0; j < kw; j++ {
								iy := y*p.StrideH - p.PadTop + i*p.DilationH
								ix := z*p.StrideW - p.PadLeft + j*p.DilationW
								if iy < 0 || iy >= h || ix < 0 || ix >= wd {
									continue
								}
								s += x.At(b, ch, iy, ix) * w.At(o, ch, i, j)
							}
						}
					}
					out.Set(s, b, o, y, z)
				}
			}
		}
	}
	return out
}

func TestConv2dMatchesDirectLoop(t *testing.T) {
	cases := []struct {
		name   string
		x, w   []int
		params Conv2dParams
	}{
		{"valid", []int{2, 3, 7, 6}, []int{4, 3, 3, 3}, Conv2dParams{}},
		{"same-5x5", []int{2, 2, 8, 8}, []int{3, 2, 5, 5}, Conv2dParams{PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 2}},
		{"stride-asym-pad", []int{1, 2, 9, 7}, []int{2, 2, 3, 2}, Conv2dParams{StrideH: 2, StrideW: 3, PadTop: 1, PadBottom: 2, PadLeft: 0, PadRight: 1}},
		{"dilation", []int{3, 1, 9, 9}, []int{2, 1, 3, 3}, Conv2dParams{DilationH: 2, DilationW: 3, PadTop: 1, PadLeft: 1}},
		{"1x1", []int{3, 5, 4, 4}, []int{6, 5, 1, 1}, Conv2dParams{}},
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, c := range cases {
		for _, dt := range []DType{Float32, Float64} {
			t.Run(c.name+"/"+dt.String(), func(t *testing.T) {
				x, w := randT(rng, dt, c.x...), randT(rng, dt, c.w...)
				got := Conv2d(x, w, c.params)
				want := naiveConv(x, w, c.params)
				if !SameShape(got.shape, want.shape) {
					t.Fatalf("shape %v, want %v", got.shape, want.shape)
				}
				tol := 1e-12
				if dt == Float32 {
					tol = 1e-5
				}
				if d := MaxAbsDiff(got, want); d > tol {
					t.Fatalf("max difference %g", d)
				}
			})
		}
	}
}

func TestSamePadding(t *testing.T) {
	cases := []struct{ in, k, s, d, before, after int }{
		{32, 5, 1, 1, 2, 2},
		{7, 5, 2, 1, 2, 2},
		{6, 5, 2, 1, 1, 2},
		{32, 3, 2, 1, 0, 1},
		{8, 2, 2, 1, 0, 0},
		{5, 3, 1, 2, 2, 2},
	}
	for _, c := range cases {
		b, a := SamePadding(c.in, c.k, c.s, c.d)
		if b != c.before || a != c.after {
			t.Errorf("SamePadding(%d,%d,%d,%d) = %d,%d want %d,%d", c.in, c.k, c.s, c.d, b, a, c.before, c.after)
		}
		if out := ConvOutSize(c.in, c.k, c.s, b, a, c.d); out != (c.in+c.s-1)/c.s {
			t.Errorf("SAME output size %d for input %d stride %d", out, c.in, c.s)
		}
	}
}

func TestPoolingAndResizeMatchTorch(t *testing.T) {
	x := Zeros(Float64, 1, 1, 3, 4)
	for i := 0; i < 12; i++ {
		x.SetFlat(i, float64(i))
	}
	pad1 := Conv2dParams{StrideH: 2, StrideW: 2, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	// reference values printed by torch.nn.functional (see scripts/fixtures)
	near(t, "avgpool-nopad", AvgPool2d(x, 3, 3, pad1, false), []float64{2.5, 4.0, 6.5, 8.0}, 1e-12)
	near(t, "avgpool-pad", AvgPool2d(x, 3, 3, pad1, true), []float64{1.1111111111111112, 2.6666666666666665, 2.888888888888889, 5.333333333333333}, 1e-12)
	near(t, "resize-up", ResizeBilinear(x, 5, 3, false), []float64{0.16666666666666663, 1.5, 2.833333333333333, 1.7666666666666666, 3.1, 4.433333333333333, 4.166666666666667, 5.5, 6.833333333333333, 6.5666666666666655, 7.8999999999999995, 9.233333333333333, 8.166666666666666, 9.5, 10.833333333333334}, 1e-12)
	near(t, "resize-down", ResizeBilinear(x, 2, 2, false), []float64{1.5, 3.5, 7.5, 9.5}, 1e-12)
	near(t, "resize-align", ResizeBilinear(x, 4, 6, true), []float64{0.0, 0.6, 1.2, 1.8, 2.4, 3.0, 2.6666666666666665, 3.2666666666666666, 3.8666666666666663, 4.466666666666667, 5.066666666666666, 5.666666666666666, 5.333333333333333, 5.933333333333333, 6.533333333333333, 7.133333333333333, 7.733333333333333, 8.333333333333332, 8.0, 8.6, 9.2, 9.8, 10.4, 11.0}, 1e-12)
	idx, shape := MaxPool2dIndices(x, 2, 2, Conv2dParams{StrideH: 2, StrideW: 2})
	near(t, "maxpool", GatherFlat(x, idx, shape...), []float64{5, 7}, 0)
	idx, shape = MaxPool2dIndices(x, 3, 3, pad1)
	near(t, "maxpool-pad", GatherFlat(x, idx, shape...), []float64{5, 7, 9, 11}, 0)
	// padding never wins even when all values are negative
	neg := Scale(x, -1)
	idx, shape = MaxPool2dIndices(neg, 3, 3, pad1)
	near(t, "maxpool-neg", GatherFlat(neg, idx, shape...), []float64{0, -1, -4, -5}, 0)
}

func TestBroadcastAndReduce(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, dt := range []DType{Float32, Float64} {
		a := randT(rng, dt, 2, 3, 4)
		b := randT(rng, dt, 3, 1)
		s := Add(a, b)
		for i := 0; i < 2; i++ {
			for j := 0; j < 3; j++ {
				for k := 0; k < 4; k++ {
					if d := s.At(i, j, k) - (a.At(i, j, k) + b.At(j, 0)); math.Abs(d) > 1e-6 {
						t.Fatalf("%v add broadcast wrong at %d,%d,%d", dt, i, j, k)
					}
				}
			}
		}
		m := Mul(b, a) // broadcasting on the left operand
		if d := MaxAbsDiff(m, Mul(a, b)); d > 0 {
			t.Fatalf("mul not symmetric: %g", d)
		}
		r := SumAxes(a, false, 0, 2)
		for j := 0; j < 3; j++ {
			want := 0.0
			for i := 0; i < 2; i++ {
				for k := 0; k < 4; k++ {
					want += a.At(i, j, k)
				}
			}
			if math.Abs(r.At(j)-want) > 1e-5 {
				t.Fatalf("sum over axes 0,2: %g want %g", r.At(j), want)
			}
		}
		tr := Transpose(a, 2, 0, 1)
		if tr.At(3, 1, 2) != a.At(1, 2, 3) {
			t.Fatal("transpose wrong")
		}
		c := Concat(1, Slice(a, 1, 0, 1), Slice(a, 1, 1, 3))
		if MaxAbsDiff(c, a) != 0 {
			t.Fatal("slice+concat does not restore")
		}
	}
}

func TestMatMulAgainstLoops(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, dt := range []DType{Float32, Float64} {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				as, bs := []int{3, 5}, []int{5, 4}
				if ta {
					as = []int{5, 3}
				}
				if tb {
					bs = []int{4, 5}
				}
				a, b := randT(rng, dt, as...), randT(rng, dt, bs...)
				c := MatMul(a, b, ta, tb)
				for i := 0; i < 3; i++ {
					for j := 0; j < 4; j++ {
						s := 0.0
						for k := 0; k < 5; k++ {
							var av, bv float64
							if ta {
								av = a.At(k, i)
							} else {
								av = a.At(i, k)
							}
							if tb {
								bv = b.At(j, k)
							} else {
								bv = b.At(k, j)
							}
							s += av * bv
						}
						if math.Abs(c.At(i, j)-s) > 1e-5 {
							t.Fatalf("%v ta=%v tb=%v: c[%d,%d]=%g want %g", dt, ta, tb, i, j, c.At(i, j), s)
						}
					}
				}
			}
		}
	}
}

func TestLRNWindow(t *testing.T) {
	x := Zeros(Float64, 1, 5, 1, 1)
	for i := 0; i < 5; i++ {
		x.SetFlat(i, float64(i+1))
	}
	near(t, "window", ChannelWindowSum(x, 1), []float64{3, 6, 9, 12, 9}, 0)
	near(t, "window-wide", ChannelWindowSum(x, 4), []float64{15, 15, 15, 15, 15}, 0)
}

func TestReshapeIsAView(t *testing.T) {
	a := Zeros(Float32, 2, 3)
	b := a.Reshape(3, -1)
	b.SetFlat(4, 7)
	if a.AtFlat(4) != 7 {
		t.Fatal("reshape copied the data")
	}
	if !SameShape(b.Shape(), []int{3, 2}) {
		t.Fatalf("shape %v", b.Shape())
	}
}

func TestParallelForCoversRange(t *testing.T) {
	for _, n := range []int{0, 1, 7, 1000} {
		seen := make([]int, n)
		ParallelFor(n, 3, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				seen[i]++
			}
		})
		for i, s := range seen {
			if s != 1 {
				t.Fatalf("n=%d: index %d visited %d times", n, i, s)
			}
		}
	}
}

func TestPowMatchesMathPow(t *testing.T) {
	x := FromFloat64([]float64{0, 1e-8, 0.3, 1, 2.5, 1e6}, 6)
	for _, p := range []float64{0.75, -0.25, -0.75, 1.25, 3, -2, 0.5, 2, 1.7} {
		y := Pow(x, p)
		for i := 0; i < 6; i++ {
			want := math.Pow(x.AtFlat(i), p)
			got := y.AtFlat(i)
			if !(math.Abs(got-want) <= 1e-12*math.Abs(want) || (math.IsInf(want, 1) && math.IsInf(got, 1))) {
				t.Fatalf("Pow(%g, %g) = %g, want %g", x.AtFlat(i), p, got, want)
			}
		}
	}
}

func TestReluAndMaskSpecialValues(t *testing.T) {
	x := FromFloat32([]float32{-2, -0.0, 0, 1e-40, 3, float32(math.Inf(-1)), float32(math.Inf(1))}, 7)
	near(t, "relu", Relu(x), []float64{0, 0, 0, float64(float32(1e-40)), 3, 0, math.Inf(1)}, 0)
	near(t, "mask", PositiveMask(x), []float64{0, 0, 0, 1, 1, 0, 1}, 0)
	negZero := FromFloat32([]float32{float32(math.Copysign(0, -1))}, 1)
	if PositiveMask(negZero).AtFlat(0) != 0 || math.Signbit(Relu(negZero).AtFlat(0)) {
		t.Fatal("-0 handled wrongly")
	}
}

func TestMaxPoolFastPathMatchesGeneral(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	x := randT(rng, Float32, 3, 4, 9, 8)
	for _, c := range []struct{ k, s int }{{2, 2}, {3, 2}, {3, 1}, {2, 3}} {
		if c.k == 2 && c.s == 2 {
			x = randT(rng, Float32, 3, 4, 9, 8) // odd height: last row unused
		}
		p := Conv2dParams{StrideH: c.s, StrideW: c.s}
		idx, shape := MaxPool2dIndices(x, c.k, c.k, p)
		// the general path: a zero-sized explicit padding does not change the windows,
		// dilation 1 given explicitly takes the same route, so compare against a direct loop
		for n := 0; n < shape[0]*shape[1]; n++ {
			for oy := 0; oy < shape[2]; oy++ {
				for ox := 0; ox < shape[3]; ox++ {
					best := math.Inf(-1)
					for i := 0; i < c.k; i++ {
						for j := 0; j < c.k; j++ {
							best = math.Max(best, x.AtFlat(n*72+(oy*c.s+i)*8+ox*c.s+j))
						}
					}
					got := x.AtFlat(int(idx[(n*shape[2]+oy)*shape[3]+ox]))
					if got != best {
						t.Fatalf("k=%d s=%d: window max %g, picked %g", c.k, c.s, best, got)
					}
				}
			}
		}
	}
}

// The float32 pooling kernels choose by value first and position second;
// they must agree with the float64 path (a plain row-major scan in which the
// first maximum and the first NaN win) on ties, -0/+0, infinities, NaNs and
// padded windows.
func TestMaxPool32MatchesFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	special := []float32{0, float32(math.Copysign(0, -1)), 1, 1, -1, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), -float32(math.NaN())}
	cases := []struct {
		k, s   int
		p      Conv2dParams
		h, w   int
		choice int // 0: random, 1: small integers (many ties), 2: specials
	}{
		{2, 2, Conv2dParams{}, 8, 10, 0},
		{2, 2, Conv2dParams{}, 9, 8, 1},
		{2, 2, Conv2dParams{}, 8, 8, 2},
		{3, 2, Conv2dParams{PadBottom: 1, PadRight: 1}, 8, 8, 1},
		{3, 2, Conv2dParams{PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}, 7, 9, 2},
		{3, 1, Conv2dParams{}, 6, 6, 1},
		{2, 3, Conv2dParams{PadTop: 2, PadLeft: 2}, 7, 7, 2},
		// rows of 16 windows and more: the vector kernels (values too)
		{2, 2, Conv2dParams{}, 6, 64, 0},
		{2, 2, Conv2dParams{}, 6, 66, 1},
		{2, 2, Conv2dParams{}, 7, 96, 2},
		{2, 2, Conv2dParams{}, 6, 16, 0}, // 8 windows: one masked block
		{2, 2, Conv2dParams{}, 6, 46, 1}, // 23 windows: a block and a masked one
		{2, 2, Conv2dParams{}, 8, 14, 2},
		{2, 2, Conv2dParams{}, 6, 2, 0},
	}
	for ci, c := range cases {
		c.p.StrideH, c.p.StrideW = c.s, c.s
		n := 2 * 3 * c.h * c.w
		v32 := make([]float32, n)
		v64 := make([]float64, n)
		for i := range v32 {
			switch c.choice {
			case 0:
				v32[i] = rng.Float32()*2 - 1
			case 1:
				v32[i] = float32(rng.IntN(3))
			default:
				v32[i] = special[rng.IntN(len(special))]
			}
			v64[i] = float64(v32[i])
		}
		got, _ := MaxPool2dIndices(FromFloat32(v32, 2, 3, c.h, c.w), c.k, c.k, c.p)
		want, _ := MaxPool2dIndices(FromFloat64(v64, 2, 3, c.h, c.w), c.k, c.k, c.p)
		vals, got2 := MaxPool2d(FromFloat32(v32, 2, 3, c.h, c.w), c.k, c.k, c.p)
		for i := range got {
			if got[i] != want[i] || got2[i] != want[i] {
				t.Fatalf("case %d: output %d picks %d (with values %d), float64 path picks %d", ci, i, got[i], got2[i], want[i])
			}
			wv := float32(0)
			if want[i] >= 0 {
				wv = v32[want[i]]
			}
			if math.Float32bits(vals.f32[i]) != math.Float32bits(wv) {
				t.Fatalf("case %d: output %d value %v, want %v", ci, i, vals.f32[i], wv)
			}
		}
	}
}

func TestReluGrad(t *testing.T) {
	nan := math.NaN()
	for _, dt := range []DType{Float32, Float64} {
		y := Zeros(dt, 6)
		gy := Zeros(dt, 6)
		for i, v := range []float64{-1, 0, math.Copysign(0, -1), 2, math.Inf(1), 1e-30} {
			y.SetFlat(i, v)
			gy.SetFlat(i, []float64{5, 6, 7, nan, -3, 4}[i])
		}
		got := ReluGrad(gy, y)
		want := []float64{0, 0, 0, nan, -3, 4}
		for i, w := range want {
			g := got.AtFlat(i)
			if !(g == w || math.IsNaN(g) && math.IsNaN(w)) {
				t.Fatalf("%v: element %d: got %g, want %g", dt, i, g, w)
			}
		}
	}
}

// SumTo's kept-block fast path (a conv bias gradient) must give exactly
// the general loop's result, and shapes that are not one kept block must
// not take it.
func TestSumToKeptBlock(t *testing.T) {
	cases := []struct {
		x, o    []int
		a, b, c int
		ok      bool
	}{
		{[]int{5, 4, 3, 2}, []int{1, 4, 1, 1}, 5, 4, 6, true},
		{[]int{5, 4, 3, 2}, []int{4, 1, 1}, 5, 4, 6, true},
		{[]int{5, 4, 3, 2}, []int{5, 4, 1, 1}, 1, 20, 6, true},
		{[]int{5, 4, 3, 2}, []int{1, 4, 1, 2}, 0, 0, 0, false},
		{[]int{5, 1, 3, 2}, []int{1, 1, 3, 1}, 5, 3, 2, true},
		{[]int{5, 4}, []int{4}, 5, 4, 1, true},
	}
	for _, c := range cases {
		a, b, cc, ok := keptBlock(c.x, c.o)
		if ok != c.ok || ok && (a != c.a || b != c.b || cc != c.c) {
			t.Errorf("keptBlock(%v, %v) = %d,%d,%d,%v; want %d,%d,%d,%v", c.x, c.o, a, b, cc, ok, c.a, c.b, c.c, c.ok)
		}
	}
	rng := rand.New(rand.NewPCG(3, 3))
	x := randT(rng, Float32, 6, 5, 4, 3)
	got := SumTo(x, 1, 5, 1, 1)
	for ch := 0; ch < 5; ch++ {
		var want float32
		for n := 0; n < 6; n++ {
			var s float32
			for k := 0; k < 12; k++ {
				s += float32(x.AtFlat((n*5+ch)*12 + k))
			}
			want += s
		}
		if float32(got.AtFlat(ch)) != want {
			t.Fatalf("channel %d: got %g, want %g", ch, got.AtFlat(ch), want)
		}
	}
}

func TestScatterAddFlatBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, dt := range []DType{Float32, Float64} {
		x := randT(rng, dt, 3, 5, 8, 6)
		idx, shape := MaxPool2dIndices(x, 3, 3, Conv2dParams{StrideH: 2, StrideW: 2, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1})
		g := randT(rng, dt, shape...)
		want := ScatterAddFlat(g, idx, x.Shape()...)
		got := ScatterAddFlatBlocks(g, idx, shape[2]*shape[3], x.Shape()...)
		if d := MaxAbsDiff(got, want); d != 0 {
			t.Fatalf("%v: differs from ScatterAddFlat by %g", dt, d)
		}
	}
	bad := func() (msg string) {
		defer func() { msg = fmt.Sprint(recover()) }()
		ScatterAddFlatBlocks(FromFloat32([]float32{1, 2}, 2), []int32{3, 0}, 1, 4)
		return ""
	}()
	if !strings.Contains(bad, "outside its block") {
		t.Fatalf("an index outside its block: got %q", bad)
	}
}

// A panic inside a ParallelFor worker reaches the caller's goroutine.
func TestParallelForPanicReachesCaller(t *testing.T) {
	old := Workers()
	defer SetWorkers(old)
	SetWorkers(2)
	got := func() (r any) {
		defer func() { r = recover() }()
		ParallelFor(4, 1, func(lo, hi int) {
			if lo > 0 {
				panic("worker failed")
			}
		})
		return nil
	}()
	if got != "worker failed" {
		t.Fatalf("recovered %v", got)
	}
	x := FromFloat32([]float32{1, 2, 3}, 3)
	idx := make([]int32, 1<<17)
	idx[len(idx)-1] = 7
	msg := func() (m string) {
		defer func() { m = fmt.Sprint(recover()) }()
		GatherFlat(x, idx, len(idx))
		return ""
	}()
	if !strings.Contains(msg, "out of range") {
		t.Fatalf("GatherFlat with a bad index: %q", msg)
	}
}

// The convolutions on every kernel path and worker count: the forward
// pass (with bias, and with the fused ReLU) against the direct loop, the
// two gradients against the adjoint identities <conv(x), gy> = <x, dx> =
// <w, dw>.
func TestConvEveryPath(t *testing.T) {
	oldWorkers, oldPath := Workers(), kernels.Current()
	defer func() { SetWorkers(oldWorkers); kernels.Use(oldPath) }()
	rng := rand.New(rand.NewPCG(13, 13))
	cases := []struct {
		x, w []int
		p    Conv2dParams
	}{
		{[]int{5, 4, 7, 6}, []int{3, 4, 3, 3}, Conv2dParams{PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
		{[]int{3, 4, 7, 6}, []int{3, 4, 1, 1}, Conv2dParams{}},
		{[]int{4, 6, 9, 9}, []int{5, 6, 3, 3}, Conv2dParams{StrideH: 2, StrideW: 2, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
		{[]int{2, 2, 7, 9}, []int{3, 2, 3, 2}, Conv2dParams{PadTop: 1, PadBottom: 3, PadLeft: 0, PadRight: 2, DilationH: 2, DilationW: 3}},
		{[]int{3, 20, 16, 18}, []int{17, 20, 5, 5}, Conv2dParams{PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 2}},
	}
	for _, path := range []kernels.Path{kernels.AVX512, kernels.AVX2, kernels.Go} {
		if !kernels.Supported(path) {
			continue
		}
		kernels.Use(path)
		for _, workers := range []int{1, 2} {
			SetWorkers(workers)
			for ci, c := range cases {
				for _, dt := range []DType{Float32, Float64} {
					x, w, b := randT(rng, dt, c.x...), randT(rng, dt, c.w...), randT(rng, dt, c.w[0])
					want := naiveConv(x, w, c.p)
					AddChannelBias(want, b)
					tol := 1e-12
					if dt == Float32 {
						tol = 2e-4 // sums of up to 500 terms of size ~1
					}
					name := fmt.Sprintf("%s/%d workers/case %d/%v", path, workers, ci, dt)
					y := Conv2dBias(x, w, b, c.p)
					if d := MaxAbsDiff(y, want); d > tol {
						t.Fatalf("%s: Conv2dBias differs from the direct loop by %g", name, d)
					}
					if d := MaxAbsDiff(Conv2dBiasRelu(x, w, b, c.p), Relu(want)); d > tol {
						t.Fatalf("%s: Conv2dBiasRelu differs from the direct loop by %g", name, d)
					}
					gy := randT(rng, dt, y.Shape()...)
					y0 := Conv2d(x, w, c.p)
					dx := Conv2dInputGrad(gy, w, x.Shape(), c.p)
					dw := Conv2dWeightGrad(x, gy, w.Shape(), c.p)
					lhs, rx, rw := dot(y0, gy), dot(x, dx), dot(w, dw)
					if math.Abs(lhs-rx) > 100*tol*(1+math.Abs(lhs)) || math.Abs(lhs-rw) > 100*tol*(1+math.Abs(lhs)) {
						t.Fatalf("%s: <conv(x),gy> = %g, <x,dx> = %g, <w,dw> = %g", name, lhs, rx, rw)
					}
				}
			}
		}
	}
}

func dot(a, b *Tensor) float64 {
	s := 0.0
	for i := 0; i < a.Size(); i++ {
		s += a.AtFlat(i) * b.AtFlat(i)
	}
	return s
}

// The fused convolution + ReLU + max-pool must equal the composed ops
// exactly, on both of its routes (per-image pooling with enough images,
// a scratch output otherwise), for every kernel path.
func TestConv2dBiasReluMaxPool(t *testing.T) {
	oldWorkers, oldPath := Workers(), kernels.Current()
	defer func() { SetWorkers(oldWorkers); kernels.Use(oldPath) }()
	rng := rand.New(rand.NewPCG(14, 14))
	p := Conv2dParams{PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 2}
	for _, path := range []kernels.Path{kernels.AVX512, kernels.AVX2, kernels.Go} {
		if !kernels.Supported(path) {
			continue
		}
		kernels.Use(path)
		for _, workers := range []int{1, 2} {
			SetWorkers(workers)
			for _, n := range []int{1, 7} {
				for _, pool := range []struct{ k, s int }{{2, 2}, {3, 2}} {
					for _, dt := range []DType{Float32, Float64} {
						x, w, b := randT(rng, dt, n, 3, 12, 10), randT(rng, dt, 5, 3, 5, 5), randT(rng, dt, 5)
						pp := Conv2dParams{StrideH: pool.s, StrideW: pool.s, PadBottom: 1, PadRight: 1}
						y, idx, zs := Conv2dBiasReluMaxPool(x, w, b, p, pool.k, pool.k, pp)
						z := Conv2dBiasRelu(x, w, b, p)
						y0, idx0 := MaxPool2d(z, pool.k, pool.k, pp)
						if !SameShape(zs, z.Shape()) || MaxAbsDiff(y, y0) != 0 || !slices.Equal(idx, idx0) {
							t.Fatalf("%s, %d workers, %d images, pool %v, %v: fused differs from composed", path, workers, n, pool, dt)
						}
					}
				}
			}
		}
	}
}

// The fused backward (per-image convolution output gradients on one route,
// a scratch tensor on the other) against the composed gradients.
func TestConv2dBiasReluMaxPoolGrads(t *testing.T) {
	oldWorkers, oldPath := Workers(), kernels.Current()
	defer func() { SetWorkers(oldWorkers); kernels.Use(oldPath) }()
	rng := rand.New(rand.NewPCG(15, 15))
	p := Conv2dParams{PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 2}
	for _, path := range []kernels.Path{kernels.AVX512, kernels.AVX2, kernels.Go} {
		if !kernels.Supported(path) {
			continue
		}
		kernels.Use(path)
		for _, workers := range []int{1, 2} {
			SetWorkers(workers)
			for _, n := range []int{1, 7} {
				for _, pool := range []struct{ k, s int }{{2, 2}, {3, 2}} {
					for _, dt := range []DType{Float32, Float64} {
						for _, c := range []int{3, 16} {
							x, w, b := randT(rng, dt, n, c, 12, 10), randT(rng, dt, 5, c, 5, 5), randT(rng, dt, 5)
							pp := Conv2dParams{StrideH: pool.s, StrideW: pool.s, PadBottom: 1, PadRight: 1}
							y, idx, zs := Conv2dBiasReluMaxPool(x, w, b, p, pool.k, pool.k, pp)
							gy := randT(rng, dt, y.Shape()...)
							dx, dw, db := Conv2dBiasReluMaxPoolGrads(x, w, gy, y, idx, p, zs, true, true, true)
							gz := MaxPoolReluGrad(gy, y, idx, zs, false)
							tol := 1e-12
							if dt == Float32 {
								tol = 1e-4
							}
							name := fmt.Sprintf("%s, %d workers, %d images, pool %v, %v, %d channels", path, workers, n, pool, dt, c)
							for what, d := range map[string]float64{
								"dx": MaxAbsDiff(dx, Conv2dInputGrad(gz, w, x.Shape(), p)),
								"dw": MaxAbsDiff(dw, Conv2dWeightGrad(x, gz, w.Shape(), p)),
								"db": MaxAbsDiff(db, SumAxes(gz, false, 0, 2, 3)),
							} {
								if d > tol {
									t.Fatalf("%s: %s differs by %g", name, what, d)
								}
							}
							_, dw2, _ := Conv2dBiasReluMaxPoolGrads(x, w, gy, y, idx, p, zs, false, true, false)
							dx2, _, _ := Conv2dBiasReluMaxPoolGrads(x, w, gy, y, idx, p, zs, true, false, false)
							if MaxAbsDiff(dw2, dw) != 0 || MaxAbsDiff(dx2, dx) != 0 {
								t.Fatalf("%s: gradients depend on which others are asked for", name)
							}
						}
					}
				}
			}
		}
	}
}

func TestNonFinite32(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	for _, n := range []int{0, 1, 3, 4, 255, 256, 257, 1000} {
		for _, at := range []int{0, 1, 3, 255, 256, 257, 999} {
			for _, bad := range []float32{nan, inf, -inf} {
				v := make([]float32, n)
				for i := range v {
					v[i] = float32(i%7-3) * (math.MaxFloat32 / 4) // large finite values, some negative zero products
				}
				if n > 0 {
					v[n-1] = float32(math.Copysign(0, -1))
				}
				want := -1
				if at < n {
					v[at] = bad
					want = at
					if at+2 < n {
						v[at+2] = nan // a later one is not reported
					}
				}
				i, x := NonFinite32(v)
				if i != want {
					t.Fatalf("n=%d bad=%v at %d: index %d, want %d", n, bad, at, i, want)
				}
				if i >= 0 && !(math.IsNaN(x) && math.IsNaN(float64(bad)) || x == float64(bad)) {
					t.Fatalf("n=%d at %d: value %v, want %v", n, at, x, bad)
				}
			}
		}
	}
}

// Every broadcast binary op must give, element by element and bit for
// bit, the op of the two operands' broadcast elements: random shapes of
// rank 1 to 5 with size-1 dimensions on either side (leading ones
// missing too), rows shorter and longer than a vector, float32 and
// float64, on every kernel path.
func TestBroadcastOpsAgainstNaive(t *testing.T) {
	forEachKernelPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(47, 47))
		ops := []struct {
			name string
			f    func(a, b *Tensor) *Tensor
			ref  func(x, y float64, dt DType) float64
		}{
			{"add", Add, func(x, y float64, dt DType) float64 { return round(dt, x+y) }},
			{"sub", Sub, func(x, y float64, dt DType) float64 { return round(dt, x-y) }},
			{"mul", Mul, func(x, y float64, dt DType) float64 { return round(dt, x*y) }},
			{"div", Div, func(x, y float64, dt DType) float64 { return round(dt, x/y) }},
			{"maximum", Maximum, func(x, y float64, dt DType) float64 { return math.Max(x, y) }},
		}
		for trial := 0; trial < 150; trial++ {
			r := 1 + rng.IntN(5)
			os := make([]int, r)
			for i := range os {
				os[i] = []int{1, 2, 3, 8, 17}[rng.IntN(5)]
			}
			sub := func() []int {
				k := r - rng.IntN(r) // drop leading dimensions
				s := append([]int(nil), os[r-k:]...)
				for i := range s {
					if rng.IntN(3) == 0 {
						s[i] = 1
					}
				}
				return s
			}
			as, bs := sub(), sub()
			for _, dt := range []DType{Float32, Float64} {
				a, b := randT(rng, dt, as...), randT(rng, dt, bs...)
				for _, op := range ops {
					got := op.f(a, b)
					oshape, _ := BroadcastShapes(as, bs)
					if !SameShape(got.Shape(), oshape) {
						t.Fatalf("%s %v %v: shape %v, want %v", op.name, as, bs, got.Shape(), oshape)
					}
					at := func(x *Tensor, s []int, idx []int) float64 {
						flat := 0
						for i := range s {
							j := idx[len(idx)-len(s)+i]
							if s[i] == 1 {
								j = 0
							}
							flat = flat*s[i] + j
						}
						return x.AtFlat(flat)
					}
					idx := make([]int, len(oshape))
					for e := 0; e < got.Size(); e++ {
						rem := e
						for d := len(oshape) - 1; d >= 0; d-- {
							idx[d] = rem % oshape[d]
							rem /= oshape[d]
						}
						want := op.ref(at(a, as, idx), at(b, bs, idx), dt)
						if g := got.AtFlat(e); g != want {
							t.Fatalf("%s %v %v %v: element %v is %g, want %g", op.name, dt, as, bs, idx, g, want)
						}
					}
				}
			}
		}
	})
}

// round rounds v to dt's precision.
func round(dt DType, v float64) float64 {
	if dt == Float32 {
		return float64(float32(v))
	}
	return v
}
