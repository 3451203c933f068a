package kernels

import (
	"math"
	"unsafe"
)

// AdamConsts are the float32 constants of one Adam step (see AdamStep32).
// The layout is fixed: the assembly reads it.
type AdamConsts struct {
	B1, OneMinusB1 float32 // beta1, 1-beta1
	B2, OneMinusB2 float32 // beta2, 1-beta2
	Eps            float32
	Step           float32 // lr / (1 - beta1^t)
	SqrtBC2        float32 // sqrt(1 - beta2^t)
	Decay          float32 // 1 - lr*wd (decoupled weight decay)
	WD             float32 // wd (L2 weight decay added to the gradient)
	Decoupled      int32   // 1: AdamW's decay of w, 0: wd*w added to g
}

// AdamStep32 applies one Adam update in float32 arithmetic to w with
// gradient g and moments m, v (all of one length), element by element:
//
//	w *= Decay (decoupled), or g += WD*w
//	m = B1*m + OneMinusB1*g
//	v = B2*v + (OneMinusB2*g)*g
//	w = w - Step*m / (sqrt(v)/SqrtBC2 + Eps)
//
// each operation rounded to float32 in that order (no fused
// multiply-adds), so every path gives the same bits.
func AdamStep32(w, g, m, v []float32, c *AdamConsts) {
	n := len(w)
	g, m, v = g[:n], m[:n], v[:n]
	done := vecPrefix(n)
	if done > 0 {
		pw, pg, pm, pv := unsafe.Pointer(&w[0]), unsafe.Pointer(&g[0]), unsafe.Pointer(&m[0]), unsafe.Pointer(&v[0])
		if Current() == AVX512 {
			adamBlock512(pw, pg, pm, pv, done, c)
		} else {
			adamBlock256(pw, pg, pm, pv, done, c)
		}
	}
	adamGo(w[done:], g[done:], m[done:], v[done:], c)
}

// adamGo is AdamStep32 in Go; the conversions keep the compiler from
// fusing multiplies and adds (which it may do on some targets).
func adamGo(w, g, m, v []float32, c *AdamConsts) {
	for j := range w {
		gj, wj := g[j], w[j]
		if c.Decoupled != 0 {
			wj *= c.Decay
		} else {
			gj += float32(c.WD * wj)
		}
		mj := float32(c.B1*m[j]) + float32(c.OneMinusB1*gj)
		vj := float32(c.B2*v[j]) + float32(float32(c.OneMinusB2*gj)*gj)
		m[j], v[j] = mj, vj
		w[j] = wj - float32(c.Step*mj)/(float32(float32(math.Sqrt(float64(vj)))/c.SqrtBC2)+c.Eps)
	}
}
