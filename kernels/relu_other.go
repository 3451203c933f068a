//go:build !amd64 || purego

package kernels

import "unsafe"

func reluGrad512(gy, y, out unsafe.Pointer, n int) {
	panic("kernels: no AVX-512 kernels in this build")
}
func reluGrad256(gy, y, out unsafe.Pointer, n int) { panic("kernels: no AVX2 kernels in this build") }
func addRelu512(a, b, out unsafe.Pointer, n int)   { panic("kernels: no AVX-512 kernels in this build") }
func addRelu256(a, b, out unsafe.Pointer, n int)   { panic("kernels: no AVX2 kernels in this build") }
