package blas

import (
	"path/filepath"
	"strings"

	"golang.org/x/sys/cpu"
)

// candidates lists the CBLAS libraries tried by "auto" and "openblas", in
// order. Names without a slash go through the dynamic linker's search path;
// the globs find OpenBLAS builds installed outside it (Debian keeps the real
// files in openblas-pthread/ and reaches them through alternatives links).
func candidates() []string {
	names := []string{"libopenblas.so.0", "libopenblas.so"}
	for _, pattern := range []string{
		"/usr/lib/*-linux-gnu/openblas-pthread/libopenblas*.so*",
		"/usr/lib/*-linux-gnu/openblas-openmp/libopenblas*.so*",
		"/usr/lib/*-linux-gnu/openblas-serial/libopenblas*.so*",
		"/usr/lib64/libopenblas*.so*",
		"/usr/lib/libopenblas*.so*",
		"/usr/local/lib/libopenblas*.so*",
		"/opt/OpenBLAS/lib/libopenblas*.so*",
	} {
		matches, _ := filepath.Glob(pattern)
		for _, m := range matches {
			// libopenblas64_ has 64-bit integers and suffixed symbols.
			if !strings.Contains(filepath.Base(m), "64") {
				names = append(names, m)
			}
		}
	}
	// Other libraries exporting CBLAS. libblas.so.3 is accepted only when it
	// exports cblas_sgemm and cblas_dgemm (the loader checks); on Debian it
	// is an alternatives link to OpenBLAS or to the slow reference BLAS.
	return append(names, "libblis.so.4", "libmkl_rt.so.2", "libmkl_rt.so", "libcblas.so.3", "libblas.so.3")
}

// hasAVX512 reports whether the CPU and OS support the AVX-512 subsets
// OpenBLAS's SkylakeX kernels use.
func hasAVX512() bool {
	x := cpu.X86
	return x.HasAVX512F && x.HasAVX512BW && x.HasAVX512VL && x.HasAVX512DQ && x.HasAVX512CD
}

// coreAttempt is one OPENBLAS_CORETYPE setting to load OpenBLAS with.
type coreAttempt struct {
	// core is the value to put in OPENBLAS_CORETYPE while loading; empty
	// means leave the environment as it is (the library's own choice).
	core string
	why  string
}

// corePlan turns ARP_BLAS_CORETYPE into the core types to try, best first,
// plus notes on decisions worth reporting.
func corePlan(env string) (plan []coreAttempt, notes []string) {
	keep := coreAttempt{why: "library's own choice"}
	switch v := strings.TrimSpace(env); strings.ToLower(v) {
	case "", "auto":
		if hasAVX512() {
			return []coreAttempt{{core: "SkylakeX", why: "CPU has AVX-512"}, keep}, nil
		}
		return []coreAttempt{keep}, nil
	case "library", "lib", "keep", "default":
		return []coreAttempt{keep}, nil
	default:
		if missing := coreMissing(v); missing != "" {
			return []coreAttempt{keep}, []string{"ignored ARP_BLAS_CORETYPE=" + v + ": this CPU lacks " + missing}
		}
		return []coreAttempt{{core: v, why: "ARP_BLAS_CORETYPE"}, keep}, nil
	}
}

// coreMissing names the instruction set an OpenBLAS core type needs that
// this CPU lacks, or returns "". Forcing such a core type would kill the
// process with SIGILL, so it is refused. Unknown names pass: OpenBLAS then
// warns and picks a core type itself.
func coreMissing(core string) string {
	switch strings.ToLower(core) {
	case "skylakex":
		if !hasAVX512() {
			return "AVX-512"
		}
	case "cooperlake", "sapphirerapids":
		if !hasAVX512() || !cpu.X86.HasAVX512BF16 {
			return "AVX-512 BF16"
		}
	case "haswell", "zen":
		if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
			return "AVX2/FMA"
		}
	}
	return ""
}
