package kernels

import (
	"sync"
	"unsafe"
)

// Scratch buffers (packed panels, padded images, the engine's temporaries)
// are recycled through free lists by size class (bufClass), so a
// training step does not allocate, zero and fault in its working memory
// afresh. Unlike a sync.Pool, the lists survive garbage collections; idle
// buffers beyond maxIdleBytes are left to the collector. Buffers handed
// out hold stale data.

// maxIdleBytes bounds the memory kept in the free lists. The lists hold
// only buffers that were in use at once, so the bound matters when the
// working set shrinks or changes size classes; it must hold a whole
// step's working set, or every step allocates (and faults in) what did
// not fit afresh: at 512 MB a Step-LL step of ResNet-50 at batch 4 (about
// 600 MB of activations and gradients) allocated 152 MB per step and
// peaked at 1.3-1.4 GB RSS; at 2 GB it allocates 9.5 MB and peaks at
// 0.86-0.88 GB.
const maxIdleBytes = 2 << 30

var bufs struct {
	sync.Mutex
	free32 map[int][][]float32
	free64 map[int][][]float64
	idle   int // bytes in the free lists
}

func sizeClass(n int) int {
	c := 1
	for c < n {
		c <<= 1
	}
	return c
}

// bufClass is the capacity of a pool buffer for n elements: a power of
// two up to 64, above that the next multiple of a quarter of the largest
// power of two not above n, so that a buffer wastes at most a fifth of its
// storage (a power of two wastes up to half).
func bufClass(n int) int {
	if n <= 64 {
		return sizeClass(n)
	}
	p := sizeClass(n+1) >> 1 // largest power of two <= n
	q := p >> 2
	return (n + q - 1) / q * q
}

// GetBuf returns a buffer of n elements (contents undefined); give it back
// with PutBuf when done.
func GetBuf[T Float](n int) []T {
	c := bufClass(n)
	var zero T
	bufs.Lock()
	switch any(zero).(type) {
	case float32:
		if l := bufs.free32[c]; len(l) > 0 {
			b := l[len(l)-1]
			bufs.free32[c] = l[:len(l)-1]
			bufs.idle -= c * 4
			bufs.Unlock()
			return any(b[:n]).([]T)
		}
	default:
		if l := bufs.free64[c]; len(l) > 0 {
			b := l[len(l)-1]
			bufs.free64[c] = l[:len(l)-1]
			bufs.idle -= c * 8
			bufs.Unlock()
			return any(b[:n]).([]T)
		}
	}
	bufs.Unlock()
	return make([]T, n, c)
}

// PutBuf gives a buffer obtained from GetBuf back; nothing may use it
// afterwards. Buffers of other origins (capacity not a class's) are
// ignored.
func PutBuf[T Float](b []T) {
	c := cap(b)
	if c == 0 || bufClass(c) != c {
		return
	}
	var zero T
	bytes := c * int(unsafe.Sizeof(zero))
	bufs.Lock()
	defer bufs.Unlock()
	if bufs.idle+bytes > maxIdleBytes {
		return
	}
	switch v := any(b[:c]).(type) {
	case []float32:
		if bufs.free32 == nil {
			bufs.free32 = map[int][][]float32{}
		}
		bufs.free32[c] = appendOnce(bufs.free32[c], v)
	case []float64:
		if bufs.free64 == nil {
			bufs.free64 = map[int][][]float64{}
		}
		bufs.free64[c] = appendOnce(bufs.free64[c], v)
	}
	bufs.idle += bytes
}

// appendOnce appends b to the free list l, panicking if it is there
// already: a buffer given back twice would be handed to two users.
func appendOnce[T Float](l [][]T, b []T) [][]T {
	p := unsafe.SliceData(b)
	for _, f := range l {
		if unsafe.SliceData(f) == p {
			panic("kernels.PutBuf: buffer given back twice")
		}
	}
	return append(l, b)
}
