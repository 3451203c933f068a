package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// implementations lists the implementations available in this process:
// gonum always, OpenBLAS (or another CBLAS) when one loads.
func implementations(t testing.TB) []string {
	t.Helper()
	names := []string{"go"}
	if os.Getenv("ARP_BLAS") == "go" {
		return names // the no-BLAS path: do not load anything
	}
	if err := Use("openblas"); err == nil {
		names = append(names, "openblas")
	} else {
		t.Logf("OpenBLAS not tested: %v", err)
	}
	return names
}

// withImpl runs f as subtest label with the implementation name in use.
func withImpl(t *testing.T, name, label string, f func(t *testing.T)) {
	t.Helper()
	t.Run(name+label, func(t *testing.T) {
		if err := Use(name); err != nil {
			t.Skipf("%s unavailable: %v", name, err)
		}
		t.Cleanup(resetImpl)
		t.Log(Info())
		f(t)
	})
}

func requireOpenBLAS(t *testing.T) {
	t.Helper()
	if err := Use("openblas"); err != nil {
		t.Skipf("OpenBLAS not installed or not usable here: %v", err)
	}
	t.Cleanup(resetImpl)
}

// resetImpl returns to the implementation the environment asks for.
func resetImpl() { Use(os.Getenv("ARP_BLAS")) }

// naiveS is the reference: a triple loop in float64.
func naiveS(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				ia, ib := i*lda+p, p*ldb+j
				if tA {
					ia = p*lda + i
				}
				if tB {
					ib = j*ldb + p
				}
				av, bv := a[ia], b[ib]
				s += float64(av) * float64(bv)
			}
			v := float64(alpha) * s
			if beta != 0 {
				v += float64(beta) * float64(c[i*ldc+j])
			}
			c[i*ldc+j] = float32(v)
		}
	}
}

func naiveD(tA, tB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				ia, ib := i*lda+p, p*ldb+j
				if tA {
					ia = p*lda + i
				}
				if tB {
					ib = j*ldb + p
				}
				av, bv := a[ia], b[ib]
				s += av * bv
			}
			v := alpha * s
			if beta != 0 {
				v += beta * c[i*ldc+j]
			}
			c[i*ldc+j] = v
		}
	}
}

type gemmCase struct {
	m, n, k     int
	padA, padB  int // extra elements per row: lda = cols + padA
	padC        int
	alpha, beta float64
}

var gemmCases = []gemmCase{
	{1, 1, 1, 0, 0, 0, 1, 0},
	{1, 1, 1, 2, 3, 1, 2.5, -1},
	{1, 7, 1, 0, 0, 0, 1, 1},
	{7, 1, 1, 0, 0, 0, 1, 0},
	{1, 1, 13, 0, 0, 0, 1, 0},
	{1, 100, 37, 0, 1, 0, -1, 0.5},
	{100, 1, 37, 1, 0, 0, 0.5, 0},
	{3, 5, 7, 0, 0, 0, 1, 0},
	{5, 3, 2, 4, 4, 4, 0.3, 0.7},
	{16, 16, 16, 0, 0, 0, 1, 1},
	{17, 31, 9, 1, 2, 3, 1.5, -2},
	{63, 65, 64, 0, 0, 0, 1, 0},
	{64, 127, 25, 3, 0, 1, -0.25, 1},
	{129, 67, 301, 2, 5, 7, 1, 0.1},
	{64, 200, 75, 0, 0, 0, 1, 0}, // conv-like: 64 filters, 5x5x3 patches
	{32, 96, 700, 0, 0, 0, 1, 1}, // long k
	{0, 5, 3, 0, 0, 0, 1, 0},
	{5, 0, 3, 0, 0, 0, 1, 0},
	{4, 6, 0, 0, 0, 0, 1, 0.5},
	{4, 6, 0, 0, 0, 0, 1, 0},
	{4, 6, 3, 0, 0, 0, 0, 2}, // alpha = 0: C = beta*C
}

// stored returns the stored shape of op(X) = rows×cols with transposition t.
func stored(t bool, rows, cols int) (int, int) {
	if t {
		return cols, rows
	}
	return rows, cols
}

func TestSgemm(t *testing.T) {
	for _, name := range implementations(t) {
		withImpl(t, name, "/Sgemm", func(t *testing.T) {
			testGemmS(t, Sgemm)
		})
		withImpl(t, name, "/SgemmSingle", func(t *testing.T) {
			testGemmS(t, SgemmSingle)
		})
	}
}

func TestDgemm(t *testing.T) {
	for _, name := range implementations(t) {
		withImpl(t, name, "/Dgemm", func(t *testing.T) {
			testGemmD(t, Dgemm)
		})
		withImpl(t, name, "/DgemmSingle", func(t *testing.T) {
			testGemmD(t, DgemmSingle)
		})
	}
}

type sgemmFunc = func(bool, bool, int, int, int, float32, []float32, int, []float32, int, float32, []float32, int)
type dgemmFunc = func(bool, bool, int, int, int, float64, []float64, int, []float64, int, float64, []float64, int)

func testGemmS(t *testing.T, gemm sgemmFunc) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range gemmCases {
		for combo := range 4 {
			tA, tB := combo&1 != 0, combo&2 != 0
			ra, ca := stored(tA, tc.m, tc.k)
			rb, cb := stored(tB, tc.k, tc.n)
			lda, ldb, ldc := max(1, ca+tc.padA), max(1, cb+tc.padB), max(1, tc.n+tc.padC)
			a, b := randS(rng, ra*lda), randS(rng, rb*ldb)
			c := randS(rng, tc.m*ldc)
			if tc.beta == 0 { // C must be overwritten, not read
				for i := range tc.m {
					for j := range tc.n {
						c[i*ldc+j] = float32(math.NaN())
					}
				}
			}
			want := append([]float32(nil), c...)
			a0, b0 := append([]float32(nil), a...), append([]float32(nil), b...)
			gemm(tA, tB, tc.m, tc.n, tc.k, float32(tc.alpha), a, lda, b, ldb, float32(tc.beta), c, ldc)
			naiveS(tA, tB, tc.m, tc.n, tc.k, float32(tc.alpha), a, lda, b, ldb, float32(tc.beta), want, ldc)
			tol := 1e-5 * float64(tc.k+2) * (math.Abs(tc.alpha) + math.Abs(tc.beta) + 1)
			if i, d := maxDiffS(c, want); d > tol || math.IsNaN(d) {
				t.Errorf("transA=%v transB=%v %+v: c[%d] = %g, want %g (tolerance %g)", tA, tB, tc, i, c[i], want[i], tol)
			}
			if _, d := maxDiffS(a, a0); d != 0 {
				t.Errorf("transA=%v transB=%v %+v: A was modified", tA, tB, tc)
			}
			if _, d := maxDiffS(b, b0); d != 0 {
				t.Errorf("transA=%v transB=%v %+v: B was modified", tA, tB, tc)
			}
		}
	}
}

func testGemmD(t *testing.T, gemm dgemmFunc) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range gemmCases {
		for combo := range 4 {
			tA, tB := combo&1 != 0, combo&2 != 0
			ra, ca := stored(tA, tc.m, tc.k)
			rb, cb := stored(tB, tc.k, tc.n)
			lda, ldb, ldc := max(1, ca+tc.padA), max(1, cb+tc.padB), max(1, tc.n+tc.padC)
			a, b := randD(rng, ra*lda), randD(rng, rb*ldb)
			c := randD(rng, tc.m*ldc)
			if tc.beta == 0 {
				for i := range tc.m {
					for j := range tc.n {
						c[i*ldc+j] = math.NaN()
					}
				}
			}
			want := append([]float64(nil), c...)
			gemm(tA, tB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
			naiveD(tA, tB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
			tol := 1e-13 * float64(tc.k+2) * (math.Abs(tc.alpha) + math.Abs(tc.beta) + 1)
			if i, d := maxDiffD(c, want); d > tol || math.IsNaN(d) {
				t.Errorf("transA=%v transB=%v %+v: c[%d] = %g, want %g (tolerance %g)", tA, tB, tc, i, c[i], want[i], tol)
			}
		}
	}
}

func TestSgemv(t *testing.T) {
	for _, name := range implementations(t) {
		withImpl(t, name, "", func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			for _, s := range []struct{ m, n, pad, incX, incY int }{
				{1, 1, 0, 1, 1}, {3, 7, 2, 1, 1}, {40, 17, 0, 2, 3}, {17, 40, 1, 1, 2}, {0, 4, 0, 1, 1}, {4, 0, 0, 1, 1},
			} {
				for _, tA := range []bool{false, true} {
					lx, ly := s.n, s.m
					if tA {
						lx, ly = s.m, s.n
					}
					lda := max(1, s.n+s.pad)
					a := randS(rng, s.m*lda)
					x := randS(rng, max(0, (lx-1)*s.incX+1))
					y := randS(rng, max(0, (ly-1)*s.incY+1))
					want := append([]float32(nil), y...)
					Sgemv(tA, s.m, s.n, 0.5, a, lda, x, s.incX, 2, y, s.incY)
					// Reference through the naive GEMM: y is a column.
					for i := range ly {
						var sum float64
						for p := range lx {
							ia := i*lda + p
							if tA {
								ia = p*lda + i
							}
							av := a[ia]
							sum += float64(av) * float64(x[p*s.incX])
						}
						want[i*s.incY] = float32(0.5*sum + 2*float64(want[i*s.incY]))
					}
					if i, d := maxDiffS(y, want); d > 1e-4 {
						t.Errorf("transA=%v %+v: y[%d] = %g, want %g", tA, s, i, y[i], want[i])
					}
				}
			}
		})
	}
}

func TestPanics(t *testing.T) {
	ok := make([]float32, 100)
	short := make([]float32, 5)
	cases := []struct {
		name string
		f    func()
		want string
	}{
		{"negative m", func() { Sgemm(false, false, -1, 2, 2, 1, ok, 2, ok, 2, 0, ok, 2) }, "blas.Sgemm: negative dimension m=-1 n=2 k=2"},
		{"lda too small", func() { Sgemm(false, false, 3, 4, 5, 1, ok, 4, ok, 4, 0, ok, 4) }, "lda=4 < 5"},
		{"lda transA", func() { Sgemm(true, false, 3, 4, 5, 1, ok, 2, ok, 4, 0, ok, 4) }, "lda=2 < 3"},
		{"ldb transB", func() { Sgemm(false, true, 3, 4, 5, 1, ok, 5, ok, 4, 0, ok, 4) }, "ldb=4 < 5"},
		{"ldc", func() { Sgemm(false, false, 3, 4, 5, 1, ok, 5, ok, 4, 0, ok, 3) }, "ldc=3 < 4"},
		{"short a", func() { Sgemm(false, false, 3, 4, 5, 1, short, 5, ok, 4, 0, ok, 4) }, "blas.Sgemm: m=3 n=4 k=5: len(a)=5 < 15"},
		{"short b", func() { Sgemm(false, false, 3, 4, 5, 1, ok, 5, short, 4, 0, ok, 4) }, "len(b)=5 < 20"},
		{"short c", func() { Sgemm(false, false, 3, 4, 5, 1, ok, 5, ok, 4, 0, short, 4) }, "len(c)=5 < 12"},
		{"single", func() { SgemmSingle(false, false, 3, 4, 5, 1, short, 5, ok, 4, 0, ok, 4) }, "blas.SgemmSingle:"},
		{"dgemm", func() { Dgemm(false, false, 3, 4, 5, 1, make([]float64, 5), 5, nil, 4, 0, nil, 4) }, "blas.Dgemm: m=3 n=4 k=5: len(a)=5 < 15"},
		{"huge stride", func() { Sgemm(false, false, 3, 4, 5, 1, ok, math.MaxInt/2, ok, 4, 0, ok, 4) }, "len(a)=100"},
		{"sgemv inc", func() { Sgemv(false, 2, 2, 1, ok, 2, ok, 0, 0, ok, 1) }, "blas.Sgemv: incX=0"},
		{"sgemv short x", func() { Sgemv(true, 9, 2, 1, ok, 2, short, 1, 0, ok, 1) }, "len(x)=5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatalf("no panic, want one containing %q", tc.want)
				}
				if msg := fmt.Sprint(r); !strings.Contains(msg, tc.want) {
					t.Fatalf("panic %q, want it to contain %q", msg, tc.want)
				}
			}()
			tc.f()
		})
	}
}

// TestConcurrent runs GEMMs from several goroutines at once, through both
// Sgemm (the library's thread pool) and SgemmSingle, and checks every result.
func TestConcurrent(t *testing.T) {
	for _, name := range implementations(t) {
		withImpl(t, name, "", func(t *testing.T) {
			const m, n, k = 64, 200, 150
			rng := rand.New(rand.NewPCG(7, 8))
			a, b := randS(rng, m*k), randS(rng, k*n)
			want := make([]float32, m*n)
			naiveS(false, false, m, n, k, 1, a, k, b, n, 0, want, n)
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := make([]float32, m*n)
					for it := range 20 {
						if g%2 == 0 {
							Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
						} else {
							SgemmSingle(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
						}
						if i, d := maxDiffS(c, want); d > 1e-3 {
							errs <- fmt.Errorf("goroutine %d iteration %d: c[%d] off by %g", g, it, i, d)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

func TestSelfTestCatchesWrongResults(t *testing.T) {
	if err := selfTest(pureGo{}); err != nil {
		t.Fatalf("gonum fails its own self-test: %v", err)
	}
	if err := selfTest(brokenGemm{}); err == nil {
		t.Fatal("self-test accepted an implementation that ignores beta")
	}
}

// brokenGemm treats beta as 0, a typical kernel bug.
type brokenGemm struct{ pureGo }

func (brokenGemm) sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, _ float32, c []float32, ldc int) {
	pureGo{}.sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, 0, c, ldc)
}

func TestUse(t *testing.T) {
	t.Cleanup(resetImpl)
	if err := Use("go"); err != nil {
		t.Fatal(err)
	}
	if got := Current().Name; got != "gonum" {
		t.Errorf(`after Use("go"): Current().Name = %q, want "gonum"`, got)
	}
	if !strings.HasPrefix(Info(), "gonum (pure Go") {
		t.Errorf("Info() = %q, want it to start with \"gonum (pure Go\"", Info())
	}
	if err := Use("nonsense"); err == nil || !strings.Contains(err.Error(), "unknown implementation") {
		t.Errorf(`Use("nonsense") = %v, want an unknown-implementation error`, err)
	}
	if err := Use("/nonexistent/libopenblas.so.0"); err == nil {
		t.Error("Use of a missing library succeeded")
	}
	if got := Current().Name; got != "gonum" {
		t.Errorf("failed Use changed the implementation to %q", got)
	}
	if err := Use("auto"); err != nil {
		t.Errorf(`Use("auto") = %v; auto must fall back to gonum, not fail`, err)
	}
}

func TestOpenBLASInfo(t *testing.T) {
	requireOpenBLAS(t)
	b := Current()
	t.Log(b)
	if b.Library == "" || b.Threads < 1 {
		t.Errorf("Current() = %+v: want a library path and a thread count", b)
	}
	if b.Name == "openblas" && (b.Version == "" || b.Core == "") {
		t.Errorf("Current() = %+v: want OpenBLAS version and core", b)
	}
	if hasAVX512() && b.Name == "openblas" && os.Getenv("ARP_BLAS_CORETYPE") == "" && !strings.EqualFold(b.Core, "SkylakeX") {
		t.Errorf("CPU has AVX-512 but OpenBLAS uses core %q (notes: %v)", b.Core, b.Notes)
	}
}

func TestThreads(t *testing.T) {
	requireOpenBLAS(t)
	t.Cleanup(func() { SetThreads(0) })
	SetThreads(1)
	if Threads() != 1 || Current().Threads != 1 {
		t.Errorf("after SetThreads(1): Threads() = %d", Threads())
	}
	// Results do not depend on the thread count.
	rng := rand.New(rand.NewPCG(9, 10))
	const m, n, k = 150, 170, 190
	a, b := randS(rng, m*k), randS(rng, k*n)
	c1, c2 := make([]float32, m*n), make([]float32, m*n)
	Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c1, n)
	SetThreads(3)
	Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c2, n)
	if _, d := maxDiffS(c1, c2); d > 1e-4 {
		t.Errorf("1 and 3 threads differ by %g", d)
	}
	SetThreads(0)
	if Threads() < 1 {
		t.Errorf("default Threads() = %d", Threads())
	}
}

// TestEnvironmentRestored checks that loading does not leave
// OPENBLAS_CORETYPE or OPENBLAS_NUM_THREADS changed for child processes.
func TestEnvironmentRestored(t *testing.T) {
	old, had := os.LookupEnv("OPENBLAS_CORETYPE")
	oldN, hadN := os.LookupEnv("OPENBLAS_NUM_THREADS")
	// Force a fresh load with a core type other than the usual ones.
	t.Setenv("ARP_BLAS_CORETYPE", "Zen")
	requireOpenBLAS(t)
	for _, kv := range []struct {
		key, old string
		had      bool
	}{{"OPENBLAS_CORETYPE", old, had}, {"OPENBLAS_NUM_THREADS", oldN, hadN}} {
		now, has := os.LookupEnv(kv.key)
		if has != kv.had || now != kv.old {
			t.Errorf("%s = %q (set %v) after loading, was %q (set %v)", kv.key, now, has, kv.old, kv.had)
		}
	}
}

// TestNoBLASPath runs this package's tests in a child process with
// ARP_BLAS=go, the path taken where no BLAS is installed, and checks it
// reports gonum.
func TestNoBLASPath(t *testing.T) {
	if os.Getenv("ARP_BLAS_CHILD") != "" {
		t.Skip("in child")
	}
	if testing.Short() {
		t.Skip("spawns a child test process")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	cmd := exec.Command(exe, "-test.run=^(TestReportsGonum|TestSgemm|TestDgemm)$", "-test.v")
	cmd.Env = append(os.Environ(), "ARP_BLAS=go", "ARP_BLAS_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child with ARP_BLAS=go failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestReportsGonum") {
		t.Fatalf("child did not run TestReportsGonum:\n%s", out)
	}
}

// TestMissingLibraryFromEnv runs a child with ARP_BLAS naming a library
// that does not exist: the package must fall back to gonum, compute, and
// report the problem from Init and Info.
func TestMissingLibraryFromEnv(t *testing.T) {
	if os.Getenv("ARP_BLAS_CHILD") != "" {
		t.Skip("in child")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestReportsFallback$", "-test.v")
	cmd.Env = append(os.Environ(), "ARP_BLAS=/nonexistent/libopenblas.so.0", "ARP_BLAS_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestReportsFallback") {
		t.Fatalf("child with a missing ARP_BLAS library: %v\n%s", err, out)
	}
}

// TestReportsFallback asserts only in the child of TestMissingLibraryFromEnv.
func TestReportsFallback(t *testing.T) {
	if os.Getenv("ARP_BLAS") != "/nonexistent/libopenblas.so.0" {
		t.Skip("run by TestMissingLibraryFromEnv")
	}
	err := Init()
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/libopenblas.so.0") {
		t.Errorf("Init() = %v, want an error naming the library", err)
	}
	if b := Current(); b.Name != "gonum" || !strings.Contains(Info(), "/nonexistent/libopenblas.so.0") {
		t.Errorf("Current() = %+v, Info() = %q: want gonum with the reason", b, Info())
	}
	t.Log(Info())
	c := make([]float32, 1)
	Sgemm(false, false, 1, 1, 2, 1, []float32{1, 2}, 2, []float32{3, 4}, 1, 0, c, 1)
	if c[0] != 11 {
		t.Errorf("Sgemm = %v, want 11", c[0])
	}
}

// TestReportsGonum checks the environment-driven choice; it only asserts
// when run with ARP_BLAS=go (as TestNoBLASPath does).
func TestReportsGonum(t *testing.T) {
	if os.Getenv("ARP_BLAS") != "go" {
		t.Skip("run with ARP_BLAS=go")
	}
	if err := Init(); err != nil {
		t.Fatal(err)
	}
	if b := Current(); b.Name != "gonum" {
		t.Fatalf("ARP_BLAS=go: Current() = %+v", b)
	}
	c := make([]float32, 4)
	Sgemm(false, false, 2, 2, 2, 1, []float32{1, 2, 3, 4}, 2, []float32{5, 6, 7, 8}, 2, 0, c, 2)
	if fmt.Sprint(c) != "[19 22 43 50]" {
		t.Fatalf("Sgemm = %v", c)
	}
}

func TestLoadFailures(t *testing.T) {
	mu.Lock()
	defer mu.Unlock()
	for _, tc := range []struct{ name, lib, want string }{
		{"missing", "/nonexistent/libopenblas.so.0", ""},
		{"not a CBLAS", "libm.so.6", "does not export cblas_sgemm"},
	} {
		_, err := loadFirst([]string{tc.lib}, "")
		if err == nil {
			t.Errorf("%s: loading %s succeeded", tc.name, tc.lib)
			continue
		}
		t.Logf("%s: %v", tc.name, err)
		if cgoEnabled && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not contain %q", tc.name, err, tc.want)
		}
	}
}
