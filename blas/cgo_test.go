//go:build cgo

package blas

import (
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/cpu"
)

const cgoEnabled = true

// TestSelfTestFallback makes the self-test reject one core type and checks
// that loading falls back to the library's own choice and says why.
func TestSelfTestFallback(t *testing.T) {
	if !cpu.X86.HasAVX {
		t.Skip("needs a CPU where core type Sandybridge is safe")
	}
	t.Setenv("ARP_BLAS_CORETYPE", "Sandybridge")
	mu.Lock()
	selfTestFn = func(g gemmer) error {
		if l, ok := g.(*cblasLib); ok && l.core == "Sandybridge" {
			return errors.New("injected failure")
		}
		return selfTest(g)
	}
	mu.Unlock()
	t.Cleanup(func() {
		mu.Lock()
		selfTestFn = selfTest
		mu.Unlock()
	})
	requireOpenBLAS(t)
	b := Current()
	t.Log(b)
	if b.Core == "Sandybridge" {
		t.Fatalf("the rejected core type is in use: %v", b)
	}
	if notes := strings.Join(b.Notes, "; "); !strings.Contains(notes, "rejected") || !strings.Contains(notes, "injected failure") {
		t.Errorf("notes %q do not explain the rejection", notes)
	}
}

// TestIdleThreadsSleep checks that OpenBLAS's worker threads stop polling
// soon after a multi-threaded GEMM (see threadTimeout): the process must use
// almost no CPU while it sleeps after one.
func TestIdleThreadsSleep(t *testing.T) {
	if _, ok := os.LookupEnv("OPENBLAS_THREAD_TIMEOUT"); ok {
		t.Skip("OPENBLAS_THREAD_TIMEOUT is set by the environment")
	}
	requireOpenBLAS(t)
	if Threads() < 2 {
		t.Skip("one thread: no workers")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	const m, n, k = 64, 1024, 400
	a, b, c := randS(rng, m*k), randS(rng, k*n), make([]float32, m*n)
	// The least of three tries, so a stray GC does not fail the test;
	// polling workers use tens of milliseconds every time.
	least := time.Hour
	for range 3 {
		Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
		c0 := cpuSeconds()
		time.Sleep(100 * time.Millisecond)
		least = min(least, time.Duration((cpuSeconds()-c0)*1e9))
	}
	t.Logf("CPU used in the 100 ms after a GEMM: %v", least)
	if least > 10*time.Millisecond {
		t.Errorf("OpenBLAS workers kept polling: %v of CPU in the 100 ms after a GEMM", least)
	}
}
