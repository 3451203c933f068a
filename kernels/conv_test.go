package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// naive references in float64, straight from the definition

func naiveConv[T Float](g ConvGeom, x, w, bias []T) []float64 {
	y := make([]float64, g.N*g.F*g.ohw())
	for n := 0; n < g.N; n++ {
		for f := 0; f < g.F; f++ {
			for oy := 0; oy < g.OH; oy++ {
				for ox := 0; ox < g.OW; ox++ {
					s := 0.0
					if bias != nil {
						s = float64(bias[f])
					}
					for c := 0; c < g.C; c++ {
						for kh := 0; kh < g.KH; kh++ {
							for kw := 0; kw < g.KW; kw++ {
								iy, ix := oy*g.SH+kh*g.DH-g.PT, ox*g.SW+kw*g.DW-g.PL
								if iy >= 0 && iy < g.H && ix >= 0 && ix < g.W {
									s += float64(w[((f*g.C+c)*g.KH+kh)*g.KW+kw]) * float64(x[((n*g.C+c)*g.H+iy)*g.W+ix])
								}
							}
						}
					}
					y[((n*g.F+f)*g.OH+oy)*g.OW+ox] = s
				}
			}
		}
	}
	return y
}

// naiveConvGrads returns the input and weight gradients for output
// gradient gy.
func naiveConvGrads[T Float](g ConvGeom, x, w, gy []T) (dx, dw []float64) {
	dx = make([]float64, len(x))
	dw = make([]float64, len(w))
	for n := 0; n < g.N; n++ {
		for f := 0; f < g.F; f++ {
			for oy := 0; oy < g.OH; oy++ {
				for ox := 0; ox < g.OW; ox++ {
					d := float64(gy[((n*g.F+f)*g.OH+oy)*g.OW+ox])
					for c := 0; c < g.C; c++ {
						for kh := 0; kh < g.KH; kh++ {
							for kw := 0; kw < g.KW; kw++ {
								iy, ix := oy*g.SH+kh*g.DH-g.PT, ox*g.SW+kw*g.DW-g.PL
								if iy >= 0 && iy < g.H && ix >= 0 && ix < g.W {
									wi := ((f*g.C+c)*g.KH+kh)*g.KW + kw
									xi := ((n*g.C+c)*g.H+iy)*g.W + ix
									dx[xi] += float64(w[wi]) * d
									dw[wi] += float64(x[xi]) * d
								}
							}
						}
					}
				}
			}
		}
	}
	return dx, dw
}

// randGeom draws a convolution geometry with a valid output.
func randGeom(rng *rand.Rand) ConvGeom {
	for {
		g := ConvGeom{N: 1 + rng.IntN(3), C: 1 + rng.IntN(9), H: 1 + rng.IntN(12), W: 1 + rng.IntN(12),
			F: 1 + rng.IntN(20), KH: 1 + rng.IntN(5), KW: 1 + rng.IntN(5),
			SH: 1 + rng.IntN(3), SW: 1 + rng.IntN(3), DH: 1 + rng.IntN(2), DW: 1 + rng.IntN(2),
			PT: rng.IntN(4), PB: rng.IntN(4), PL: rng.IntN(4), PR: rng.IntN(4)}
		switch rng.IntN(6) {
		case 0: // stride 1, wide rows: the direct paths
			g.SH, g.SW, g.DH, g.DW = 1, 1, 1, 1
			g.W = 14 + rng.IntN(40)
		case 1: // many channels
			g.C, g.F = 16+rng.IntN(20), 16+rng.IntN(70)
		}
		g.OH = (g.H+g.PT+g.PB-((g.KH-1)*g.DH+1))/g.SH + 1
		g.OW = (g.W+g.PL+g.PR-((g.KW-1)*g.DW+1))/g.SW + 1
		if g.H+g.PT+g.PB >= (g.KH-1)*g.DH+1 && g.W+g.PL+g.PR >= (g.KW-1)*g.DW+1 && g.Check() == nil {
			return g
		}
	}
}

func closeTo[T Float](t *testing.T, what string, g ConvGeom, got []T, want []float64, k int) {
	t.Helper()
	tol := 3e-5 * math.Sqrt(float64(k+1))
	if _, ok := any(got).([]float64); ok {
		tol = 1e-12 * float64(k+1)
	}
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); d > tol*(1+math.Abs(want[i])) || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s %+v: element %d = %v, want %v", what, g, i, got[i], want[i])
		}
	}
}

func testConv[T Float](t *testing.T, rng *rand.Rand, g ConvGeom) {
	x := randSlice[T](rng, g.N*g.C*g.H*g.W)
	w := randSlice[T](rng, g.F*g.ckk())
	gy := randSlice[T](rng, g.N*g.F*g.ohw())
	var bias []T
	if rng.IntN(2) == 0 {
		bias = randSlice[T](rng, g.F)
	}
	relu := rng.IntN(3) == 0
	want := naiveConv(g, x, w, bias)
	if relu {
		for i, v := range want {
			want[i] = max(v, 0)
		}
	}
	y := randSlice[T](rng, len(want))
	ConvForward(g, x, w, bias, y, relu)
	closeTo(t, "forward", g, y, want, g.ckk())
	wdx, wdw := naiveConvGrads(g, x, w, gy)
	dx := randSlice[T](rng, len(x))
	ConvInputGrad(g, gy, w, dx)
	closeTo(t, "input grad", g, dx, wdx, g.F*g.KH*g.KW)
	dw := randSlice[T](rng, len(w))
	ConvWeightGrad(g, x, gy, dw)
	closeTo(t, "weight grad", g, dw, wdw, g.N*g.ohw())
}

func TestConvAgainstNaive(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for _, workers := range []int{1, 2, 3} {
			prev := Workers()
			SetWorkers(workers)
			for trial := 0; trial < 60; trial++ {
				g := randGeom(rng)
				testConv[float32](t, rng, g)
				if trial%4 == 0 {
					testConv[float64](t, rng, g)
				}
			}
			SetWorkers(prev)
		}
		// the shapes of the models
		for _, g := range modelGeoms(2) {
			testConv[float32](t, rng, g)
		}
	})
}

// modelGeoms are the convolutions of the models at batch n: CifarNet's,
// the MNIST CNNs', ResNet-20's (3x3 stride 1 and 2, 1x1 stride 2) and
// Inception-style 1x1, 1x7 and 7x1.
func modelGeoms(n int) []ConvGeom {
	same := func(c, h, w, f, k, s int) ConvGeom {
		p := (k - 1) / 2
		g := ConvGeom{N: n, C: c, H: h, W: w, F: f, KH: k, KW: k, SH: s, SW: s, DH: 1, DW: 1, PT: p, PB: k - 1 - p, PL: p, PR: k - 1 - p}
		g.OH, g.OW = (h+k-1-k)/s+1, (w+k-1-k)/s+1
		return g
	}
	gs := []ConvGeom{
		same(3, 32, 32, 64, 5, 1), same(64, 16, 16, 64, 5, 1), // CifarNet
		same(1, 28, 28, 32, 5, 1), same(32, 14, 14, 64, 5, 1), // MNIST CNN
		same(1, 28, 28, 16, 5, 1), same(16, 14, 14, 32, 5, 1), // mnist-small
		same(3, 32, 32, 16, 3, 1), same(16, 32, 32, 16, 3, 1), same(16, 32, 32, 32, 3, 2),
		same(32, 16, 16, 64, 3, 2), same(64, 8, 8, 64, 3, 1), same(16, 32, 32, 32, 1, 2), // ResNet-20
		same(48, 9, 9, 32, 1, 1),
	}
	seven := ConvGeom{N: n, C: 24, H: 9, W: 9, F: 20, KH: 1, KW: 7, SH: 1, SW: 1, DH: 1, DW: 1, PL: 3, PR: 3, OH: 9, OW: 9}
	gs = append(gs, seven)
	seven.KH, seven.KW, seven.PL, seven.PR, seven.PT, seven.PB = 7, 1, 0, 0, 3, 3
	return append(gs, seven)
}

// TestConvFlat holds the forward convolutions that read vectors across
// the rows of narrow images (useFlat), straight to the output (KW = 1) or
// through the scratch tile, and the input gradients made by them, to the
// naive references on random stride-1 geometries, Inception v3's narrow
// shapes among them (35, 17 and 8 pixels; 1x1, 3x3, 5x5, 1x7, 7x1).
func TestConvFlat(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		mk := microFor[float32]()
		rng := rand.New(rand.NewPCG(11, 11))
		seen := map[bool]int{}
		for trial := 0; trial < 80; trial++ {
			g := ConvGeom{N: 1 + rng.IntN(3), C: 1 + rng.IntN(30), H: 1 + rng.IntN(20), W: 1 + rng.IntN(20),
				F: 1 + rng.IntN(30), KH: 1 + rng.IntN(7), KW: 1 + rng.IntN(7), SH: 1, SW: 1, DH: 1 + rng.IntN(2), DW: 1 + rng.IntN(2),
				PT: rng.IntN(4), PB: rng.IntN(4), PL: rng.IntN(4), PR: rng.IntN(4)}
			if rng.IntN(3) == 0 {
				g.KW, g.PL, g.PR = 1, rng.IntN(2), rng.IntN(2)
			}
			g.OH = g.H + g.PT + g.PB - (g.KH-1)*g.DH
			g.OW = g.W + g.PL + g.PR - (g.KW-1)*g.DW
			if g.OH < 1 || g.OW < 1 || !useFlat(g, mk.nv, mk.vl) {
				continue
			}
			seen[g.wp() != g.OW]++
			testConv[float32](t, rng, g)
			if trial%5 == 0 {
				testConv[float64](t, rng, g)
			}
		}
		for _, g := range inceptionGeoms(2, 8) {
			testConv[float32](t, rng, g)
		}
		if seen[false] == 0 || seen[true] == 0 {
			t.Fatalf("flat convolutions drawn: %d straight, %d through the scratch tile; want both", seen[false], seen[true])
		}
	})
}

// inceptionGeoms are Inception v3's stride-1 convolutions on its narrow
// images at batch n, every channel count divided by div.
func inceptionGeoms(n, div int) []ConvGeom {
	mk := func(c, h, f, kh, kw, ph, pw int) ConvGeom {
		return ConvGeom{N: n, C: c / div, H: h, W: h, F: f / div, KH: kh, KW: kw, SH: 1, SW: 1, DH: 1, DW: 1,
			PT: ph, PB: ph, PL: pw, PR: pw, OH: h + 2*ph - kh + 1, OW: h + 2*pw - kw + 1}
	}
	return []ConvGeom{
		mk(192, 35, 64, 1, 1, 0, 0), mk(48, 35, 64, 5, 5, 2, 2), mk(64, 35, 96, 3, 3, 1, 1), // Mixed_5b
		mk(768, 17, 192, 1, 1, 0, 0), mk(160, 17, 160, 1, 7, 0, 3), mk(160, 17, 192, 7, 1, 3, 0), // Mixed_6c
		mk(1280, 8, 448, 1, 1, 0, 0), mk(448, 8, 384, 3, 3, 1, 1), mk(384, 8, 384, 1, 3, 0, 1), mk(384, 8, 384, 3, 1, 1, 0), // Mixed_7b
	}
}

// BenchmarkConvInception times inceptionGeoms' forward convolutions (with
// bias and ReLU) and input gradients at batch 4.
func BenchmarkConvInception(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, g := range inceptionGeoms(4, 1) {
		x := randSlice[float32](rng, g.N*g.C*g.H*g.W)
		w := randSlice[float32](rng, g.F*g.ckk())
		bias := randSlice[float32](rng, g.F)
		gy := randSlice[float32](rng, g.N*g.F*g.ohw())
		y, dx := make([]float32, len(gy)), make([]float32, len(x))
		flops := 2 * float64(g.N*g.F*g.ohw()*g.ckk())
		name := fmt.Sprintf("%s/C%d_F%d_%dx%d_k%dx%d", Current(), g.C, g.F, g.H, g.W, g.KH, g.KW)
		for _, op := range []struct {
			name string
			fn   func()
		}{
			{"forward", func() { ConvForward(g, x, w, bias, y, true) }},
			{"inputgrad", func() { ConvInputGrad(g, gy, w, dx) }},
		} {
			b.Run(name+"/"+op.name, func(b *testing.B) {
				cpu0 := cpuTime()
				for i := 0; i < b.N; i++ {
					op.fn()
				}
				reportFlops(b, flops, cpu0)
			})
		}
	}
}

// TestFlatChoice pins which Inception v3 shapes read vectors across rows
// on the AVX-512 tiles (4 vectors of 16): all 1x1 and nx1 kernels, the
// 35x35 ones and 17x17's 1x7; not the 8x8 3x3 and 1x3 (50% of the lanes).
func TestFlatChoice(t *testing.T) {
	want := []bool{true, true, true, true, true, true, true, false, false, true}
	for i, g := range inceptionGeoms(1, 1) {
		if got := useFlat(g, 4, 16); got != want[i] {
			t.Errorf("%dx%d kernel on %dx%d: useFlat %v, want %v", g.KH, g.KW, g.H, g.W, got, want[i])
		}
	}
}

// TestIm2colPanel holds the im2col panels (zeros, copies and strided
// gathers per row segment) to the definition on random geometries and
// pixel ranges.
func TestIm2colPanel(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	for trial := 0; trial < 300; trial++ {
		g := randGeom(rng)
		x := randSlice[float32](rng, g.C*g.H*g.W)
		nr := 1 + rng.IntN(70)
		p0 := rng.IntN(g.ohw())
		cnt := 1 + rng.IntN(min(nr, g.ohw()-p0))
		panel := randSlice[float32](rng, g.ckk()*nr)
		im2colPanel(g, x, p0, cnt, nr, panel)
		for r := 0; r < g.ckk(); r++ {
			c, kh, kw := r/(g.KH*g.KW), r/g.KW%g.KH, r%g.KW
			for j := 0; j < nr; j++ {
				want := float32(0)
				if j < cnt {
					oy, ox := (p0+j)/g.OW, (p0+j)%g.OW
					iy, ix := oy*g.SH+kh*g.DH-g.PT, ox*g.SW+kw*g.DW-g.PL
					if iy >= 0 && iy < g.H && ix >= 0 && ix < g.W {
						want = x[(c*g.H+iy)*g.W+ix]
					}
				}
				if got := panel[r*nr+j]; got != want {
					t.Fatalf("%+v p0 %d cnt %d nr %d: panel[%d][%d] = %v, want %v", g, p0, cnt, nr, r, j, got, want)
				}
			}
		}
	}
}

func TestModelGeomsValid(t *testing.T) {
	for _, g := range modelGeoms(1) {
		if err := g.Check(); err != nil {
			t.Error(err)
		}
	}
}

func BenchmarkConv(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, g := range modelGeoms(50)[:2] {
		x := randSlice[float32](rng, g.N*g.C*g.H*g.W)
		w := randSlice[float32](rng, g.F*g.ckk())
		bias := randSlice[float32](rng, g.F)
		gy := randSlice[float32](rng, g.N*g.F*g.ohw())
		y := make([]float32, len(gy))
		dx, dw := make([]float32, len(x)), make([]float32, len(w))
		flops := 2 * float64(g.N*g.F*g.ohw()*g.ckk())
		name := fmt.Sprintf("%s/C%d_F%d_%dx%d", Current(), g.C, g.F, g.H, g.W)
		for _, op := range []struct {
			name string
			fn   func()
		}{
			{"forward", func() { ConvForward(g, x, w, bias, y, false) }},
			{"inputgrad", func() { ConvInputGrad(g, gy, w, dx) }},
			{"weightgrad", func() { ConvWeightGrad(g, x, gy, dw) }},
		} {
			b.Run(name+"/"+op.name, func(b *testing.B) {
				cpu0 := cpuTime()
				for i := 0; i < b.N; i++ {
					op.fn()
				}
				reportFlops(b, flops, cpu0)
			})
		}
	}
}

// BenchmarkConvSingle times CifarNet's convolutions on one worker.
func BenchmarkConvSingle(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	prev := Workers()
	SetWorkers(1)
	defer SetWorkers(prev)
	for li, g := range modelGeoms(10)[:2] {
		x := randSlice[float32](rng, g.N*g.C*g.H*g.W)
		w := randSlice[float32](rng, g.F*g.ckk())
		gy := randSlice[float32](rng, g.N*g.F*g.ohw())
		y := make([]float32, len(gy))
		dx, dw := make([]float32, len(x)), make([]float32, len(w))
		flops := 2 * float64(g.N*g.F*g.ohw()*g.ckk())
		for _, op := range []struct {
			name string
			fn   func()
		}{
			{"forward", func() { ConvForward(g, x, w, nil, y, false) }},
			{"inputgrad", func() { ConvInputGrad(g, gy, w, dx) }},
			{"weightgrad", func() { ConvWeightGrad(g, x, gy, dw) }},
		} {
			b.Run(fmt.Sprintf("%s/conv%d/%s", Current(), li+1, op.name), func(b *testing.B) {
				cpu0 := cpuTime()
				for i := 0; i < b.N; i++ {
					op.fn()
				}
				reportFlops(b, flops, cpu0)
			})
		}
	}
}

func TestTransposePad(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(8, 8))
		for _, sz := range [][2]int{{16, 16}, {8, 8}, {64, 1024}, {3, 5}, {17, 33}, {40, 24}, {1, 1}} {
			rows, cols := sz[0], sz[1]
			ld := rows + rng.IntN(20)
			src := randSlice[float32](rng, rows*cols)
			dst := randSlice[float32](rng, cols*ld)
			transposePad(src, rows, cols, ld, dst)
			for c := 0; c < cols; c++ {
				for r := 0; r < ld; r++ {
					want := float32(0)
					if r < rows {
						want = src[r*cols+c]
					}
					if dst[c*ld+r] != want {
						t.Fatalf("%dx%d ld %d: dst[%d][%d] = %v, want %v", rows, cols, ld, c, r, dst[c*ld+r], want)
					}
				}
			}
		}
	})
}

func TestConvForwardEach(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 9))
		for trial := 0; trial < 20; trial++ {
			g := randGeom(rng)
			x := randSlice[float32](rng, g.N*g.C*g.H*g.W)
			w := randSlice[float32](rng, g.F*g.ckk())
			bias := randSlice[float32](rng, g.F)
			y := make([]float32, g.N*g.F*g.ohw())
			ConvForward(g, x, w, bias, y, true)
			seen := make([]int, g.N)
			var mu sync.Mutex
			ConvForwardEach(g, x, w, bias, true, func(n int, yn []float32) {
				mu.Lock()
				defer mu.Unlock()
				seen[n]++
				if !slices.Equal(yn[:g.F*g.ohw()], y[n*g.F*g.ohw():(n+1)*g.F*g.ohw()]) {
					t.Fatalf("%+v: image %d differs", g, n)
				}
			})
			for n, c := range seen {
				if c != 1 {
					t.Fatalf("%+v: image %d seen %d times", g, n, c)
				}
			}
		}
	})
}

func TestConvBackwardEach(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(10, 10))
		for trial := 0; trial < 30; trial++ {
			g := randGeom(rng)
			x := randSlice[float32](rng, g.N*g.C*g.H*g.W)
			w := randSlice[float32](rng, g.F*g.ckk())
			gy := randSlice[float32](rng, g.N*g.F*g.ohw())
			wdx, wdw := naiveConvGrads(g, x, w, gy)
			fo := g.F * g.ohw()
			gyOf := func(n int, buf []float32) []float32 {
				if n%2 == 0 { // made in the buffer, or handed over
					copy(buf, gy[n*fo:(n+1)*fo])
					return buf
				}
				return gy[n*fo : (n+1)*fo]
			}
			dx, dw := randSlice[float32](rng, len(x)), randSlice[float32](rng, len(w))
			switch trial % 3 {
			case 0:
				ConvBackwardEach(g, x, w, gyOf, dx, dw)
				closeTo(t, "each: input grad", g, dx, wdx, g.F*g.KH*g.KW)
				closeTo(t, "each: weight grad", g, dw, wdw, g.N*g.ohw())
			case 1:
				ConvBackwardEach(g, x, w, gyOf, dx, nil)
				closeTo(t, "each: input grad", g, dx, wdx, g.F*g.KH*g.KW)
			case 2:
				ConvBackwardEach(g, x, w, gyOf, nil, dw)
				closeTo(t, "each: weight grad", g, dw, wdw, g.N*g.ohw())
			}
		}
	})
}

// TestPadImage holds padImage (on every path; AVX-512 and AVX2 copy rows
// with padRows512 and padRows256) to an element-by-element reference on
// random geometries,
// with stale data in the buffer and the slack checked.
func TestPadImage(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(21, 22))
		for trial := 0; trial < 300; trial++ {
			g := ConvGeom{C: 1 + rng.IntN(5), H: 1 + rng.IntN(20), W: 1 + rng.IntN(40),
				PT: rng.IntN(4), PB: rng.IntN(4), PL: rng.IntN(10), PR: rng.IntN(10)}
			if trial%5 == 0 {
				g.PL, g.PR = rng.IntN(2), rng.IntN(2)
			}
			slack := rng.IntN(20)
			x := randSlice[float32](rng, g.C*g.H*g.W)
			n := g.C*g.hp()*g.wp() + slack
			xp := randSlice[float32](rng, n+8) // stale data, and 8 elements that must not be written
			guard := append([]float32(nil), xp[n:]...)
			padImage(g, x, xp, slack)
			for i := 0; i < n; i++ {
				want := float32(0)
				if c, r := i/(g.hp()*g.wp()), i%(g.hp()*g.wp()); c < g.C {
					y, col := r/g.wp()-g.PT, r%g.wp()-g.PL
					if y >= 0 && y < g.H && col >= 0 && col < g.W {
						want = x[(c*g.H+y)*g.W+col]
					}
				}
				if xp[i] != want {
					t.Fatalf("%+v slack %d: element %d = %v, want %v", g, slack, i, xp[i], want)
				}
			}
			for i, v := range guard {
				if xp[n+i] != v {
					t.Fatalf("%+v slack %d: element %d past the end written", g, slack, n+i)
				}
			}
		}
	})
}

// Forward convolutions on tall tiles (tallTiles: mnist-small's and the
// MNIST CNN's) must give the default tiles' results bit for bit (the
// channel blocks, and so every output's order of summation, are the
// same), on random direct geometries and the models' shapes, with bias
// and ReLU, one and several workers.
func TestTallTilesSameBits(t *testing.T) {
	if micro512.tall == nil || !Supported(AVX512) {
		t.Skip("no tall tiles on this path")
	}
	prev := Current()
	defer Use(prev)
	Use(AVX512)
	rng := rand.New(rand.NewPCG(41, 41))
	var gs []ConvGeom
	for _, g := range modelGeoms(3) {
		if useDirect(g, 16) && !useFlat(g, micro512.nv, 16) {
			gs = append(gs, g)
		}
	}
	for len(gs) < 60 {
		if g := randGeom(rng); useDirect(g, 16) && !useFlat(g, micro512.nv, 16) {
			gs = append(gs, g)
		}
	}
	tall, taken := micro512.tall, 0
	defer func() { micro512.tall = tall }()
	for _, g := range gs {
		x := randSlice[float32](rng, g.N*g.C*g.H*g.W)
		w := randSlice[float32](rng, g.F*g.ckk())
		b := randSlice[float32](rng, g.F)
		if tallTiles(g.F, len(rowVectors(g, 16)), micro512.shape, tall.shape) {
			taken++
		}
		for _, workers := range []int{1, 3} {
			old := Workers()
			SetWorkers(workers)
			y0 := make([]float32, g.N*g.F*g.ohw())
			y1 := make([]float32, len(y0))
			micro512.tall = nil
			ConvForward(g, x, w, b, y0, true)
			micro512.tall = tall
			ConvForward(g, x, w, b, y1, true)
			SetWorkers(old)
			for i := range y0 {
				if math.Float32bits(y0[i]) != math.Float32bits(y1[i]) {
					t.Fatalf("%+v: output %d is %g on tall tiles, %g on the default ones", g, i, y1[i], y0[i])
				}
			}
		}
	}
	if taken < 5 {
		t.Fatalf("tall tiles taken on only %d of %d geometries", taken, len(gs))
	}
}

// BenchmarkConvForwardMNISTSmall times mnist-small's two forward
// convolutions (with bias and ReLU) at a Square-sized batch, in GFLOP per
// CPU-second (robust to a shared machine).
func BenchmarkConvForwardMNISTSmall(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for li, g := range modelGeoms(512)[4:6] {
		x := randSlice[float32](rng, g.N*g.C*g.H*g.W)
		w := randSlice[float32](rng, g.F*g.ckk())
		bias := randSlice[float32](rng, g.F)
		y := make([]float32, g.N*g.F*g.ohw())
		flops := 2 * float64(g.N*g.F*g.ohw()*g.ckk())
		b.Run(fmt.Sprintf("%s/conv%d", Current(), li+1), func(b *testing.B) {
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				ConvForward(g, x, w, bias, y, true)
			}
			reportFlops(b, flops, cpu0)
		})
	}
}

// Tiles of fewer rows than a kernel's (the last rows of a panel: 64
// channels in tiles of 6 rows) run on the short kernels (micro.forRows);
// every output must be the default kernels' bit for bit (each output's
// order of summation is the same), in the forward convolution, both
// gradients and GEMMs, on both vector paths, on random geometries and the
// models' shapes.
func TestShortTilesSameBits(t *testing.T) {
	prev := Current()
	defer Use(prev)
	rng := rand.New(rand.NewPCG(43, 43))
	gs := modelGeoms(3)
	for len(gs) < 40 {
		gs = append(gs, randGeom(rng))
	}
	for _, path := range []Path{AVX512, AVX2} {
		if !Supported(path) {
			continue
		}
		Use(path)
		mk := microFor[float32]()
		short := mk.short
		if len(short) == 0 {
			t.Fatalf("%s: no short tiles", path)
		}
		type run struct{ y, dx, dw, c []float32 }
		compute := func(g ConvGeom, x, w, b, gy, a, bm []float32, m, n, k int) run {
			var r run
			r.y = make([]float32, g.N*g.F*g.ohw())
			ConvForward(g, x, w, b, r.y, true)
			r.dx = make([]float32, len(x))
			ConvInputGrad(g, gy, w, r.dx)
			r.dw = make([]float32, len(w))
			ConvWeightGrad(g, x, gy, r.dw)
			r.c = make([]float32, m*n)
			Gemm(false, true, m, n, k, 1, a, k, bm, k, 0, r.c, n)
			return r
		}
		for gi, g := range gs {
			x := randSlice[float32](rng, g.N*g.C*g.H*g.W)
			w := randSlice[float32](rng, g.F*g.ckk())
			b := randSlice[float32](rng, g.F)
			gy := randSlice[float32](rng, g.N*g.F*g.ohw())
			m, n, k := 1+rng.IntN(40), 1+rng.IntN(70), 1+rng.IntN(300)
			if gi == 0 {
				m, n, k = 50, 384, 600 // a dense layer of batch 50: 8 tiles of 6 rows and one of 2
			}
			a := randSlice[float32](rng, m*k)
			bm := randSlice[float32](rng, n*k)
			mk.short = nil
			r0 := compute(g, x, w, b, gy, a, bm, m, n, k)
			mk.short = short
			r1 := compute(g, x, w, b, gy, a, bm, m, n, k)
			for name, pair := range map[string][2][]float32{"forward": {r0.y, r1.y}, "input grad": {r0.dx, r1.dx}, "weight grad": {r0.dw, r1.dw}, "gemm": {r0.c, r1.c}} {
				for i := range pair[0] {
					if math.Float32bits(pair[0][i]) != math.Float32bits(pair[1][i]) {
						t.Fatalf("%s %+v (gemm %dx%dx%d): %s element %d is %g with short tiles, %g without", path, g, m, n, k, name, i, pair[1][i], pair[0][i])
					}
				}
			}
		}
	}
}

// TestConvInPlace holds the forward convolutions that read unpadded
// images in place (1x1 and nx1 kernels without padding: no padded copy)
// to the naive reference, with the memory behind the batch either absent
// (the last image is copied) or present and full of NaNs (the lanes the
// last vector reads past an image's end must be dropped), at batch 1 and
// more, and the input gradients computed by such a convolution of the
// output gradient (1x1 kernels).
func TestConvInPlace(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(13, 17))
		mk := microFor[float32]()
		used := 0
		for trial := 0; trial < 40; trial++ {
			g := ConvGeom{N: 1 + rng.IntN(3), C: 1 + rng.IntN(40), H: 1 + rng.IntN(20), W: 1 + rng.IntN(20),
				F: 1 + rng.IntN(40), KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1}
			if trial%4 == 3 {
				g.KH, g.DH = 1+rng.IntN(3), 1+rng.IntN(2)
			}
			g.OH, g.OW = g.H-(g.KH-1)*g.DH, g.W
			if g.OH < 1 {
				continue
			}
			if !useFlat(g, mk.nv, mk.vl) {
				t.Fatalf("%+v does not take the flat path", g)
			}
			pl := newFwdPlan[float32](g, make([]float32, g.F*g.ckk()), nil, false)
			if !pl.inPlace {
				t.Fatalf("%+v: not read in place", g)
			}
			pl.free()
			used++
			for _, slack := range []int{0, mk.vl - 1, mk.vl, 3 * mk.vl} {
				n := g.N * g.C * g.H * g.W
				xs := make([]float32, n+slack)
				copy(xs, randSlice[float32](rng, n))
				for i := n; i < len(xs); i++ {
					xs[i] = float32(math.NaN())
				}
				x := xs[:n]
				w := randSlice[float32](rng, g.F*g.ckk())
				bias := randSlice[float32](rng, g.F)
				y := make([]float32, g.N*g.F*g.ohw())
				ConvForward(g, x, w, bias, y, false)
				closeTo(t, "forward", g, y, naiveConv(g, x, w, bias), g.ckk())
				if g.KH == 1 {
					gs := make([]float32, len(y)+slack)
					copy(gs, randSlice[float32](rng, len(y)))
					for i := len(y); i < len(gs); i++ {
						gs[i] = float32(math.Inf(1))
					}
					gy := gs[:len(y)]
					dx := make([]float32, n)
					ConvInputGrad(g, gy, w, dx)
					wdx, _ := naiveConvGrads(g, x, w, gy)
					closeTo(t, "input grad", g, dx, wdx, g.F)
				}
			}
		}
		if used < 20 {
			t.Fatalf("only %d geometries drawn", used)
		}
	})
}

// The forward convolution and the input gradients alone hand images to
// the workers as they finish (ParallelDynamic): every output must be the
// same bits whatever the number of workers, on every path, for the batch
// and the image-by-image entry points.
func TestDynamicImagesSameBits(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(45, 45))
		gs := modelGeoms(7)
		for len(gs) < 30 {
			g := randGeom(rng)
			g.N = 4 + rng.IntN(6)
			gs = append(gs, g)
		}
		prev := Workers()
		defer SetWorkers(prev)
		for _, g := range gs {
			x := randSlice[float32](rng, g.N*g.C*g.H*g.W)
			w := randSlice[float32](rng, g.F*g.ckk())
			b := randSlice[float32](rng, g.F)
			gy := randSlice[float32](rng, g.N*g.F*g.ohw())
			fo := g.F * g.ohw()
			run := func(workers int) (y, ye, dx []float32) {
				SetWorkers(workers)
				y = make([]float32, g.N*fo)
				ConvForward(g, x, w, b, y, true)
				ye = make([]float32, g.N*fo)
				ConvForwardEach(g, x, w, b, true, func(n int, yn []float32) { copy(ye[n*fo:(n+1)*fo], yn) })
				dx = make([]float32, len(x))
				ConvBackwardEach(g, x, w, func(n int, _ []float32) []float32 { return gy[n*fo : (n+1)*fo] }, dx, nil)
				return y, ye, dx
			}
			y1, ye1, dx1 := run(1)
			for _, workers := range []int{2, 3} {
				y, ye, dx := run(workers)
				for name, pair := range map[string][2][]float32{"forward": {y1, y}, "forward each": {ye1, ye}, "input grad": {dx1, dx}} {
					for i := range pair[0] {
						if math.Float32bits(pair[0][i]) != math.Float32bits(pair[1][i]) {
							t.Fatalf("%+v, %d workers: %s element %d is %g, %g with one worker", g, workers, name, i, pair[1][i], pair[0][i])
						}
					}
				}
			}
		}
	})
}
