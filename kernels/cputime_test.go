package kernels

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportFlops reports GFLOP/s of wall time and GFLOP per CPU-second (less
// sensitive to other processes taking the cores) of flops per iteration.
func reportFlops(b *testing.B, flops float64, cpu0 time.Duration) {
	total := flops * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(total/(cpuTime()-cpu0).Seconds()/1e9, "GFLOP/cpu-s")
}
