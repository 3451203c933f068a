package kernels

import (
	"testing"
	"time"
)

func TestPeakRuns(t *testing.T) {
	for _, p := range []Path{AVX512, AVX2} {
		if !Supported(p) {
			continue
		}
		g, err := Peak(p, 1, 5*time.Millisecond)
		if err != nil || g.GFLOPS <= 0 || g.GHz <= 0 {
			t.Fatalf("Peak(%s) = %v, %v", p, g, err)
		}
	}
	if _, err := Peak(Go, 1, time.Millisecond); err == nil {
		t.Fatal("Peak(Go) gave no error")
	}
}

// TestPeakSaturatesPipes holds the peak loop to what it claims to
// measure: at least one vector FMA per cycle per thread (every AVX2 or
// AVX-512 core has at least one full-width FMA pipe; Zen 5 gives 2.0),
// and a clock rate a CPU can have. A loop with a dependency between its
// chains (one FMA per 4 cycles) or a miscounted clock fails it.
func TestPeakSaturatesPipes(t *testing.T) {
	for _, p := range []Path{AVX512, AVX2} {
		if !Supported(p) {
			continue
		}
		var best PeakResult
		for range 5 { // a loaded machine can slow a short measurement
			r, err := Peak(p, 1, 20*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if r.FMAPerCycle > best.FMAPerCycle {
				best = r
			}
		}
		if best.GHz < 0.5 || best.GHz > 7 {
			t.Errorf("%s: clock %.2f GHz", p, best.GHz)
		}
		if best.FMAPerCycle < 0.9 || best.FMAPerCycle > 4.2 {
			t.Errorf("%s: %.2f FMAs per cycle (%.0f GFLOP/s at %.2f GHz)", p, best.FMAPerCycle, best.GFLOPS, best.GHz)
		}
		t.Logf("%s: %.0f GFLOP/s, %.2f GHz, %.2f FMA/cycle", p, best.GFLOPS, best.GHz, best.FMAPerCycle)
	}
}
