package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The transform matrices, for the error scale (as in winograd.go).
var (
	winoBTm = [6][6]float64{
		{4, 0, -5, 0, 1, 0},
		{0, -4, -4, 1, 1, 0},
		{0, 4, -4, -1, 1, 0},
		{0, -2, -1, 2, 1, 0},
		{0, 2, -1, -2, 1, 0},
		{0, 4, 0, -5, 0, 1},
	}
	winoGm = [6][5]float64{
		{1.0 / 4, 0, 0, 0, 0},
		{-1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6},
		{-1.0 / 6, 1.0 / 6, -1.0 / 6, 1.0 / 6, -1.0 / 6},
		{1.0 / 24, 1.0 / 12, 1.0 / 6, 1.0 / 3, 2.0 / 3},
		{1.0 / 24, -1.0 / 12, 1.0 / 6, -1.0 / 3, 2.0 / 3},
		{0, 0, 0, 0, 1},
	}
	winoATm = [2][6]float64{{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 1}}
)

// winoScale returns, for every output of the forward convolution g of x
// with w (5x5, unit strides), the scale of Winograd F(2x2,5x5)'s rounding
// errors: S = sum over ξ of |A^T ⊗ A^T|[o][ξ] * sum over c of |U|[ξ] |V|[ξ],
// where |U| = |G ⊗ G| |w[f][c]| and |V| = |B^T ⊗ B^T| |d| for the output's
// 6x6 input tile d. Every float32 operation of the algorithm (rounding the
// transformed weights, each step of the input transform, the products,
// their sums over the C channels, the output transform) errs by at most
// the unit roundoff u = 2^-24 of a value bounded by these magnitudes, so
// the error is at most about (C + 20) u S: C for the sum over channels
// (the worst case of a recursive sum), the rest for the transforms' few
// steps. (Relative to sum |x||w| this scale is 36x-ish: B^T's entries
// reach 5, G's rows sum to 31/24, A^T's to 6.)
func winoScale(g ConvGeom, x, w []float32) []float64 {
	tx, ty := (g.OW+1)/2, (g.OH+1)/2
	au := make([]float64, g.F*g.C*36) // |U|
	for f := range g.F {
		for c := range g.C {
			k := w[(f*g.C+c)*25:]
			for a := range 6 {
				for b := range 6 {
					var s float64
					for r := range 5 {
						for q := range 5 {
							s += math.Abs(winoGm[a][r]*winoGm[b][q]) * math.Abs(float64(k[r*5+q]))
						}
					}
					au[(f*g.C+c)*36+a*6+b] = s
				}
			}
		}
	}
	out := make([]float64, g.N*g.F*g.ohw())
	av := make([]float64, g.C*36)
	for n := range g.N {
		for tr := range ty {
			for tc := range tx {
				for c := range g.C {
					var d [6][6]float64
					for i := range 6 {
						for j := range 6 {
							iy, ix := 2*tr+i-g.PT, 2*tc+j-g.PL
							if iy >= 0 && iy < g.H && ix >= 0 && ix < g.W {
								d[i][j] = math.Abs(float64(x[((n*g.C+c)*g.H+iy)*g.W+ix]))
							}
						}
					}
					for k := range 6 {
						for l := range 6 {
							var s float64
							for i := range 6 {
								for j := range 6 {
									s += math.Abs(winoBTm[k][i]*winoBTm[l][j]) * d[i][j]
								}
							}
							av[c*36+k*6+l] = s
						}
					}
				}
				for f := range g.F {
					var prod [36]float64
					for c := range g.C {
						for xi := range 36 {
							prod[xi] += au[(f*g.C+c)*36+xi] * av[c*36+xi]
						}
					}
					for a := range 2 {
						for b := range 2 {
							oy, ox := 2*tr+a, 2*tc+b
							if oy >= g.OH || ox >= g.OW {
								continue
							}
							var s float64
							for xi := range 36 {
								s += math.Abs(winoATm[a][xi/6]*winoATm[b][xi%6]) * prod[xi]
							}
							out[((n*g.F+f)*g.OH+oy)*g.OW+ox] = s
						}
					}
				}
			}
		}
	}
	return out
}

// winoWithin checks got against want within (C + 20) u scale per element
// and returns the largest error in units of u*scale.
func winoWithin(t *testing.T, what string, g ConvGeom, got []float32, want, scale []float64) float64 {
	t.Helper()
	u := math.Ldexp(1, -24)
	worst := 0.0
	for i := range want {
		d := math.Abs(float64(got[i]) - want[i])
		bound := float64(g.C+20) * u * scale[i]
		if !(d <= bound) {
			t.Fatalf("%s %+v: element %d = %v, want %v (error %.3g, bound %.3g)", what, g, i, got[i], want[i], d, bound)
		}
		if scale[i] > 0 {
			worst = max(worst, d/(u*scale[i]))
		}
	}
	return worst
}

// winoGeoms draws 5x5 unit-stride geometries: odd batches, channel counts
// that are and are not multiples of the vector widths, image sides from 1
// to 20 (1x1, 5x5, 7x9, 16x16 among them) and 3x220 (the widest rows),
// padding 0 to 4 per side.
func winoGeoms(rng *rand.Rand, n int) []ConvGeom {
	chans := []int{1, 3, 17, 64, 6, 16}
	sides := [][2]int{{1, 1}, {5, 5}, {7, 9}, {16, 16}, {2, 3}, {11, 4}, {3, 220}}
	var gs []ConvGeom
	for len(gs) < n {
		g := ConvGeom{N: 1 + 2*rng.IntN(2), C: chans[rng.IntN(len(chans))], F: chans[rng.IntN(len(chans))],
			KH: 5, KW: 5, SH: 1, SW: 1, DH: 1, DW: 1, PT: rng.IntN(5), PB: rng.IntN(5), PL: rng.IntN(5), PR: rng.IntN(5)}
		if len(gs) < len(sides) {
			g.H, g.W = sides[len(gs)][0], sides[len(gs)][1]
			g.PT, g.PB, g.PL, g.PR = 2, 2, 2, 2
		} else {
			g.H, g.W = 1+rng.IntN(20), 1+rng.IntN(20)
		}
		g.OH, g.OW = g.H+g.PT+g.PB-4, g.W+g.PL+g.PR-4
		if g.OH < 1 || g.OW < 1 || g.Check() != nil {
			continue
		}
		gs = append(gs, g)
	}
	return gs
}

// checkWino holds the Winograd forward convolution (ConvForward and
// ConvForwardEach, with and without bias and ReLU) and input gradient
// (ConvInputGrad, ConvBackwardEach) of g to the naive float64 references
// within winoWithin's bound, on the path in use; it returns the largest
// error in units of u*scale.
func checkWino(t *testing.T, rng *rand.Rand, g ConvGeom) float64 {
	prev := CurrentConvAlgo()
	UseConvAlgo(ConvWinograd)
	defer UseConvAlgo(prev)
	if !useWino[float32](g) {
		t.Fatalf("%+v: not on the Winograd path", g)
	}
	x := randSlice[float32](rng, g.N*g.C*g.H*g.W)
	w := randSlice[float32](rng, g.F*g.ckk())
	var bias []float32
	if rng.IntN(2) == 0 {
		bias = randSlice[float32](rng, g.F)
	}
	relu := rng.IntN(2) == 0
	want := naiveConv(g, x, w, bias)
	if relu {
		for i, v := range want {
			want[i] = max(v, 0)
		}
	}
	scale := winoScale(g, x, w)
	y := randSlice[float32](rng, len(want))
	ConvForward(g, x, w, bias, y, relu)
	worst := winoWithin(t, "forward", g, y, want, scale)
	fo := g.F * g.ohw()
	ye := randSlice[float32](rng, len(want))
	ConvForwardEach(g, x, w, bias, relu, func(n int, yn []float32) { copy(ye[n*fo:(n+1)*fo], yn) })
	for i := range y {
		if math.Float32bits(y[i]) != math.Float32bits(ye[i]) {
			t.Fatalf("%+v: ConvForwardEach element %d = %v, ConvForward's %v", g, i, ye[i], y[i])
		}
	}
	// the input gradient is the forward convolution g2 of gy with the
	// flipped weights
	g2, ok := inputGradAsForward[float32](g)
	if !ok || !useWino[float32](g2) {
		return worst
	}
	gy := randSlice[float32](rng, len(want))
	wt := make([]float32, len(w))
	flipWeights(g, w, wt)
	wdx, _ := naiveConvGrads(g, x, w, gy)
	dscale := winoScale(g2, gy, wt)
	dx := randSlice[float32](rng, len(x))
	ConvInputGrad(g, gy, w, dx)
	if !useCols[float32](g) {
		worst = max(worst, winoWithin(t, "input grad", g2, dx, wdx, dscale))
	}
	dxe := randSlice[float32](rng, len(x))
	ConvBackwardEach(g, x, w, func(n int, _ []float32) []float32 { return gy[n*fo : (n+1)*fo] }, dxe, nil)
	if !useCols[float32](g) {
		worst = max(worst, winoWithin(t, "input grad, each", g2, dxe, wdx, dscale))
	}
	return worst
}

// winoWgradScale returns the error scale of the Winograd weight gradient
// of g for input x and output gradient gy, per weight: with S the sum over
// images and tiles of |A ⊗ A| |dy| ⊙ |B^T ⊗ B^T| |d|, the scale of dw[f][c]
// is |G^T ⊗ G^T| S[f][c] (as winoScale, the magnitudes every float32 step
// is bounded by).
func winoWgradScale(g ConvGeom, x, gy []float32) []float64 {
	tx, ty := (g.OW+1)/2, (g.OH+1)/2
	at := [6][2]float64{{1, 0}, {1, 1}, {1, 1}, {1, 2}, {1, 2}, {0, 1}}
	s := make([]float64, g.F*g.C*36)
	av := make([]float64, g.C*36)
	for n := range g.N {
		for tr := range ty {
			for tc := range tx {
				for c := range g.C {
					for k := range 6 {
						for l := range 6 {
							var v float64
							for i := range 6 {
								for j := range 6 {
									iy, ix := 2*tr+i-g.PT, 2*tc+j-g.PL
									if iy >= 0 && iy < g.H && ix >= 0 && ix < g.W {
										v += math.Abs(winoBTm[k][i]*winoBTm[l][j]) * math.Abs(float64(x[((n*g.C+c)*g.H+iy)*g.W+ix]))
									}
								}
							}
							av[c*36+k*6+l] = v
						}
					}
				}
				for f := range g.F {
					var ay [36]float64
					for a := range 2 {
						for b := range 2 {
							oy, ox := 2*tr+a, 2*tc+b
							if oy >= g.OH || ox >= g.OW {
								continue
							}
							d := math.Abs(float64(gy[((n*g.F+f)*g.OH+oy)*g.OW+ox]))
							for xi := range 36 {
								ay[xi] += at[xi/6][a] * at[xi%6][b] * d
							}
						}
					}
					for c := range g.C {
						for xi := range 36 {
							s[(f*g.C+c)*36+xi] += ay[xi] * av[c*36+xi]
						}
					}
				}
			}
		}
	}
	out := make([]float64, g.F*g.C*25)
	for p := range g.F * g.C {
		for r := range 5 {
			for q := range 5 {
				var v float64
				for xi := range 36 {
					v += math.Abs(winoGm[xi/6][r]*winoGm[xi%6][q]) * s[p*36+xi]
				}
				out[p*25+r*5+q] = v
			}
		}
	}
	return out
}

// checkWinoWgrad holds the Winograd weight gradient (ConvWeightGrad,
// ConvBackwardEach) of g to the naive float64 reference within (N*tiles +
// 20) u times winoWgradScale (the sum runs over every image's tiles), and
// the two entry points to each other bit for bit (the same partial sums
// in the same order).
func checkWinoWgrad(t *testing.T, rng *rand.Rand, g ConvGeom) float64 {
	prev := CurrentConvAlgo()
	UseConvAlgo(ConvWinograd)
	defer UseConvAlgo(prev)
	x := randSlice[float32](rng, g.N*g.C*g.H*g.W)
	w := randSlice[float32](rng, g.F*g.ckk())
	gy := randSlice[float32](rng, g.N*g.F*g.ohw())
	_, wdw := naiveConvGrads(g, x, w, gy)
	scale := winoWgradScale(g, x, gy)
	dw := randSlice[float32](rng, len(w))
	ConvWeightGrad(g, x, gy, dw)
	tiles := (g.OW + 1) / 2 * ((g.OH + 1) / 2)
	u := math.Ldexp(1, -24)
	worst := 0.0
	for i := range wdw {
		d := math.Abs(float64(dw[i]) - wdw[i])
		bound := float64(g.N*tiles+20) * u * scale[i]
		if !(d <= bound) {
			t.Fatalf("weight grad %+v: element %d = %v, want %v (error %.3g, bound %.3g)", g, i, dw[i], wdw[i], d, bound)
		}
		if scale[i] > 0 {
			worst = max(worst, d/(u*scale[i]))
		}
	}
	fo := g.F * g.ohw()
	dwe := randSlice[float32](rng, len(w))
	ConvBackwardEach(g, x, w, func(n int, _ []float32) []float32 { return gy[n*fo : (n+1)*fo] }, nil, dwe)
	for i := range dw {
		if math.Float32bits(dw[i]) != math.Float32bits(dwe[i]) {
			t.Fatalf("%+v: ConvBackwardEach weight grad element %d = %v, ConvWeightGrad's %v", g, i, dwe[i], dw[i])
		}
	}
	return worst
}

// TestWinogradWeightGrad holds the Winograd weight gradient to the naive
// float64 reference on every CPU path.
func TestWinogradWeightGrad(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(63, 64))
		worst := 0.0
		for _, g := range winoGeoms(rng, 24) {
			worst = max(worst, checkWinoWgrad(t, rng, g))
		}
		g := ConvGeom{N: 2, C: 64, H: 16, W: 16, F: 64, KH: 5, KW: 5, OH: 16, OW: 16, SH: 1, SW: 1, PT: 2, PB: 2, PL: 2, PR: 2, DH: 1, DW: 1}
		worst = max(worst, checkWinoWgrad(t, rng, g))
		t.Logf("largest error: %.3g u*scale", worst)
	})
}

// TestWinogradAgainstNaive holds the Winograd path to the naive float64
// references on every CPU path.
func TestWinogradAgainstNaive(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(61, 62))
		worst := 0.0
		for _, g := range winoGeoms(rng, 30) {
			worst = max(worst, checkWino(t, rng, g))
		}
		// CifarNet's conv2
		g := ConvGeom{N: 1, C: 64, H: 16, W: 16, F: 64, KH: 5, KW: 5, OH: 16, OW: 16, SH: 1, SW: 1, PT: 2, PB: 2, PL: 2, PR: 2, DH: 1, DW: 1}
		worst = max(worst, checkWino(t, rng, g))
		t.Logf("largest error: %.3g u*scale", worst)
	})
}

// TestConvAlgoSetting: ARP_CONV's values parse or are refused, direct
// keeps every geometry off the Winograd path, auto takes it for
// CifarNet's conv2 (measured faster) and not for conv1 (3 channels).
func TestConvAlgoSetting(t *testing.T) {
	for _, c := range []struct {
		in   string
		want ConvAlgo
		ok   bool
	}{{"", ConvAuto, true}, {"auto", ConvAuto, true}, {"Direct", ConvDirect, true}, {" winograd ", ConvWinograd, true}, {"wino", ConvAuto, false}, {"fft", ConvAuto, false}} {
		a, err := ParseConvAlgo(c.in)
		if (err == nil) != c.ok || c.ok && a != c.want {
			t.Errorf("ParseConvAlgo(%q) = %v, %v", c.in, a, err)
		}
	}
	prev := CurrentConvAlgo()
	defer UseConvAlgo(prev)
	conv2 := ConvGeom{N: 50, C: 64, H: 16, W: 16, F: 64, KH: 5, KW: 5, OH: 16, OW: 16, SH: 1, SW: 1, PT: 2, PB: 2, PL: 2, PR: 2, DH: 1, DW: 1}
	conv1 := conv2
	conv1.C, conv1.H, conv1.W, conv1.OH, conv1.OW = 3, 32, 32, 32, 32
	UseConvAlgo(ConvAuto)
	if !useWino[float32](conv2) || useWino[float32](conv1) || useWino[float64](conv2) {
		t.Error("auto: want Winograd for CifarNet's conv2 in float32 only")
	}
	UseConvAlgo(ConvDirect)
	if useWino[float32](conv2) {
		t.Error("direct: Winograd chosen")
	}
	UseConvAlgo(ConvWinograd)
	if !useWino[float32](conv1) || useWino[float64](conv1) {
		t.Error("winograd: want every float32 5x5 unit-stride geometry")
	}
	// beyond the scratch rows (221 pixels wide) or the memory bound
	// (512 channels of 100x100 pixels: 190 MB of transforms)
	wide := conv2
	wide.W, wide.OW = 221, 221
	big := conv2
	big.C, big.F, big.H, big.W, big.OH, big.OW = 512, 512, 100, 100, 100, 100
	if useWino[float32](wide) || useWino[float32](big) {
		t.Error("winograd: chosen beyond the scratch rows or the memory bound")
	}
	wide.W, wide.OW = 220, 220
	if !useWino[float32](wide) {
		t.Error("winograd: not chosen for 220 pixels")
	}
}

// FuzzWinograd holds the Winograd path of every CPU path (forward, input
// and weight gradients) to the naive references on 5x5 unit-stride
// geometries the fuzzer chooses: image sides up to 24, padding up to 4 per
// side, up to 24 channels each way, 1 or 2 images (small enough that an
// instrumented input finishes well within the fuzzer's 10-second hang
// limit; the tests run CifarNet's conv2 and the widest rows).
func FuzzWinograd(f *testing.F) {
	f.Add(uint8(1), uint8(23), uint8(15), uint8(15), uint8(23), uint8(2), uint8(2), uint8(2), uint8(2), uint64(1))
	f.Add(uint8(2), uint8(3), uint8(1), uint8(1), uint8(17), uint8(2), uint8(2), uint8(2), uint8(2), uint64(2))
	f.Add(uint8(0), uint8(17), uint8(7), uint8(9), uint8(5), uint8(0), uint8(4), uint8(1), uint8(3), uint64(3))
	f.Fuzz(func(t *testing.T, n, c, h, w, fo, pt, pb, pl, pr uint8, seed uint64) {
		g := ConvGeom{N: 1 + int(n)%2, C: 1 + int(c)%24, H: 1 + int(h)%24, W: 1 + int(w)%24, F: 1 + int(fo)%24,
			KH: 5, KW: 5, SH: 1, SW: 1, DH: 1, DW: 1, PT: int(pt) % 5, PB: int(pb) % 5, PL: int(pl) % 5, PR: int(pr) % 5}
		g.OH, g.OW = g.H+g.PT+g.PB-4, g.W+g.PL+g.PR-4
		if g.OH < 1 || g.OW < 1 || g.Check() != nil {
			t.Skip("kernel larger than the padded image")
		}
		forEachPath(t, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 11))
			checkWino(t, rng, g)
			checkWinoWgrad(t, rng, g)
		})
	})
}

// BenchmarkWinogradPhases times the phases of CifarNet's conv2 on the
// Winograd path, one image on one core: the weight transform (once per
// call), the input transform (with the padding), the 36 products and the
// output transform; "image" is the three per-image phases together, its
// GFLOP/s the direct convolution's FLOPs over its time.
func BenchmarkWinogradPhases(b *testing.B) {
	g := ConvGeom{N: 1, C: 64, H: 16, W: 16, F: 64, KH: 5, KW: 5, OH: 16, OW: 16, SH: 1, SW: 1, PT: 2, PB: 2, PL: 2, PR: 2, DH: 1, DW: 1}
	rng := rand.New(rand.NewPCG(1, 2))
	x := randSlice[float32](rng, g.C*g.H*g.W)
	w := randSlice[float32](rng, g.F*g.ckk())
	bias := randSlice[float32](rng, g.F)
	y := make([]float32, g.F*g.ohw())
	prev := Workers()
	SetWorkers(1)
	defer SetWorkers(prev)
	b.Run("weights", func(b *testing.B) {
		for b.Loop() {
			newWinoPlan(g, w, bias, true).free()
		}
	})
	pl := newWinoPlan(g, w, bias, true)
	defer pl.free()
	buf := GetBuf[float32](pl.scratch)
	defer PutBuf(buf)
	var p kargs
	pl.image(x, buf, &p, y)
	for _, ph := range []struct {
		name string
		run  func()
	}{
		{"inputs", func() { pl.inputs(x, buf) }},
		{"products", func() { pl.products(buf, &p) }},
		{"outputs", func() { pl.outputs(buf, y) }},
		{"image", func() { pl.image(x, buf, &p, y) }},
	} {
		b.Run(ph.name, func(b *testing.B) {
			for b.Loop() {
				ph.run()
			}
			if ph.name == "image" {
				b.ReportMetric(float64(2*g.F*g.ohw()*g.ckk())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			}
		})
	}
	// the weight gradient: one image's contribution (input transform,
	// output-gradient transform, products added to a partial sum) and
	// the final G^T S G (once per call)
	ww := newWinoWgrad(g)
	defer ww.free()
	xp, dyb := ww.buffers()
	defer PutBuf(xp)
	defer PutBuf(dyb)
	part := make([]float32, ww.size())
	dw := make([]float32, len(w))
	b.Run("wgrad image", func(b *testing.B) {
		for b.Loop() {
			ww.add(x, y, part, xp, dyb)
		}
		b.ReportMetric(float64(2*g.F*g.ohw()*g.ckk())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
	b.Run("wgrad store", func(b *testing.B) {
		for b.Loop() {
			ww.store(part, dw)
		}
	})
}
