//go:build !amd64 || purego

package kernels

import "unsafe"

func fmaLoop512(n int) { panic("kernels: no AVX-512 kernels in this build") }

func transposeBlock512(src unsafe.Pointer, lds int, dst unsafe.Pointer, ldd int) {
	panic("kernels: no AVX-512 kernels in this build")
}

func transposeBlock256(src unsafe.Pointer, lds int, dst unsafe.Pointer, ldd int) {
	panic("kernels: no AVX2 kernels in this build")
}
func fmaLoop256(n int) { panic("kernels: no AVX2 kernels in this build") }

func clockLoop(n int) { panic("kernels: no assembly in this build") }

var (
	micro512 = microGo32
	micro256 = microGo32
)

func maxPool2x2Block512(r0, r1 unsafe.Pointer, blocks int, w int, base int32, idx *int32, val *float32) int {
	panic("kernels: no AVX-512 kernels in this build")
}

func adamBlock512(w, grad, m, v unsafe.Pointer, n int, c *AdamConsts) {
	panic("kernels: no AVX-512 kernels in this build")
}

func adamBlock256(w, grad, m, v unsafe.Pointer, n int, c *AdamConsts) {
	panic("kernels: no AVX2 kernels in this build")
}

func maxPool2x2Tail512(r0, r1 unsafe.Pointer, n int, w int, base int32, idx *int32, val *float32) int {
	panic("kernels: no AVX-512 kernels in this build")
}

func padRows512(src, dst unsafe.Pointer, rows, nvec, lds, ldd int, tail, gap uint16) {
	panic("kernels: no AVX-512 kernels in this build")
}

func maxPool2x2Vals512(src unsafe.Pointer, w, stride, ow, rows int, dst unsafe.Pointer) int {
	panic("kernels: no AVX-512 kernels in this build")
}

func maxPoolGrad2x2Plane512(gy, y unsafe.Pointer, idx *int32, z unsafe.Pointer, base int32, ph, pw, ow int, sum *float32) int {
	panic("kernels: no AVX-512 kernels in this build")
}

func sumTaps512(p *kargs) { panic("kernels: no AVX-512 kernels in this build") }

func kernD512(p *kargs) { panic("kernels: no AVX-512 kernels in this build") }

func padRows256(src, dst unsafe.Pointer, rows, nvec, lds, ldd int, tail, gap uint16) {
	panic("kernels: no AVX2 kernels in this build")
}

func binAdd512(a, b, out unsafe.Pointer, n, sa, sb int) {
	panic("kernels: no AVX-512 kernels in this build")
}

func binSub512(a, b, out unsafe.Pointer, n, sa, sb int) {
	panic("kernels: no AVX-512 kernels in this build")
}

func binMul512(a, b, out unsafe.Pointer, n, sa, sb int) {
	panic("kernels: no AVX-512 kernels in this build")
}

func binDiv512(a, b, out unsafe.Pointer, n, sa, sb int) {
	panic("kernels: no AVX-512 kernels in this build")
}

func maxPoolGrad2x2Plane256(gy, y unsafe.Pointer, idx *int32, z unsafe.Pointer, base int32, ph, pw, ow int, sum *float32) int {
	panic("kernels: no AVX2 kernels in this build")
}

func kernA512(p *kargs) { panic("kernels: no AVX-512 kernels in this build") }

func maxPool2x2Rows512(src unsafe.Pointer, w, stride, ow, rows int, base int32, idx *int32, val unsafe.Pointer) int {
	panic("kernels: no AVX-512 kernels in this build")
}

func winoIn512(p *wargs)  { panic("kernels: no AVX-512 kernels in this build") }
func winoIn256(p *wargs)  { panic("kernels: no AVX2 kernels in this build") }
func winoOut512(p *wargs) { panic("kernels: no AVX-512 kernels in this build") }
func winoOut256(p *wargs) { panic("kernels: no AVX2 kernels in this build") }
func winoDy512(p *wargs)  { panic("kernels: no AVX-512 kernels in this build") }
func winoDy256(p *wargs)  { panic("kernels: no AVX2 kernels in this build") }
