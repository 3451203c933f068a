//go:build amd64 && !purego

package kernels

import "unsafe"

// reluGrad512 and reluGrad256 set out[i] = gy[i] where the int32 bits of
// y[i] are positive, +0 elsewhere, for n elements (a multiple of 16, 8).
// See ReluGrad32.
//
//go:noescape
func reluGrad512(gy, y, out unsafe.Pointer, n int)

//go:noescape
func reluGrad256(gy, y, out unsafe.Pointer, n int)

// addRelu512 and addRelu256 set out[i] = relu(a[i] + b[i]) for n elements
// (a multiple of 16, 8). See AddRelu32.
//
//go:noescape
func addRelu512(a, b, out unsafe.Pointer, n int)

//go:noescape
func addRelu256(a, b, out unsafe.Pointer, n int)
