package attention

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// smoothNet is a tiny float64 classifier built from autograd ops with smooth
// activations (tanh), so finite differences of its maps are accurate and the
// gradient at the tapped layer depends on the input (unlike a ReLU network,
// whose gradient behind the layer is piecewise constant):
//
//	x [N,1,6,6] -> conv 3x3 (3) -> tanh "act1" -> conv 3x3 (4) -> tanh "act2"
//	-> avg-pool 2x2 "pool" [N,4,3,3] -> tanh -> dense 36->3
type smoothNet struct {
	w1, b1, w2, b2, wd, bd *autograd.Var
}

func newSmoothNet(seed uint64) *smoothNet {
	rng := rand.New(rand.NewPCG(seed, 3))
	r := func(scale float64, shape ...int) *autograd.Var {
		t := tensor.Zeros(tensor.Float64, shape...)
		for i := 0; i < t.Size(); i++ {
			t.SetFlat(i, scale*rng.NormFloat64())
		}
		return autograd.Param(t)
	}
	return &smoothNet{w1: r(0.6, 3, 1, 3, 3), b1: r(0.1, 1, 3, 1, 1), w2: r(0.4, 4, 3, 3, 3), b2: r(0.1, 1, 4, 1, 1),
		wd: r(0.5, 3, 36), bd: r(0.1, 3)}
}

func (s *smoothNet) LayerNames() []string { return []string{"act1", "act2", "pool", "logits"} }
func (s *smoothNet) InputShape() []int    { return []int{1, 6, 6} }
func (s *smoothNet) NumClasses() int      { return 3 }

func (s *smoothNet) Forward(x *autograd.Var, _ nn.Mode, taps ...string) (*autograd.Var, map[string]*autograd.Var) {
	p := autograd.Conv2dParams{StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, DilationH: 1, DilationW: 1}
	acts := map[string]*autograd.Var{}
	acts["act1"] = autograd.Tanh(autograd.Add(autograd.Conv2d(x, s.w1, p), s.b1))
	acts["act2"] = autograd.Tanh(autograd.Add(autograd.Conv2d(acts["act1"], s.w2, p), s.b2))
	acts["pool"] = autograd.AvgPool2d(acts["act2"], 2, 2, autograd.Conv2dParams{StrideH: 2, StrideW: 2, DilationH: 1, DilationW: 1}, false)
	// a non-linearity after the tapped layer, so that the gradient there
	// depends on the input
	flat := autograd.Tanh(autograd.Reshape(acts["pool"], x.Shape()[0], -1))
	logits := autograd.Add(autograd.MatMul(flat, s.wd, false, true), s.bd)
	acts["logits"] = logits
	out := map[string]*autograd.Var{}
	for _, t := range taps {
		out[t] = acts[t]
	}
	return logits, out
}

func smoothInput(seed uint64) *tensor.Tensor {
	rng := rand.New(rand.NewPCG(seed, 4))
	x := tensor.Zeros(tensor.Float64, 2, 1, 6, 6)
	for i := 0; i < x.Size(); i++ {
		x.SetFlat(i, rng.Float64())
	}
	return x
}

var diffMethods = []struct {
	name  string
	batch bool
}{{"gradcam-arp", false}, {"gradcam-arp", true}, {"gradcam", false}, {"gradcam++", false}}

// mapFunc is the upsampled map as a function of the input, for the
// finite-difference checkers.
func mapFunc(t *testing.T, net *smoothNet, layer string, meth Method, createGraph bool) autograd.Func {
	return func(xs []*autograd.Var) *autograd.Var {
		r, err := Compute(net, xs[0], []int{0, 2}, Options{Layer: layer, Method: meth, Upsample: true, CreateGraph: createGraph})
		if err != nil {
			t.Fatal(err)
		}
		return r.Map
	}
}

// TestMapGradient checks the derivative of every map variant with respect
// to the input against central finite differences, in float64.
func TestMapGradient(t *testing.T) {
	net := newSmoothNet(1)
	x := smoothInput(2)
	for _, layer := range []string{"pool", "act1"} {
		for _, dm := range diffMethods {
			meth, _ := MethodByName(dm.name, dm.batch)
			name := layer + "/" + dm.name
			if dm.batch {
				name += "-batch"
			}
			t.Run(name, func(t *testing.T) {
				if err := autograd.CheckGrad(mapFunc(t, net, layer, meth, true), []*tensor.Tensor{x}, autograd.CheckOptions{Seed: 5}); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestMapGradGrad checks second derivatives of the maps with respect to the
// input (what an attack on the ARP loss, itself a gradient, differentiates).
func TestMapGradGrad(t *testing.T) {
	net := newSmoothNet(1)
	x := smoothInput(2)
	for _, dm := range diffMethods {
		meth, _ := MethodByName(dm.name, dm.batch)
		t.Run(dm.name, func(t *testing.T) {
			opt := autograd.CheckOptions{Seed: 6, Atol: 1e-4, Rtol: 1e-3}
			if err := autograd.CheckGradGrad(mapFunc(t, net, "pool", meth, true), []*tensor.Tensor{x}, opt); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestFirstOrderDiffers checks that CreateGraph=false gives the same map
// but a different (incomplete) input gradient, which finite differences
// reject.
func TestFirstOrderDiffers(t *testing.T) {
	net := newSmoothNet(1)
	x := smoothInput(2)
	rng := rand.New(rand.NewPCG(7, 7))
	w := tensor.Zeros(tensor.Float64, 2, 1, 6, 6)
	for i := 0; i < w.Size(); i++ {
		w.SetFlat(i, rng.NormFloat64())
	}
	for _, dm := range diffMethods {
		meth, _ := MethodByName(dm.name, dm.batch)
		t.Run(dm.name, func(t *testing.T) {
			grads := make([]*tensor.Tensor, 2)
			maps := make([]*tensor.Tensor, 2)
			for i, cg := range []bool{true, false} {
				xv := autograd.Param(x.Clone())
				m := mapFunc(t, net, "pool", meth, cg)([]*autograd.Var{xv})
				maps[i] = m.Value()
				g, err := autograd.Grad([]*autograd.Var{autograd.SumAll(autograd.Mul(m, autograd.Const(w)))}, nil, []*autograd.Var{xv}, false)
				if err != nil {
					t.Fatal(err)
				}
				grads[i] = g[0].Value()
			}
			if d := tensor.MaxAbsDiff(maps[0], maps[1]); d != 0 {
				t.Fatalf("CreateGraph changes the map itself by %g", d)
			}
			scale := tensor.MaxAbsDiff(grads[0], tensor.ZerosLike(grads[0]))
			d := tensor.MaxAbsDiff(grads[0], grads[1])
			if d < 1e-3*scale {
				t.Fatalf("first-order gradient equals the full one (max difference %g of %g)", d, scale)
			}
			t.Logf("max |full - first-order| = %.3g, max |full| = %.3g", d, scale)
			err := autograd.CheckGrad(mapFunc(t, net, "pool", meth, false), []*tensor.Tensor{x}, autograd.CheckOptions{Seed: 5})
			if err == nil {
				t.Fatal("the first-order gradient passed the finite-difference check")
			}
		})
	}
}

// TestCustomWeighting shows that a new CAM method only defines its channel
// weights: here w_k = sum_ij A g / sum_ij A (XGrad-CAM-like).
func TestCustomWeighting(t *testing.T) {
	net := newSmoothNet(1)
	x := smoothInput(2)
	m := Method{Name: "xgradcam", Weighting: xgrad{}, Post: ReluMax}
	if err := autograd.CheckGrad(mapFunc(t, net, "pool", m, true), []*tensor.Tensor{x}, autograd.CheckOptions{Seed: 9}); err != nil {
		t.Fatal(err)
	}
	r, err := Compute(net, autograd.Const(x), nil, Options{Layer: "pool", Method: m})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		mx := 0.0
		for j := 0; j < 9; j++ {
			mx = math.Max(mx, r.Map.Value().AtFlat(i*9+j))
		}
		if mx != 0 && math.Abs(mx-1) > 1e-9 {
			t.Fatalf("map %d has max %g", i, mx)
		}
	}
}

type xgrad struct{}

func (xgrad) Weights(a, g *autograd.Var) *autograd.Var {
	return autograd.Div(autograd.Sum(autograd.Mul(a, g), true, 2, 3), autograd.AddScalar(autograd.Sum(a, true, 2, 3), 1e-7))
}

// TestComputeErrors covers the errors a user can trigger.
func TestComputeErrors(t *testing.T) {
	net := newSmoothNet(1)
	x := autograd.Const(smoothInput(2))
	meth, _ := MethodByName("gradcam", false)
	cases := []struct {
		name    string
		x       *autograd.Var
		targets []int
		layer   string
		want    string
	}{
		{"unknown layer", x, nil, "conv9", `unknown layer "conv9"; valid layers: act1, act2, pool, logits`},
		{"dense layer", x, nil, "logits", "needs a convolutional layer"},
		{"target out of range", x, []int{0, 3}, "pool", "target class 3 outside [0,3)"},
		{"too few targets", x, []int{0}, "pool", "1 targets"},
		{"too few labels", x, []int{-1}, "pool", "1 labels for 2 images"},
		{"wrong size", autograd.Const(tensor.Zeros(tensor.Float64, 1, 1, 5, 6)), nil, "pool", "do not fit the model"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compute(net, c.x, c.targets, Options{Layer: c.layer, Method: meth})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}
