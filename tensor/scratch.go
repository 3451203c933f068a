package tensor

import "github.com/arp-robustness/arp/kernels"

// Scratch returns a tensor of the given shape whose storage comes from the
// engine's buffer pool (package kernels): its contents are undefined, and
// no zeroing or page faults are paid for memory recycled within a step.
// Give it back with Recycle when done (or, inside an Arena, let the arena
// give it back if the graph adopts it).
func Scratch(dt DType, shape ...int) *Tensor {
	checkShape("tensor.Scratch", shape)
	n := Numel(shape)
	t := &Tensor{dtype: dt, shape: append([]int(nil), shape...)}
	if arenaAlloc(dt, n, t) {
		return t
	}
	switch dt {
	case Float32:
		t.f32 = kernels.GetBuf[float32](n)
	case Float64:
		t.f64 = kernels.GetBuf[float64](n)
	default:
		Panicf("tensor.Scratch", "unknown dtype %v", dt)
	}
	return t
}

// Recycle gives t's storage back to the engine's buffer pool. Neither t
// nor any view of it (Reshape) may be used afterwards; only call it on
// tensors whose every user is known, such as a kernel's temporaries.
func Recycle(t *Tensor) {
	if t == nil {
		return
	}
	arenaForget(t)
	if t.f32 != nil {
		kernels.PutBuf(t.f32)
	}
	if t.f64 != nil {
		kernels.PutBuf(t.f64)
	}
	t.f32, t.f64, t.shape = nil, nil, nil
}

// SharesStorage reports whether a and b hold the same storage (one is the
// other or a view of it, as Reshape makes), so that recycling one would
// pull the data from under the other.
func SharesStorage(a, b *Tensor) bool {
	if a == nil || b == nil {
		return false
	}
	if a == b {
		return true
	}
	return len(a.f32) > 0 && len(b.f32) > 0 && &a.f32[0] == &b.f32[0] ||
		len(a.f64) > 0 && len(b.f64) > 0 && &a.f64[0] == &b.f64[0]
}
