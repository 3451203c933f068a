//go:build !cgo

package blas

import "errors"

// Without cgo there is no dlopen: only the pure-Go implementation exists.

// cblasLib is never instantiated without cgo.
type cblasLib struct{}

func (*cblasLib) setThreads(int) {}

func (*cblasLib) controlsThreads() bool { return false }

func loadFirst([]string, string) (*backend, error) {
	return nil, errors.New("OpenBLAS unavailable: built without cgo (CGO_ENABLED=0), so libraries cannot be loaded at run time")
}
