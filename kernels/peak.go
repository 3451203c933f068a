package kernels

import (
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"
)

// peakChains is the number of independent FMA dependency chains per
// thread in the peak measurement: enough to cover the FMA latency of
// every current x86 core on all its FMA pipes (Zen 5: 4 cycles on 2
// pipes, 8 chains; 12 and 24 chains measure the same rate).
const peakChains = 12

// peakSlice is how many loop iterations (peakChains FMAs each) one timed
// slice runs: about 25,000 cycles (7 µs at 3.7 GHz), short enough that
// most slices run without an interruption on a shared machine and long
// enough that reading the clock costs under 1%.
const peakSlice = 1 << 12

// clockAdds is how many dependent integer additions (one cycle each on
// every x86 core) one iteration of clockLoop runs.
const clockAdds = 100

// peakQuantile is the quantile of each thread's slice rates taken as its
// rate: slices in which the thread was interrupted (other processes,
// the kernel) fall in the lower tail, and the top slices' variation is
// timer noise.
const peakQuantile = 0.9

// PeakResult is what [Peak] measured.
type PeakResult struct {
	// GFLOPS is the float32 FMA throughput of all threads together (an
	// FMA is two operations per lane).
	GFLOPS float64
	// GHz is each thread's clock rate, from a chain of dependent integer
	// additions timed the same way (the mean over the threads).
	GHz float64
	// FMAPerCycle is vector FMAs per cycle per thread, GFLOPS over
	// threads x GHz x lanes x 2: 2 on a core with two full-width FMA
	// pipes, so that the peak is set by the clock alone.
	FMAPerCycle float64
	Threads     int
}

// Peak measures the float32 FMA throughput of path p with threads OS
// threads running at once, each executing 12 independent chains of vector
// FMAs (512-bit for AVX512, 256-bit for AVX2) from registers for about d,
// and the clock rate of the same threads. It is the ceiling that the
// kernels of path p are measured against.
//
// Each thread times short slices of the loop (about 7 µs each) and counts
// the 90th percentile of its slice rates, so that time the thread spends
// preempted by other processes on a shared machine does not lower the
// peak: the result is what the cores do when they run this code, the same
// condition as an operation's fastest repetition. The Go path has no
// vector FMA loop and returns an error.
func Peak(p Path, threads int, d time.Duration) (PeakResult, error) {
	if !Supported(p) {
		return PeakResult{}, fmt.Errorf("kernels.Peak(%s): this CPU does not support it", p)
	}
	var loop func(n int)
	lanes := 0
	switch p {
	case AVX512:
		loop, lanes = fmaLoop512, 16
	case AVX2:
		loop, lanes = fmaLoop256, 8
	default:
		return PeakResult{}, fmt.Errorf("kernels.Peak(%s): only the vector paths have an FMA peak", p)
	}
	if threads < 1 {
		threads = 1
	}
	loop(peakSlice * 16) // warm the vector units up (clocks, power state)
	fma := sliceRates(loop, peakSlice, threads, d)
	clk := sliceRates(clockLoop, peakSlice/8, threads, d/4)
	r := PeakResult{Threads: threads}
	for t := range fma {
		r.GFLOPS += fma[t] * peakChains * float64(lanes) * 2
		r.GHz += clk[t] * clockAdds / float64(threads)
	}
	if r.GHz > 0 {
		r.FMAPerCycle = r.GFLOPS / (float64(threads) * r.GHz * float64(lanes) * 2)
	}
	return r, nil
}

// sliceRates runs loop(n) repeatedly on threads locked OS threads at once
// for about d and returns each thread's peakQuantile of loop iterations
// per nanosecond over its calls.
func sliceRates(loop func(n int), n, threads int, d time.Duration) []float64 {
	var wg sync.WaitGroup
	start := make(chan struct{})
	out := make([]float64, threads)
	for t := 0; t < threads; t++ {
		wg.Add(1)
		go func(t int) {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			rates := make([]float64, 0, 1024)
			<-start
			end := time.Now().Add(d)
			for len(rates) < 16 || time.Now().Before(end) {
				t0 := time.Now()
				loop(n)
				if ns := time.Since(t0).Nanoseconds(); ns > 0 {
					rates = append(rates, float64(n)/float64(ns))
				}
			}
			sort.Float64s(rates)
			out[t] = rates[int(peakQuantile*float64(len(rates)-1))]
		}(t)
	}
	close(start)
	wg.Wait()
	return out
}
