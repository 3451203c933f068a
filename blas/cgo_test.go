//go:build cgo

package blas

import (
	"errors"
	"strings"
	"testing"

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
