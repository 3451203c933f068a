package optim

import (
	"math"
	"testing"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/tensor"
)

// Reference values from torch.optim (scripts/fixtures/optim.py): the
// parameter after four steps with the gradients below.
var torchRef = map[string][]float64{
	"sgd":             {0.42500000000000004, -1.73, 2.3449999999999998},
	"sgd-momentum":    {0.46451000000000003, -1.7667199999999998, 2.31908},
	"sgd-nesterov-wd": {0.38681432604968696, -1.9517763783817401, 2.608460135646427},
	"adam":            {0.4948577382996011, -1.5041796169282162, 1.989599465916873},
	"adam-wd":         {0.49075284874594993, -1.494379521691273, 1.9854312165586496},
	"adamw":           {0.4928759977850757, -1.4982063227186309, 1.9816580754723432},
}

var refGrads = [][]float64{{0.1, -0.2, 0.3}, {-0.4, 0.5, 0.25}, {0.05, 0.0, -1.0}, {1.0, 2.0, -3.0}}

func TestMatchesTorch(t *testing.T) {
	makers := map[string]func(p []*autograd.Var) Optimizer{
		"sgd":          func(p []*autograd.Var) Optimizer { return NewSGD(p, 0.1, 0) },
		"sgd-momentum": func(p []*autograd.Var) Optimizer { return NewSGD(p, 0.1, 0.9) },
		"sgd-nesterov-wd": func(p []*autograd.Var) Optimizer {
			o := NewSGD(p, 0.1, 0.9)
			o.Nesterov, o.WeightDecay = true, []float64{0.01}
			return o
		},
		"adam": func(p []*autograd.Var) Optimizer { return NewAdam(p, 0.01) },
		"adam-wd": func(p []*autograd.Var) Optimizer {
			o := NewAdam(p, 0.01)
			o.WeightDecay = []float64{0.1}
			return o
		},
		"adamw": func(p []*autograd.Var) Optimizer {
			o := NewAdam(p, 0.01)
			o.WeightDecay, o.Decoupled = []float64{0.1}, true
			return o
		},
	}
	for name, want := range torchRef {
		for _, dt := range []tensor.DType{tensor.Float64, tensor.Float32} {
			t.Run(name+"/"+dt.String(), func(t *testing.T) {
				w := autograd.Param(tensor.FromFloat64([]float64{0.5, -1.5, 2.0}, 3).AsType(dt))
				opt := makers[name]([]*autograd.Var{w})
				for _, g := range refGrads {
					gv := autograd.Const(tensor.FromFloat64(append([]float64(nil), g...), 3).AsType(dt))
					if err := opt.Step([]*autograd.Var{gv}); err != nil {
						t.Fatal(err)
					}
				}
				tol := 1e-12
				if dt == tensor.Float32 {
					tol = 1e-5
				}
				for i, v := range w.Value().Float64s() {
					if math.Abs(v-want[i]) > tol {
						t.Fatalf("param %d = %.15g, torch %.15g", i, v, want[i])
					}
				}
			})
		}
	}
}

func TestStateRoundTripContinuesExactly(t *testing.T) {
	for _, name := range []string{"sgd", "adam"} {
		t.Run(name, func(t *testing.T) {
			mk := func(p []*autograd.Var) Optimizer {
				if name == "sgd" {
					return NewSGD(p, 0.1, 0.9)
				}
				return NewAdam(p, 0.01)
			}
			step := func(o Optimizer, g []float64) {
				if err := o.Step([]*autograd.Var{autograd.Const(tensor.FromFloat64(append([]float64(nil), g...), 3))}); err != nil {
					t.Fatal(err)
				}
			}
			a := autograd.Param(tensor.FromFloat64([]float64{0.5, -1.5, 2.0}, 3))
			oa := mk([]*autograd.Var{a})
			for _, g := range refGrads {
				step(oa, g)
			}
			b := autograd.Param(tensor.FromFloat64([]float64{0.5, -1.5, 2.0}, 3))
			ob := mk([]*autograd.Var{b})
			step(ob, refGrads[0])
			step(ob, refGrads[1])
			c := autograd.Param(b.Value().Clone())
			oc := mk([]*autograd.Var{c})
			if err := oc.LoadState(ob.State()); err != nil {
				t.Fatal(err)
			}
			step(oc, refGrads[2])
			step(oc, refGrads[3])
			if d := tensor.MaxAbsDiff(a.Value(), c.Value()); d != 0 {
				t.Fatalf("resumed optimiser differs by %g", d)
			}
		})
	}
}

func TestBadGradients(t *testing.T) {
	w := autograd.Param(tensor.Zeros(tensor.Float32, 3))
	o := NewAdam([]*autograd.Var{w}, 0.1)
	if err := o.Step(nil); err == nil {
		t.Fatal("missing gradients accepted")
	}
	if err := o.Step([]*autograd.Var{autograd.Const(tensor.Zeros(tensor.Float32, 4))}); err == nil {
		t.Fatal("wrong-shaped gradient accepted")
	}
	if err := o.LoadState(map[string]*tensor.Tensor{}); err == nil {
		t.Fatal("empty state accepted")
	}
}
