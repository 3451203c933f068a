package blas

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// gemmer is one GEMM implementation. Its methods receive arguments that the
// exported functions have already validated, and they are called only when
// m > 0, n > 0 and k > 0 (the degenerate cases are handled in Go).
type gemmer interface {
	sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	dgemm(tA, tB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int)
	sgemv(tA bool, m, n int, alpha float32, a []float32, lda int, x []float32, incX int, beta float32, y []float32, incY int)
}

// backend is an implementation in use: the gemmer for ordinary calls, the
// gemmer for single-threaded calls, and what to report about them.
type backend struct {
	multi  gemmer
	single gemmer
	// lib is the loaded C library, nil for gonum.
	lib  *cblasLib
	info Backend
}

// Backend describes the implementation in use. See [Current].
type Backend struct {
	// Name is "openblas" (OpenBLAS), "cblas" (another CBLAS library) or
	// "gonum" (pure Go).
	Name string
	// Library is the file the C library was loaded from; empty for gonum.
	Library string
	// Version is the library version, e.g. "0.3.21", when it can be read.
	Version string
	// Config is what openblas_get_config reports, e.g. "OpenBLAS 0.3.21
	// NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64".
	Config string
	// Core is the OpenBLAS kernel set in use (openblas_get_corename), e.g.
	// "SkylakeX" or "Haswell".
	Core string
	// Threads is the number of threads Sgemm and Dgemm may use; 0 for a
	// library whose threading this package cannot control.
	Threads int
	// SingleInstance reports that SgemmSingle and DgemmSingle use a second,
	// independent single-threaded copy of the library, so they never touch
	// the thread pool of the first one.
	SingleInstance bool
	// Notes records the decisions taken while choosing, most importantly
	// why a preferred choice was rejected (library missing, self-test
	// failed, ...).
	Notes []string
}

// String formats b in one line, e.g.
// "openblas 0.3.21 (/usr/lib/x86_64-linux-gnu/libopenblas.so.0, core SkylakeX, 2 threads)".
func (b Backend) String() string {
	var s strings.Builder
	s.WriteString(b.Name)
	if b.Version != "" {
		s.WriteString(" " + b.Version)
	}
	var parts []string
	if b.Name == "gonum" {
		parts = append(parts, "pure Go")
	}
	if b.Library != "" {
		parts = append(parts, b.Library)
	}
	if b.Core != "" {
		parts = append(parts, "core "+b.Core)
	}
	switch {
	case b.Name == "gonum":
		parts = append(parts, fmt.Sprintf("up to %d goroutines", runtime.GOMAXPROCS(0)))
	case b.Threads > 0:
		parts = append(parts, fmt.Sprintf("%d threads", b.Threads))
	default:
		parts = append(parts, "library's own threading")
	}
	fmt.Fprintf(&s, " (%s)", strings.Join(parts, ", "))
	if len(b.Notes) > 0 {
		s.WriteString("; " + strings.Join(b.Notes, "; "))
	}
	return s.String()
}

var (
	// cur is the backend in use; nil until the first call or Use.
	cur      atomic.Pointer[backend]
	initOnce sync.Once
	// initErr is the error of the environment-driven initialisation.
	initErr error
	// mu serialises loading, switching and thread changes.
	mu sync.Mutex
	// threads is the thread count requested with SetThreads (0: default).
	threads atomic.Int64
	// loaded caches the C libraries loaded so far by file and core type; a
	// library is never unloaded once it has been used for computing, since
	// another goroutine may still be inside it.
	loaded = map[string]*cblasLib{}
)

// get returns the backend in use, initialising it from the environment on
// first use.
func get() *backend {
	if b := cur.Load(); b != nil {
		return b
	}
	initOnce.Do(initFromEnv)
	return cur.Load()
}

// Init chooses the implementation from the environment (ARP_BLAS,
// ARP_BLAS_CORETYPE) if that has not happened yet, and reports an error if
// the implementation the environment asked for could not be used. The
// package then works with the pure-Go implementation, so the error is
// informative; commands may print it or stop. Calling Init is optional: the
// first GEMM initialises the package lazily.
func Init() error {
	get()
	mu.Lock()
	defer mu.Unlock()
	return initErr
}

func initFromEnv() {
	mu.Lock()
	defer mu.Unlock()
	if cur.Load() != nil {
		return // Use ran first.
	}
	name := os.Getenv("ARP_BLAS")
	b, err := choose(name, os.Getenv("ARP_BLAS_CORETYPE"))
	if err != nil {
		initErr = fmt.Errorf("blas: ARP_BLAS=%q: %w", name, err)
		var notes []string
		if b != nil {
			notes = b.info.Notes
		}
		b = gonumBackend(append(notes, initErr.Error()))
	}
	cur.Store(b)
}

// Use switches to the named implementation:
//
//   - "auto" or "": OpenBLAS (or another CBLAS library) if one loads and
//     passes the self-test, else gonum;
//   - "go" or "gonum": the pure-Go implementation;
//   - "openblas": the first CBLAS library found; an error if none works;
//   - a file path (containing "/" or ending in ".so"): that library.
//
// The OpenBLAS core type follows ARP_BLAS_CORETYPE (see the package
// documentation). On error the implementation in use is unchanged. Use is
// safe to call concurrently with GEMMs: calls already running finish with
// the old implementation.
func Use(name string) error {
	mu.Lock()
	defer mu.Unlock()
	b, err := choose(name, os.Getenv("ARP_BLAS_CORETYPE"))
	if err != nil {
		return fmt.Errorf("blas.Use(%q): %w", name, err)
	}
	cur.Store(b)
	return nil
}

// choose builds the backend called name. With mu held.
func choose(name, coretype string) (*backend, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "go", "gonum", "pure-go", "purego":
		return gonumBackend(nil), nil
	case "", "auto":
		b, err := loadFirst(candidates(), coretype)
		if err != nil {
			return gonumBackend([]string{"no usable CBLAS library: " + err.Error()}), nil
		}
		return b, nil
	case "openblas", "cblas", "c":
		return loadFirst(candidates(), coretype)
	}
	if strings.ContainsRune(name, '/') || strings.Contains(name, ".so") {
		return loadFirst([]string{name}, coretype)
	}
	return nil, fmt.Errorf("unknown implementation %q (want auto, go, openblas or a library path)", name)
}

// Current describes the implementation in use, initialising the package if
// needed.
func Current() Backend {
	b := get()
	info := b.info
	info.Notes = append([]string(nil), info.Notes...)
	if b.lib == nil || b.lib.controlsThreads() {
		info.Threads = Threads()
	}
	return info
}

// Info describes the implementation in use in one line, e.g.
// "openblas 0.3.21 (/usr/lib/x86_64-linux-gnu/libopenblas.so.0, core SkylakeX, 2 threads)"
// or "gonum (pure Go, up to 2 goroutines)", followed by the reasons for any
// fallback.
func Info() string { return Current().String() }

// SetThreads sets the number of threads Sgemm and Dgemm may use; n <= 0
// restores the default, runtime.NumCPU(). For OpenBLAS this calls
// openblas_set_num_threads, which changes a process-wide setting: do not
// call it while another goroutine is inside a GEMM. The pure-Go
// implementation splits large products over up to GOMAXPROCS goroutines
// whatever the setting.
func SetThreads(n int) {
	if n <= 0 {
		n = 0
	}
	b := get()
	mu.Lock()
	defer mu.Unlock()
	threads.Store(int64(n))
	if b.lib != nil {
		b.lib.setThreads(Threads())
	}
}

// Threads returns the number of threads Sgemm and Dgemm may use.
func Threads() int {
	if n := threads.Load(); n > 0 {
		return int(n)
	}
	return runtime.NumCPU()
}
