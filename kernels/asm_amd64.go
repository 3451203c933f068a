//go:build amd64 && !purego

package kernels

// hasAsm reports whether the assembly kernels are compiled in.
const hasAsm = true
