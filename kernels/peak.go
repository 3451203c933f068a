package kernels

import (
	"fmt"
	"runtime"
	"sync"
	"time"
)

// peakChains is the number of independent FMA dependency chains per
// thread in the peak measurement: enough to cover the FMA latency of
// every current x86 core on all its FMA pipes.
const peakChains = 12

// peakIters is how many loop iterations (peakChains FMAs each) one call of
// the assembly loop runs; about 20-100 µs.
const peakIters = 1 << 14

// Peak measures the float32 FMA throughput of path p in GFLOP/s (an FMA is
// two floating-point operations) with threads OS threads running at once,
// each executing 12 independent chains of vector FMAs (512-bit for AVX512,
// 256-bit for AVX2) from registers for about d. It is the ceiling that the
// kernels of path p are measured against. The Go path has no vector FMA
// loop and returns an error.
func Peak(p Path, threads int, d time.Duration) (float64, error) {
	if !Supported(p) {
		return 0, fmt.Errorf("kernels.Peak(%s): this CPU does not support it", p)
	}
	var loop func(n int)
	lanes := 0
	switch p {
	case AVX512:
		loop, lanes = fmaLoop512, 16
	case AVX2:
		loop, lanes = fmaLoop256, 8
	default:
		return 0, fmt.Errorf("kernels.Peak(%s): only the vector paths have an FMA peak", p)
	}
	if threads < 1 {
		threads = 1
	}
	loop(peakIters) // warm the vector units up (AVX-512 licence, clocks)
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		calls = make([]int, threads)
	)
	for t := 0; t < threads; t++ {
		wg.Add(1)
		go func(t int) {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			<-start
			end := time.Now().Add(d)
			for time.Now().Before(end) {
				for range 8 {
					loop(peakIters)
				}
				calls[t] += 8
			}
		}(t)
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	sec := time.Since(t0).Seconds()
	total := 0
	for _, c := range calls {
		total += c
	}
	flops := float64(total) * peakIters * peakChains * float64(lanes) * 2
	return flops / sec / 1e9, nil
}
