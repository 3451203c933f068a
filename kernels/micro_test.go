package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// microRef computes what a microkernel of shape s must store, in float64,
// given the same arguments, into a copy of c (elements from byte offsets).
func microRef[T Float](s shape, aDisp bool, p *kargs, bitMask bool, a, b, bias, c []T) []float64 {
	var zero T
	size := int(unsafe.Sizeof(zero))
	out := make([]float64, len(c))
	for i := range c {
		out[i] = float64(c[i])
	}
	tab := unsafe.Slice(p.tab, 2*p.k)
	for i := 0; i < min(p.rows, s.mr); i++ {
		for j := 0; j < s.nv; j++ {
			lanes := p.mask[j]
			if bitMask {
				lanes = 0
				for p.mask[j]>>lanes&1 == 1 {
					lanes++
				}
			}
			for l := 0; l < lanes; l++ {
				sum := 0.0
				for t := 0; t < p.k; t++ {
					oa, ob := int(tab[2*t]), int(tab[2*t+1])
					var ai, bi int
					if aDisp {
						ai, bi = oa+p.disp[i], ob+j*s.vl*size+l*size
					} else {
						ai, bi = oa+i*size, ob+p.disp[j]+l*size
					}
					sum += float64(a[ai/size]) * float64(b[bi/size])
				}
				if bias != nil {
					sum += float64(bias[i])
				}
				ci := (i*p.ldc + p.coff[j] + l*size) / size
				if p.flags&flagAcc != 0 {
					sum += float64(c[ci])
				}
				if p.flags&flagRelu != 0 {
					sum = float64(relu(T(sum)))
				}
				out[ci] = sum
			}
		}
	}
	return out
}

func micros() map[string]micro {
	m := map[string]micro{"go32": microGo32}
	if Supported(AVX512) {
		m["avx512"] = micro512
		m["avx512-narrow"] = *micro512.narrow
		for _, s := range micro512.short {
			m[fmt.Sprintf("avx512-short%d", s.mr)] = *s
		}
	}
	if Supported(AVX2) {
		m["avx2"] = micro256
		m["avx2-narrow"] = *micro256.narrow
		for _, s := range micro256.short {
			m[fmt.Sprintf("avx2-short%d", s.mr)] = *s
		}
	}
	return m
}

func testMicro[T Float](t *testing.T, name string, m micro, rng *rand.Rand) {
	var zero T
	size := int(unsafe.Sizeof(zero))
	s := m.shape
	for trial := 0; trial < 200; trial++ {
		aDisp := trial%2 == 1 && m.kernB != nil
		k := rng.IntN(40)
		if trial < 4 {
			k = trial / 2 // k = 0 and 1
		}
		na, nb := 64+rng.IntN(64), 200+rng.IntN(200)
		a := make([]T, na+s.mr*4)
		b := make([]T, nb+s.nr()*4)
		for i := range a {
			a[i] = T(rng.NormFloat64())
		}
		for i := range b {
			b[i] = T(rng.NormFloat64())
		}
		tab := make([]int32, 2*k+2)
		for i := 0; i < k; i++ {
			tab[2*i] = int32(rng.IntN(na) * size)
			tab[2*i+1] = int32(rng.IntN(nb) * size)
		}
		p := kargs{a: unsafe.Pointer(&a[0]), b: unsafe.Pointer(&b[0]), tab: &tab[0], k: k}
		if aDisp {
			for i := 1; i < s.mr; i++ {
				p.disp[i] = rng.IntN(3*s.mr) * size
			}
		} else {
			for j := 1; j < s.nv; j++ {
				p.disp[j] = rng.IntN(3*s.nr()) * size
			}
		}
		ldc := s.nr() + rng.IntN(8)
		p.ldc = ldc * size
		p.rows = 1 + rng.IntN(s.mr)
		p.flags = rng.IntN(4)
		for j := 0; j < s.nv; j++ {
			p.coff[j] = j * s.vl * size
			lanes := s.vl
			if r := rng.IntN(4); r == 0 {
				lanes = rng.IntN(s.vl + 1)
			}
			m.setMask(&p, j, lanes)
		}
		var bias []T
		if rng.IntN(2) == 0 {
			bias = make([]T, s.mr)
			for i := range bias {
				bias[i] = T(rng.NormFloat64())
			}
			p.bias = unsafe.Pointer(&bias[0])
		}
		c := make([]T, s.mr*ldc)
		for i := range c {
			c[i] = T(rng.NormFloat64())
		}
		want := microRef(s, aDisp, &p, m.bitMask, a, b, bias, c)
		p.c = unsafe.Pointer(&c[0])
		if aDisp {
			m.kernB(&p)
		} else {
			m.kernA(&p)
		}
		tol := 1e-4
		if size == 8 {
			tol = 1e-12
		}
		for i := range c {
			if d := math.Abs(float64(c[i]) - want[i]); d > tol*(1+math.Abs(want[i])) {
				t.Fatalf("%s trial %d (kern%c, k=%d rows=%d flags=%d mask=%v bias=%v): c[%d] = %v, want %v",
					name, trial, "AB"[b2i(aDisp)], k, p.rows, p.flags, p.mask, bias != nil, i, c[i], want[i])
			}
		}
	}
}

func TestMicrokernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for name, m := range micros() {
		testMicro[float32](t, name, m, rng)
	}
	testMicro[float64](t, "go64", microGo64, rng)
}

// The fused ReLU on special values: k = 0 leaves acc = +0, so C = bias
// (+0 + b is b for every b but -0); the result must be relu(b) bit for bit.
func TestMicroReluSpecials(t *testing.T) {
	nan := float32(math.NaN())
	specials := []float32{-1, 2, float32(math.Inf(-1)), float32(math.Inf(1)), nan, -nan, 1e-40, -1e-40}
	for name, m := range micros() {
		s := m.shape
		for start := 0; start < len(specials); start += s.mr {
			bias := make([]float32, s.mr)
			for i := range bias {
				bias[i] = specials[(start+i)%len(specials)]
			}
			c := make([]float32, s.mr*s.nr())
			tab := []int32{0, 0}
			p := kargs{a: unsafe.Pointer(&bias[0]), b: unsafe.Pointer(&c[0]), c: unsafe.Pointer(&c[0]), tab: &tab[0],
				ldc: s.nr() * 4, rows: s.mr, flags: flagRelu, bias: unsafe.Pointer(&bias[0])}
			for j := 0; j < s.nv; j++ {
				p.coff[j] = j * s.vl * 4
				m.setMask(&p, j, s.vl)
			}
			m.kernA(&p)
			for i := 0; i < s.mr; i++ {
				want := math.Float32bits(relu(float32(0) + bias[i]))
				for l := 0; l < s.nr(); l++ {
					if got := math.Float32bits(c[i*s.nr()+l]); got != want {
						t.Fatalf("%s: relu(%v) = %#x, want %#x", name, bias[i], got, want)
					}
				}
			}
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
