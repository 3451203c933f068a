package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// BenchmarkMicro times one microkernel call on L1-resident packed panels.
func BenchmarkMicro(b *testing.B) {
	for name, m := range micros() {
		for _, k := range []int{64, 128} {
			for _, mis := range []int{0, 1} {
				b.Run(fmt.Sprintf("%s/k=%d/misaligned=%d", name, k, mis), func(b *testing.B) {
					rng := rand.New(rand.NewPCG(1, 1))
					a := randSlice[float32](rng, k*m.mr)
					bb := randSlice[float32](rng, k*m.nr()+16)[mis:]
					c := make([]float32, m.mr*m.nr())
					tab := make([]int32, 2*k)
					for t := 0; t < k; t++ {
						tab[2*t], tab[2*t+1] = int32(t*m.mr*4), int32(t*m.nr()*4)
					}
					p := kargs{a: unsafe.Pointer(&a[0]), b: unsafe.Pointer(&bb[0]), c: unsafe.Pointer(&c[0]), tab: &tab[0], k: k, ldc: m.nr() * 4, rows: m.mr}
					for j := 0; j < m.nv; j++ {
						p.disp[j], p.coff[j] = j*m.vl*4, j*m.vl*4
						m.setMask(&p, j, m.vl)
					}
					cpu0 := cpuTime()
					for i := 0; i < b.N; i++ {
						m.kernA(&p)
					}
					reportFlops(b, 2*float64(k*m.mr*m.nr()), cpu0)
				})
			}
		}
	}
}
