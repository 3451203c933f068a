package kernels

import (
	"math"
	"unsafe"
)

// The pure-Go microkernels: the same contract as the assembly ones (see
// kargs), for float32 and float64.

// Float is the set of element types the kernels are written for.
type Float interface{ ~float32 | ~float64 }

const (
	goMR = 4
	goNV = 2
	goVL = 8
)

var (
	microGo32 = micro{shape: shape{goMR, goNV, goVL}, kernA: kernGo[float32](false), kernB: kernGo[float32](true)}
	microGo64 = micro{shape: shape{goMR, goNV, goVL}, kernA: kernGo[float64](false), kernB: kernGo[float64](true)}
)

func at[T Float](p unsafe.Pointer, off int) T { return *(*T)(unsafe.Add(p, off)) }

func vecAt[T Float](p unsafe.Pointer, off int) *[goVL]T {
	return (*[goVL]T)(unsafe.Add(p, off))
}

// kernGo returns the Go microkernel; aDisp selects the kernB addressing.
func kernGo[T Float](aDisp bool) func(*kargs) {
	return func(p *kargs) {
		var zero T
		size := int(unsafe.Sizeof(zero))
		var acc [goMR][goNV][goVL]T
		var bv [goNV]*[goVL]T
		for t := 0; t < p.k; t++ {
			oa := int(*(*int32)(unsafe.Add(unsafe.Pointer(p.tab), 8*t)))
			ob := int(*(*int32)(unsafe.Add(unsafe.Pointer(p.tab), 8*t+4)))
			for j := range goNV {
				if aDisp {
					bv[j] = vecAt[T](p.b, ob+j*goVL*size)
				} else {
					bv[j] = vecAt[T](p.b, ob+p.disp[j])
				}
			}
			for i := range goMR {
				var a T
				if aDisp {
					a = at[T](p.a, oa+p.disp[i])
				} else {
					a = at[T](p.a, oa+i*size)
				}
				for j := range goNV {
					row, b := &acc[i][j], bv[j]
					for l := range goVL {
						row[l] += a * b[l]
					}
				}
			}
		}
		for i := 0; i < min(p.rows, goMR); i++ {
			var bias T
			if p.bias != nil {
				bias = at[T](p.bias, i*size)
			}
			for j := range goNV {
				lanes := p.mask[j]
				if lanes == 0 {
					continue
				}
				c := unsafe.Add(p.c, i*p.ldc+p.coff[j])
				for l := 0; l < lanes; l++ {
					v := acc[i][j][l]
					if p.bias != nil {
						v += bias
					}
					dst := (*T)(unsafe.Add(c, l*size))
					if p.flags&flagAcc != 0 {
						v = *dst + v
					}
					if p.flags&flagRelu != 0 {
						v = relu(v)
					}
					*dst = v
				}
			}
		}
	}
}

// relu is tensor.Relu's ReLU: for float32, every bit of a value whose sign
// bit is set is cleared (-0 and negative NaNs become +0, positive NaNs
// stay); for float64, values not above 0 (and NaNs) become 0.
func relu[T Float](v T) T {
	switch x := any(v).(type) {
	case float32:
		b := math.Float32bits(x)
		return T(math.Float32frombits(b &^ uint32(int32(b)>>31)))
	case float64:
		if x > 0 {
			return v
		}
	}
	return 0
}
