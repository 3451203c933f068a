package tensor

import (
	"math"
	"testing"
	"unsafe"
)

func dataPtr(t *Tensor) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(t.F32())) }

// TestArenaRecyclesAdoptedStorage: adopted storage goes back to the pool
// when the arena closes (the next arena's tensor of that size gets it) and
// the tensors that held it are emptied.
func TestArenaRecyclesAdoptedStorage(t *testing.T) {
	old := SetArenaCheck(false) // released storage is reused, not poisoned
	defer SetArenaCheck(old)
	a := OpenArena()
	x := Full(Float32, 3, 1000)
	v := x.Reshape(10, 100) // a view, adopted too (as autograd.Reshape does)
	Adopt(x)
	Adopt(v)
	p := dataPtr(x)
	a.Close()
	if x.Size() != 0 || v.Size() != 0 || x.Shape() != nil {
		t.Fatalf("released tensors still hold data: sizes %d, %d", x.Size(), v.Size())
	}
	b := OpenArena()
	defer b.Close()
	y := Zeros(Float32, 1000)
	if dataPtr(y) != p {
		t.Fatalf("the next arena's tensor did not get the released storage")
	}
	for i, e := range y.F32() {
		if e != 0 {
			t.Fatalf("Zeros in an arena: element %d is %v", i, e)
		}
	}
}

// TestArenaOwnershipRule checks what an arena gives back and what it must
// not: storage made before it opened, storage it made that no graph
// adopted (optimiser state, results of package tensor alone), kept
// storage, and storage reached through views and sub-slices of kept
// tensors all keep their values.
func TestArenaOwnershipRule(t *testing.T) {
	old := SetArenaCheck(true) // released storage turns NaN
	defer SetArenaCheck(old)
	before := Full(Float32, 1, 64)
	a := OpenArena()
	Adopt(before) // not the arena's: never given back
	state := Full(Float32, 2, 64)
	kept := Full(Float32, 3, 64)
	Adopt(kept)
	keptView := Full(Float32, 4, 64)
	Adopt(keptView)
	view := keptView.Reshape(8, 8)
	part := Full(Float32, 5, 64)
	Adopt(part)
	sub := FromFloat32(part.F32()[16:32], 16)
	gone := Full(Float32, 6, 64)
	Adopt(gone)
	Keep(kept, view, sub)
	a.Close()
	for _, c := range []struct {
		name string
		x    *Tensor
		want float32
	}{{"made before", before, 1}, {"not adopted", state, 2}, {"kept", kept, 3}, {"base of a kept view", keptView, 4},
		{"kept view", view, 4}, {"base of a kept sub-slice", part, 5}} {
		for i, e := range c.x.F32() {
			if e != c.want {
				t.Fatalf("%s: element %d is %v, want %v", c.name, i, e, c.want)
			}
		}
	}
	if !math.IsNaN(float64(gone.F32()[0])) {
		t.Fatalf("adopted, unkept storage was not released (check mode fills it with NaN)")
	}
}

// TestArenaNested: storage kept from an inner arena passes to the
// enclosing one, which gives it back when it closes.
func TestArenaNested(t *testing.T) {
	old := SetArenaCheck(true)
	defer SetArenaCheck(old)
	outer := OpenArena()
	inner := OpenArena()
	r := Full(Float32, 7, 32)
	Adopt(r)
	tmp := Full(Float32, 8, 32)
	Adopt(tmp)
	Keep(r)
	inner.Close()
	if r.F32()[0] != 7 || !math.IsNaN(float64(tmp.F32()[0])) {
		t.Fatalf("inner arena: kept %v (want 7), released %v (want NaN)", r.F32()[0], tmp.F32()[0])
	}
	outer.Close()
	if !math.IsNaN(float64(r.F32()[0])) {
		t.Fatalf("the enclosing arena did not release the storage kept from the inner one")
	}
}

// TestArenaRecycleThenClose: a tensor given back with Recycle inside an
// arena is not given back a second time when it closes (kernels.PutBuf
// panics on a buffer given back twice).
func TestArenaRecycleThenClose(t *testing.T) {
	a := OpenArena()
	s := Scratch(Float32, 4096)
	Adopt(s)
	Recycle(s)
	a.Close()
}

// TestArenasOff: with arenas off nothing is recycled.
func TestArenasOff(t *testing.T) {
	old := SetArenas(false)
	defer SetArenas(old)
	a := OpenArena()
	x := Full(Float32, 9, 16)
	Adopt(x)
	a.Close()
	if x.Size() != 16 || x.F32()[0] != 9 {
		t.Fatalf("arenas off: the tensor was released")
	}
}

// TestArenaCloseOrder: closing an outer arena while an inner one is open
// is a programming error.
func TestArenaCloseOrder(t *testing.T) {
	outer := OpenArena()
	inner := OpenArena()
	defer func() {
		if recover() == nil {
			t.Fatalf("closing the outer arena first did not panic")
		}
		inner.Close()
		outer.Close()
	}()
	outer.Close()
}

// TestArenaEmptyProducts: a matrix product over an empty inner dimension
// is zeros inside an arena too (its result is not written by the product,
// so it must not take uninitialised storage).
func TestArenaEmptyProducts(t *testing.T) {
	old := SetArenaCheck(true) // uninitialised results are NaN
	defer SetArenaCheck(old)
	a := OpenArena()
	defer a.Close()
	c := MatMul(Zeros(Float32, 2, 0), Zeros(Float32, 0, 3), false, false)
	for i, v := range c.F32() {
		if v != 0 {
			t.Fatalf("element %d of a product over k=0 is %v", i, v)
		}
	}
}
