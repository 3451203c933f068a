package kernels

import "sync"

// Scratch buffers (packed panels, padded images, partial sums) are reused
// across calls through size-classed pools, so a training step does not
// allocate its working memory afresh. Buffers handed out may hold stale
// data.

var (
	pools32 sync.Map // size class -> *sync.Pool of *[]float32
	pools64 sync.Map
)

func sizeClass(n int) int {
	c := 1
	for c < n {
		c <<= 1
	}
	return c
}

// GetBuf returns a buffer of n elements from the pool (contents
// undefined); return it with PutBuf when done.
func GetBuf[T Float](n int) []T {
	c := sizeClass(n)
	var zero T
	switch any(zero).(type) {
	case float32:
		p, _ := pools32.LoadOrStore(c, &sync.Pool{})
		if v := p.(*sync.Pool).Get(); v != nil {
			return any((*v.(*[]float32))[:n]).([]T)
		}
		return any(make([]float32, n, c)).([]T)
	default:
		p, _ := pools64.LoadOrStore(c, &sync.Pool{})
		if v := p.(*sync.Pool).Get(); v != nil {
			return any((*v.(*[]float64))[:n]).([]T)
		}
		return any(make([]float64, n, c)).([]T)
	}
}

// PutBuf returns a buffer obtained from GetBuf to the pool.
func PutBuf[T Float](b []T) {
	c := cap(b)
	if c == 0 || c&(c-1) != 0 {
		return
	}
	switch v := any(b).(type) {
	case []float32:
		p, _ := pools32.LoadOrStore(c, &sync.Pool{})
		v = v[:c]
		p.(*sync.Pool).Put(&v)
	case []float64:
		p, _ := pools64.LoadOrStore(c, &sync.Pool{})
		v = v[:c]
		p.(*sync.Pool).Put(&v)
	}
}
