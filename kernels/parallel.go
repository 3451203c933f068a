package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

var workers atomic.Int32

func init() { workers.Store(int32(runtime.GOMAXPROCS(0))) }

// SetWorkers sets how many goroutines kernels split their work across
// (default GOMAXPROCS at start-up). n < 1 means 1.
func SetWorkers(n int) {
	if n < 1 {
		n = 1
	}
	workers.Store(int32(n))
}

// Workers returns the number of goroutines kernels use.
func Workers() int { return int(workers.Load()) }

// ParallelFor runs fn over [0,n) split into contiguous chunks on up to
// Workers() goroutines (the last on the calling one). Chunks smaller than
// grain items are not split further. A panic in fn is raised again on the
// caller's goroutine.
func ParallelFor(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	w := Workers()
	if grain < 1 {
		grain = 1
	}
	if m := (n + grain - 1) / grain; w > m {
		w = m
	}
	if w <= 1 {
		fn(0, n)
		return
	}
	chunk := (n + w - 1) / w
	ParallelParts((n+chunk-1)/chunk, func(part int) {
		lo := part * chunk
		fn(lo, min(lo+chunk, n))
	})
}

// ParallelDynamic runs fn on up to Workers() goroutines (one of them the
// calling one), each taking the indices of [0,n) one at a time, in
// increasing order, from a shared counter through next until none is
// left: a goroutine held up (another process on its core) takes fewer
// indices instead of the others waiting for its fixed share. Only for
// work whose results do not depend on which goroutine does which index.
// A panic in fn is raised again on the caller's goroutine.
func ParallelDynamic(n int, fn func(next func() (int, bool))) {
	if n <= 0 {
		return
	}
	var c atomic.Int64
	next := func() (int, bool) {
		i := int(c.Add(1)) - 1
		return i, i < n
	}
	ParallelParts(min(Workers(), n), func(int) { fn(next) })
}

// ParallelParts runs fn(0..parts-1) on parts goroutines (part 0 on the
// calling one) and waits; a panic in fn is raised again on the caller's
// goroutine.
func ParallelParts(parts int, fn func(part int)) {
	if parts <= 1 {
		if parts == 1 {
			fn(0)
		}
		return
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		failure any
	)
	run := func(part int) {
		defer func() {
			if r := recover(); r != nil {
				mu.Lock()
				if failure == nil {
					failure = r
				}
				mu.Unlock()
			}
		}()
		fn(part)
	}
	wg.Add(parts - 1)
	for p := 1; p < parts; p++ {
		go func(p int) {
			defer wg.Done()
			run(p)
		}(p)
	}
	run(0)
	wg.Wait()
	if failure != nil {
		panic(failure)
	}
}
