package attention

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/checkpoint"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// The PyTorch reference of scripts/fixtures/gradcam.py: arp's mnist-small
// network with fixed weights, four MNIST digits, and every map variant at two
// layers.
const fixturePath = "testdata/gradcam.safetensors"

type fixture struct {
	f       *checkpoint.File
	model   *nn.Model
	x       *tensor.Tensor // [4,1,28,28]
	r       *tensor.Tensor // map weighting for the input gradients
	labels  []int
	targets []int
}

func loadFixture(t *testing.T) *fixture {
	t.Helper()
	f, err := checkpoint.Read(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := nn.DefaultSpec("mnist-small", 1, 28, 28, 10)
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.Build(spec, 1)
	if err != nil {
		t.Fatal(err)
	}
	state := map[string]*tensor.Tensor{}
	for _, p := range m.Params() {
		v, err := f.Float32(p.Name, p.Var.Shape())
		if err != nil {
			t.Fatal(err)
		}
		state[p.Name] = tensor.FromFloat32(v, p.Var.Shape()...)
	}
	if err := m.LoadState(state); err != nil {
		t.Fatal(err)
	}
	fx := &fixture{f: f, model: m}
	x, err := f.Float32("input", []int{4, 1, 28, 28})
	if err != nil {
		t.Fatal(err)
	}
	fx.x = tensor.FromFloat32(x, 4, 1, 28, 28)
	r, err := f.Float32("map_weight", []int{4, 1, 28, 28})
	if err != nil {
		t.Fatal(err)
	}
	fx.r = tensor.FromFloat32(r, 4, 1, 28, 28)
	for _, name := range []string{"labels", "targets"} {
		v, err := f.Int64(name, []int{4})
		if err != nil {
			t.Fatal(err)
		}
		ints := make([]int, len(v))
		for i, c := range v {
			ints[i] = int(c)
		}
		if name == "labels" {
			fx.labels = ints
		} else {
			fx.targets = ints
		}
	}
	return fx
}

func (fx *fixture) ref(t *testing.T, name string, shape ...int) []float64 {
	t.Helper()
	v, err := fx.f.Float64(name, shape)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// fixtureMethod maps a fixture method name to a Method.
func fixtureMethod(t *testing.T, name string) Method {
	t.Helper()
	batch := strings.HasSuffix(name, "-batch")
	m, err := MethodByName(strings.TrimSuffix(name, "-batch"), batch)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var fixtureMethods = []string{"gradcam-arp", "gradcam-arp-batch", "gradcam", "gradcam++"}

// closeTo compares got with the float64 reference want element-wise:
// |got - want| <= rtol*|want| + rtol*atolShare*max|want|. The absolute part
// covers values that are zero in the reference (ReLU) up to rounding.
func closeTo(got []float32, want []float64, rtol, atolShare float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d values, want %d", len(got), len(want))
	}
	mx := 0.0
	for _, w := range want {
		mx = math.Max(mx, math.Abs(w))
	}
	worst, at := 0.0, -1
	for i, w := range want {
		d := math.Abs(float64(got[i]) - w)
		if math.IsNaN(d) {
			return fmt.Errorf("value %d is NaN", i)
		}
		tol := rtol*math.Abs(w) + rtol*atolShare*mx
		if d/tol > worst {
			worst, at = d/tol, i
		}
	}
	if worst > 1 {
		return fmt.Errorf("value %d: got %.9g, want %.9g (%.3g x tolerance)", at, got[at], want[at], worst)
	}
	return nil
}

func TestFixtureLogits(t *testing.T) {
	fx := loadFixture(t)
	logits := fx.model.Logits(autograd.Const(fx.x)).Value().Float32s()
	if err := closeTo(logits, fx.ref(t, "logits", 4, 10), 1e-4, 1e-2); err != nil {
		t.Fatal("logits:", err)
	}
}

// TestFixtureMaps compares every map variant at the attention layer pool2
// (7x7, and upsampled to 28x28) and at relu2 (14x14) with PyTorch, to 1e-4
// relative.
func TestFixtureMaps(t *testing.T) {
	fx := loadFixture(t)
	layers := []struct {
		name string
		h, w int
		up   bool
	}{{"pool2", 7, 7, true}, {"relu2", 14, 14, false}}
	for _, l := range layers {
		for _, name := range fixtureMethods {
			t.Run(l.name+"/"+name, func(t *testing.T) {
				opt := Options{Layer: l.name, Method: fixtureMethod(t, name)}
				r, err := Compute(fx.model, autograd.Const(fx.x), fx.targets, opt)
				if err != nil {
					t.Fatal(err)
				}
				want := fx.ref(t, l.name+"."+name+".map", 4, 1, l.h, l.w)
				if err := closeTo(r.Map.Value().Float32s(), want, 1e-4, 1e-2); err != nil {
					t.Errorf("map: %v", err)
				}
				if !l.up {
					return
				}
				opt.Upsample = true
				r, err = Compute(fx.model, autograd.Const(fx.x), fx.targets, opt)
				if err != nil {
					t.Fatal(err)
				}
				wantUp := fx.ref(t, l.name+"."+name+".up", 4, 1, 28, 28)
				if err := closeTo(r.Map.Value().Float32s(), wantUp, 1e-4, 1e-2); err != nil {
					t.Errorf("upsampled map: %v", err)
				}
				// Maps gives the same numbers as plain slices
				set, err := Maps(fx.model, fx.x, fx.targets, Options{Layer: l.name, Method: opt.Method})
				if err != nil {
					t.Fatal(err)
				}
				if set.H != 7 || set.W != 7 || set.InH != 28 || set.InW != 28 || len(set.Up) != 4 {
					t.Fatalf("MapSet sizes %dx%d -> %dx%d, %d maps", set.H, set.W, set.InH, set.InW, len(set.Up))
				}
				for i := 0; i < 4; i++ {
					if err := closeTo(set.Coarse[i], want[i*49:(i+1)*49], 1e-4, 1e-2); err != nil {
						t.Errorf("Maps coarse %d: %v", i, err)
					}
					if err := closeTo(set.Up[i], wantUp[i*784:(i+1)*784], 1e-4, 1e-2); err != nil {
						t.Errorf("Maps upsampled %d: %v", i, err)
					}
				}
			})
		}
	}
}

// TestFixtureInputGrad compares d sum(R * M_up) / dx (with CreateGraph) with
// PyTorch's.
func TestFixtureInputGrad(t *testing.T) {
	fx := loadFixture(t)
	for _, name := range fixtureMethods {
		t.Run(name, func(t *testing.T) {
			x := autograd.Param(fx.x.Clone())
			r, err := Compute(fx.model, x, fx.targets, Options{Method: fixtureMethod(t, name), Upsample: true, CreateGraph: true})
			if err != nil {
				t.Fatal(err)
			}
			loss := autograd.SumAll(autograd.Mul(r.Map, autograd.Const(fx.r)))
			g, err := autograd.Grad([]*autograd.Var{loss}, nil, []*autograd.Var{x}, false)
			if err != nil {
				t.Fatal(err)
			}
			want := fx.ref(t, "pool2."+name+".inputgrad", 4, 1, 28, 28)
			if err := closeTo(g[0].Value().Float32s(), want, 1e-4, 1e-2); err != nil {
				t.Errorf("input gradient: %v", err)
			}
		})
	}
}

// TestFixtureDefaultTargets checks that labels pick the targets and -1 falls
// back to the prediction.
func TestFixtureDefaultTargets(t *testing.T) {
	fx := loadFixture(t)
	labels := []int{fx.labels[0], -1, fx.labels[2], -1}
	set, err := Maps(fx.model, fx.x, labels, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []int{fx.labels[0], set.Pred[1], fx.labels[2], set.Pred[3]}
	for i := range want {
		if set.Targets[i] != want[i] {
			t.Fatalf("targets %v, want %v", set.Targets, want)
		}
	}
	// the logits' argmax is the fixture's prediction
	logits := fx.ref(t, "logits", 4, 10)
	for i := 0; i < 4; i++ {
		best := 0
		for j := 1; j < 10; j++ {
			if logits[i*10+j] > logits[i*10+best] {
				best = j
			}
		}
		if set.Pred[i] != best {
			t.Fatalf("prediction %d = %d, PyTorch %d", i, set.Pred[i], best)
		}
	}
}
