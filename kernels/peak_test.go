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
		if err != nil || g <= 0 {
			t.Fatalf("Peak(%s) = %v, %v", p, g, err)
		}
	}
	if _, err := Peak(Go, 1, time.Millisecond); err == nil {
		t.Fatal("Peak(Go) gave no error")
	}
}
