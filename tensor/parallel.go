package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
)

var workers atomic.Int32

func init() { workers.Store(int32(runtime.GOMAXPROCS(0))) }

// SetWorkers sets how many goroutines kernels split their work across
// (default GOMAXPROCS). n < 1 means 1.
func SetWorkers(n int) {
	if n < 1 {
		n = 1
	}
	workers.Store(int32(n))
}

// Workers returns the number of goroutines kernels use.
func Workers() int { return int(workers.Load()) }

// ParallelFor runs fn over [0,n) split into contiguous chunks on up to
// Workers() goroutines. Chunks smaller than grain items are not split further.
func ParallelFor(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	w := Workers()
	if grain < 1 {
		grain = 1
	}
	if max := (n + grain - 1) / grain; w > max {
		w = max
	}
	if w <= 1 {
		fn(0, n)
		return
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		failure any
	)
	chunk := (n + w - 1) / w
	for lo := 0; lo < n; lo += chunk {
		hi := lo + chunk
		if hi > n {
			hi = n
		}
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			// a panic in a worker (a kernel's checked error) is raised
			// again on the caller's goroutine, where autograd.Try and the
			// command's error handling can see it, instead of ending the
			// process
			defer func() {
				if r := recover(); r != nil {
					mu.Lock()
					if failure == nil {
						failure = r
					}
					mu.Unlock()
				}
			}()
			fn(lo, hi)
		}(lo, hi)
	}
	wg.Wait()
	if failure != nil {
		panic(failure)
	}
}
