package autograd

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/arp-robustness/arp/tensor"
)

func rand32(rng *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.Zeros(tensor.Float32, shape...)
	for i := range t.F32() {
		t.F32()[i] = float32(rng.Float64()*2 - 1)
	}
	return t
}

// arenaNet is a small convolutional function of x and weights w1, w2 whose
// input gradient, taken with a graph, reaches the ReLU's output and the
// max-pool's arg-max indices only through what its backward functions
// captured (neither is an input of that graph), and whose second-order
// gradient with respect to w2 reads both.
func arenaNet(x, w1, w2 *Var) *Var {
	p := tensor.Conv2dParams{PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	h := MaxPool2d(Relu(Conv2d(x, w1, p)), 2, 2, tensor.Conv2dParams{StrideH: 2, StrideW: 2})
	return SumAll(Conv2d(h, w2, p))
}

// TestArenaKeepKeepsGraph: a gradient taken with a graph inside an arena
// and kept (Keep) can be differentiated after the arena closed, with the
// same result as without an arena. Keep must keep the values its graph's
// backward functions captured (ReluGrad's forward output), not only the
// graph's inputs: with those left out the second-order gradient reads
// released storage (NaN in check mode).
func TestArenaKeepKeepsGraph(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	xt, w1t, w2t := rand32(rng, 2, 3, 6, 6), rand32(rng, 4, 3, 3, 3), rand32(rng, 5, 4, 3, 3)
	run := func(arenas bool) []float32 {
		old := tensor.SetArenas(arenas)
		defer tensor.SetArenas(old)
		x, w1, w2 := Param(xt.Clone()), Param(w1t.Clone()), Param(w2t.Clone())
		a := OpenArena()
		gx := MustGrad(arenaNet(x, w1, w2), []*Var{x}, true)[0]
		Keep(gx)
		a.Close()
		// more work reusing the pool, then the second-order gradient
		b := OpenArena()
		arenaNet(Param(xt.Clone()), Param(w1t.Clone()), Param(w2t.Clone()))
		b.Close()
		gw := MustGrad(SumAll(Square(gx)), []*Var{w2}, false)[0]
		return gw.Value().Float32s()
	}
	want := run(false)
	for _, check := range []bool{false, true} {
		old := tensor.SetArenaCheck(check)
		got := run(true)
		tensor.SetArenaCheck(old)
		if !slices.Equal(got, want) {
			t.Fatalf("check mode %v: second-order gradient through a kept graph differs from the one without arenas:\n%v\n%v", check, got[:4], want[:4])
		}
	}
}

// TestArenaKeptAcrossSteps: a result kept from one step (a Var, and a
// view of one) keeps its values while later steps reuse the pool; a
// result not kept is emptied when its step ends, so using it fails
// instead of reading another step's data.
func TestArenaKeptAcrossSteps(t *testing.T) {
	old := tensor.SetArenaCheck(false) // released storage is reused, not poisoned
	defer tensor.SetArenaCheck(old)
	rng := rand.New(rand.NewPCG(3, 4))
	w := Param(rand32(rng, 4, 3, 3, 3))
	var kept, dropped *Var
	var view *tensor.Tensor
	var keptWant, viewWant []float32
	for s := 0; s < 3; s++ {
		a := OpenArena()
		x := Const(rand32(rng, 2, 3, 6, 6))
		y := Relu(Conv2d(x, w, tensor.Conv2dParams{}))
		g := MustGrad(SumAll(Square(y)), []*Var{w}, false)[0]
		if s == 0 {
			kept, keptWant = g, g.Value().Float32s()
			// a view made by package tensor, which no graph adopted: the
			// rule keeps storage, whichever tensor holds it
			view = y.Value().Reshape(-1)
			viewWant = view.Float32s()
			dropped = Scale(y, 2)
			Keep(kept)
			tensor.Keep(view)
		}
		a.Close()
	}
	if got := kept.Value().Float32s(); !slices.Equal(got, keptWant) {
		t.Fatalf("a kept gradient changed while later steps reused the pool")
	}
	if got := view.Float32s(); !slices.Equal(got, viewWant) {
		t.Fatalf("a kept view changed while later steps reused the pool")
	}
	if dropped.Value().Size() != 0 {
		t.Fatalf("a result not kept still holds (reused) storage after its step")
	}
}

// TestGradientsInArenas: every op's first- and second-order gradients
// (the cases of TestGradients) are bit for bit the same computed inside an
// arena, where Grad gives each propagated intermediate gradient back to the
// pool at once and results take recycled storage, as without arenas; also
// in check mode, where released storage and uninitialised results are NaN.
func TestGradientsInArenas(t *testing.T) {
	for i, c := range opCases() {
		rng := rand.New(rand.NewPCG(uint64(i), 3))
		ins := make([]*tensor.Tensor, len(c.inputs))
		for j, g := range c.inputs {
			ins[j] = g.make(rng)
		}
		run := func(arenas, check bool) [][]float64 {
			oldA, oldC := tensor.SetArenas(arenas), tensor.SetArenaCheck(check)
			defer func() { tensor.SetArenas(oldA); tensor.SetArenaCheck(oldC) }()
			// a step before, so that the pool holds stale storage
			a := OpenArena()
			warm := make([]*Var, len(ins))
			for j, in := range ins {
				warm[j] = Param(in.Clone())
			}
			MustGrad(SumAll(c.f(warm)), warm, false)
			a.Close()
			a = OpenArena()
			defer a.Close()
			vars := make([]*Var, len(ins))
			for j, in := range ins {
				vars[j] = Param(in.Clone())
			}
			out := c.f(vars)
			r := tensor.Zeros(tensor.Float64, out.Shape()...)
			for j := range r.F64() {
				r.F64()[j] = float64(j%7) - 2.5
			}
			l := SumAll(Mul(out, Const(r)))
			var res [][]float64
			for _, g := range MustGrad(l, vars, false) {
				res = append(res, g.Value().Float64s())
			}
			if !c.noGG {
				gs := MustGrad(SumAll(Mul(c.f(vars), Const(r))), vars, true)
				var s *Var
				for _, g := range gs {
					if g.RequiresGrad() {
						if s == nil {
							s = SumAll(Square(g))
						} else {
							s = Add(s, SumAll(Square(g)))
						}
					}
				}
				if s != nil {
					for _, g := range MustGrad(s, vars, false) {
						res = append(res, g.Value().Float64s())
					}
				}
			}
			return res
		}
		want := run(false, false)
		for _, check := range []bool{false, true} {
			got := run(true, check)
			if len(got) != len(want) {
				t.Fatalf("%s: %d gradients in arenas, %d without", c.name, len(got), len(want))
			}
			for j := range want {
				for k := range want[j] {
					if got[j][k] != want[j][k] && !(got[j][k] != got[j][k] && want[j][k] != want[j][k]) {
						t.Fatalf("%s, check mode %v: gradient %d element %d is %v in arenas, %v without", c.name, check, j, k, got[j][k], want[j][k])
					}
				}
			}
		}
	}
}
