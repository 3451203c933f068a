package onnx

import (
	"math"
	"runtime"
	"testing"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// TestNoGradPassArena: a pass that records no graph runs in an arena of
// its own. Its logits and tapped layers must be the values of a pass
// without arenas bit for bit, and stay so after the arena closed and
// later passes ran (in check mode storage given back is filled with NaN,
// so a result that was not kept shows up); and the pass must take its
// layers' storage from the pool (allocating under half the bytes of a pass
// without arenas).
func TestNoGradPassArena(t *testing.T) {
	for _, file := range []string{"testdata/cnn.onnx", "testdata/resnet.onnx", "testdata/inception.onnx"} {
		g, err := Load(file)
		if err != nil {
			t.Fatal(err)
		}
		in := g.InputShape()
		shape := append([]int{3}, in...)
		x := func(seed int) *autograd.Var {
			return autograd.Const(tensor.FromFloat32(hashImage(tensor.Numel(shape), seed), shape...))
		}
		tap := g.Meta().AttentionLayer
		pass := func(seed int) (y, a *tensor.Tensor) {
			autograd.NoGrad(func() {
				yv, acts := g.Forward(x(seed), nn.Eval, tap)
				y, a = yv.Value(), acts[tap].Value()
			})
			return y, a
		}
		old := tensor.SetArenas(false)
		wantY, wantA := pass(1)
		wantY, wantA = wantY.Clone(), wantA.Clone()
		bytesOff := allocated(func() { pass(2) })
		tensor.SetArenas(true)
		oldCheck := tensor.SetArenaCheck(true)
		y, a := pass(1)
		pass(2)
		tensor.SetArenaCheck(oldCheck)
		for name, pair := range map[string][2]*tensor.Tensor{"logits": {y, wantY}, tap: {a, wantA}} {
			got, want := pair[0].Float64s(), pair[1].Float64s()
			if len(got) != len(want) {
				t.Fatalf("%s: %s has %d values after the arena closed, want %d", file, name, len(got), len(want))
			}
			for i := range got {
				if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
					t.Fatalf("%s: %s value %d is %v after the arena closed, %v without arenas", file, name, i, got[i], want[i])
				}
			}
		}
		oldCheck = tensor.SetArenaCheck(false) // check mode does not recycle (ARP_ARENA_CHECK=1)
		pass(3)                                // the pool holds the pass's storage now
		bytesOn := allocated(func() { pass(4) })
		tensor.SetArenaCheck(oldCheck)
		tensor.SetArenas(old)
		if bytesOn*2 > bytesOff {
			t.Errorf("%s: a pass allocated %d bytes in its arena, %d without arenas; want under half", file, bytesOn, bytesOff)
		}
	}
}

// allocated returns the bytes the Go heap allocated while fn ran, the
// least of five runs: the count is process-wide, so one run can include
// another goroutine's allocations (a loaded CI run once gave the arena
// pass 54,968 bytes against 106,368 without arenas, where it takes
// under half alone).
func allocated(fn func()) uint64 {
	least := uint64(math.MaxUint64)
	for range 5 {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		fn()
		runtime.ReadMemStats(&m1)
		least = min(least, m1.TotalAlloc-m0.TotalAlloc)
	}
	return least
}
