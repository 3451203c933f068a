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

var (
	micro512 = microGo32
	micro256 = microGo32
)
