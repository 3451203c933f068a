//go:build !cgo

package blas

const cgoEnabled = false
