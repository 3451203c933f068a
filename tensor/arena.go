package tensor

import (
	"math"
	"os"
	"sync"
	"unsafe"

	"github.com/arp-robustness/arp/kernels"
)

// An Arena recycles the working memory of one unit of work (a training
// step, an attack's gradient evaluation): while it is open, new tensors
// (Zeros and the operations' results) take their storage from the engine's
// buffer pool instead of fresh, runtime-zeroed memory, and when it closes
// the storage of the tensors handed to Adopt goes back to the pool.
//
// The ownership rule: an arena gives back only storage that it handed out
// itself and that was adopted (package autograd adopts every op's result,
// so the graph's values and gradients go back; optimiser state, results
// computed with package tensor alone and anything made before the arena
// opened never do), and never storage that was kept (Keep: it escapes the
// unit of work). Storage kept, or kept from an inner arena, passes to the
// enclosing arena, which gives it back when it closes unless kept again;
// with no enclosing arena it is left to the garbage collector. Views
// (Reshape) share their base's storage and are kept or given back with it.
// Adopted tensors whose storage goes back are emptied (no shape, no data),
// so a use after the arena closed fails instead of reading reused memory.
//
// Arenas are process-wide, like autograd.NoGrad: while one is open, no
// other goroutine may run the engine.
type Arena struct {
	parent *Arena
	mu     sync.Mutex
	owned  map[unsafe.Pointer]*arenaBuf // handed out by this arena, by first element
	closed bool
}

// arenaBuf is a pool buffer an arena handed out: the storage of one
// tensor (and of its views).
type arenaBuf struct {
	f32     []float32 // full capacity
	f64     []float64
	adopted []*Tensor // tensors the graph adopted that hold this storage
	kept    bool
	seq     uint64 // arenaSeq when handed out
}

var (
	arenaMu  sync.Mutex
	arenaTop *Arena
	arenaSeq uint64 // storage handed out by arenas so far
	// arenaCheck (ARP_ARENA_CHECK=1, or SetArenaCheck): storage an arena
	// gives back is filled with NaN and never reused, and uninitialised
	// results (newOut) are filled with NaN, so a use after release or a
	// result not fully written shows up as NaN.
	arenaCheck = os.Getenv("ARP_ARENA_CHECK") == "1"
	// arenasOff (ARP_ARENA=off, or SetArenas(false)): OpenArena opens
	// nothing, and every tensor gets fresh memory as without arenas.
	arenasOff = os.Getenv("ARP_ARENA") == "off"
)

// SetArenas switches arenas on or off (ARP_ARENA=off starts with them off)
// and returns the previous setting. Arenas already open are unaffected.
func SetArenas(on bool) bool {
	arenaMu.Lock()
	defer arenaMu.Unlock()
	old := !arenasOff
	arenasOff = !on
	return old
}

// SetArenaCheck switches the arenas' checking mode (see ARP_ARENA_CHECK in
// the package documentation) and returns the previous setting. For tests.
func SetArenaCheck(on bool) bool {
	arenaMu.Lock()
	defer arenaMu.Unlock()
	old := arenaCheck
	arenaCheck = on
	return old
}

// OpenArena opens an arena inside the current one (if any); Close it when
// the unit of work is done.
func OpenArena() *Arena {
	arenaMu.Lock()
	defer arenaMu.Unlock()
	if arenasOff {
		return &Arena{closed: true}
	}
	a := &Arena{parent: arenaTop, owned: map[unsafe.Pointer]*arenaBuf{}}
	arenaTop = a
	return a
}

func currentArena() *Arena {
	arenaMu.Lock()
	a := arenaTop
	arenaMu.Unlock()
	return a
}

func storageKey(t *Tensor) unsafe.Pointer {
	switch {
	case cap(t.f32) > 0:
		return unsafe.Pointer(unsafe.SliceData(t.f32))
	case cap(t.f64) > 0:
		return unsafe.Pointer(unsafe.SliceData(t.f64))
	}
	return nil
}

// alloc returns storage for n elements of dt from the open arena's pool,
// or nil when no arena is open (the caller then makes its own).
func arenaAlloc(dt DType, n int, t *Tensor) bool {
	a := currentArena()
	if a == nil || n == 0 {
		return false
	}
	arenaMu.Lock()
	arenaSeq++
	b := &arenaBuf{seq: arenaSeq}
	arenaMu.Unlock()
	switch dt {
	case Float32:
		t.f32 = kernels.GetBuf[float32](n)
		b.f32 = t.f32[:cap(t.f32)]
	case Float64:
		t.f64 = kernels.GetBuf[float64](n)
		b.f64 = t.f64[:cap(t.f64)]
	default:
		return false
	}
	a.mu.Lock()
	a.owned[storageKey(t)] = b
	a.mu.Unlock()
	return true
}

// newOut returns a tensor whose every element the caller writes: inside an
// arena its storage is recycled and not cleared (NaN in checking mode);
// otherwise it is Zeros.
func newOut(dt DType, shape ...int) *Tensor {
	checkShape("tensor.newOut", shape)
	t := &Tensor{dtype: dt, shape: append([]int(nil), shape...)}
	if !arenaAlloc(dt, Numel(shape), t) {
		return Zeros(dt, shape...)
	}
	if arenaCheck {
		t.Fill(math.NaN())
	}
	return t
}

// Adopt marks t's storage, if the open arena handed it out, as the graph's:
// it goes back to the pool when the arena closes, unless kept. Package
// autograd adopts the value of every op it records.
func Adopt(t *Tensor) {
	a := currentArena()
	if a == nil || t == nil {
		return
	}
	k := storageKey(t)
	if k == nil {
		return
	}
	a.mu.Lock()
	if b := a.owned[k]; b != nil {
		b.adopted = append(b.adopted, t)
	}
	a.mu.Unlock()
}

// Keep marks the storage of ts (and of every view of it, and storage that
// ts are views into) as escaping the open arena: it is not given back when
// the arena closes but passes to the enclosing arena. Without an open arena
// it does nothing.
func Keep(ts ...*Tensor) {
	if a := currentArena(); a != nil {
		a.keep(ts)
	}
}

func (a *Arena) keep(ts []*Tensor) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, t := range ts {
		if t == nil {
			continue
		}
		if b := a.owned[storageKey(t)]; b != nil {
			b.kept = true
			continue
		}
		// a tensor wrapping part of a buffer (FromFloat32 of a sub-slice)
		for _, b := range a.owned {
			if b.contains(t) {
				b.kept = true
			}
		}
	}
}

// contains reports whether t's data lies inside b.
func (b *arenaBuf) contains(t *Tensor) bool {
	if len(t.f32) > 0 && len(b.f32) > 0 {
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(b.f32)))
		p := uintptr(unsafe.Pointer(unsafe.SliceData(t.f32)))
		return p >= lo && p < lo+uintptr(len(b.f32))*4
	}
	if len(t.f64) > 0 && len(b.f64) > 0 {
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(b.f64)))
		p := uintptr(unsafe.Pointer(unsafe.SliceData(t.f64)))
		return p >= lo && p < lo+uintptr(len(b.f64))*8
	}
	return false
}

// forget removes t's storage from the open arenas (Recycle gave it back).
func arenaForget(t *Tensor) {
	k := storageKey(t)
	if k == nil {
		return
	}
	for a := currentArena(); a != nil; a = a.parent {
		a.mu.Lock()
		_, ok := a.owned[k]
		delete(a.owned, k)
		a.mu.Unlock()
		if ok {
			return
		}
	}
}

// ArenaMark returns a mark of the storage handed out so far, for
// ReleaseSince.
func ArenaMark() uint64 {
	arenaMu.Lock()
	defer arenaMu.Unlock()
	return arenaSeq
}

// ReleaseSince gives t's storage back to the pool at once if the open
// arena handed it out after mark and nothing kept it, and empties the
// tensors the graph adopted that held it; it reports whether it did. The
// caller promises that nothing uses that storage any more (package
// autograd's Grad releases an intermediate gradient once it has been
// propagated and no other gradient shares it; a value made before its
// mark, such as a forward pass's, is never released).
func ReleaseSince(t *Tensor, mark uint64) bool {
	a := currentArena()
	if a == nil || t == nil {
		return false
	}
	k := storageKey(t)
	if k == nil {
		return false
	}
	a.mu.Lock()
	b := a.owned[k]
	if b == nil || b.kept || b.seq <= mark {
		a.mu.Unlock()
		return false
	}
	delete(a.owned, k)
	a.mu.Unlock()
	b.release(arenaCheckOn())
	return true
}

func arenaCheckOn() bool {
	arenaMu.Lock()
	defer arenaMu.Unlock()
	return arenaCheck
}

// release gives b back to the pool and empties the tensors that held it;
// in check mode it fills b with NaN instead and never reuses it.
func (b *arenaBuf) release(check bool) {
	if check {
		for i := range b.f32 {
			b.f32[i] = float32(math.NaN())
		}
		for i := range b.f64 {
			b.f64[i] = math.NaN()
		}
		return
	}
	for _, t := range b.adopted {
		t.f32, t.f64, t.shape = nil, nil, nil
	}
	if b.f32 != nil {
		kernels.PutBuf(b.f32)
	} else {
		kernels.PutBuf(b.f64)
	}
}

// Close gives the adopted, unkept storage back to the pool, empties the
// tensors that held it, passes kept storage to the enclosing arena and
// makes that one current again. Arenas close in the reverse order of
// opening; closing one twice does nothing.
func (a *Arena) Close() {
	arenaMu.Lock()
	if a.closed {
		arenaMu.Unlock()
		return
	}
	if arenaTop != a {
		arenaMu.Unlock()
		panic("tensor.Arena.Close: an inner arena is still open")
	}
	a.closed = true
	arenaTop = a.parent
	check := arenaCheck
	arenaMu.Unlock()

	a.mu.Lock()
	defer a.mu.Unlock()
	for k, b := range a.owned {
		switch {
		case b.kept || len(b.adopted) == 0:
			// escaping, or never part of a graph (optimiser state, results
			// of package tensor alone): the enclosing arena may give it
			// back if the graph adopted it there; else the collector
			if a.parent != nil && b.kept {
				b.kept = false
				a.parent.mu.Lock()
				a.parent.owned[k] = b
				a.parent.mu.Unlock()
			}
		default:
			b.release(check)
		}
	}
	a.owned = nil
}

// newIndices returns n int32 arg-max indices that the caller writes in
// full. Inside an arena their storage is recycled like a result's and
// adopted at once: a graph that captures them must list them (IndexStorage)
// with the values its Keep keeps.
func newIndices(n int) []int32 {
	t := &Tensor{dtype: Float32}
	if !arenaAlloc(Float32, n, t) {
		return make([]int32, n)
	}
	Adopt(t)
	if arenaCheck {
		t.Fill(math.NaN()) // an index left unwritten is out of range
	}
	return unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(t.f32))), n)
}

// IndexStorage returns a tensor sharing idx's storage, for Keep (nil for no
// indices).
func IndexStorage(idx []int32) *Tensor {
	if len(idx) == 0 {
		return nil
	}
	return &Tensor{dtype: Float32, shape: []int{len(idx)}, f32: unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(idx))), len(idx))}
}
