package attention

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

func TestMapsNormalised(t *testing.T) {
	spec, _ := nn.DefaultSpec("mnist-small", 1, 16, 16, 3)
	m, _ := nn.Build(spec, 2)
	rng := rand.New(rand.NewPCG(1, 1))
	x := tensor.Zeros(tensor.Float32, 3, 1, 16, 16)
	for i := 0; i < x.Size(); i++ {
		x.SetFlat(i, rng.Float64())
	}
	for _, name := range Methods() {
		meth, err := MethodByName(name, false)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Compute(m, autograd.Const(x), []int{0, 1, 2}, Options{Method: meth})
		if err != nil {
			t.Fatal(err)
		}
		if !tensor.SameShape(r.Map.Shape(), []int{3, 1, 4, 4}) {
			t.Fatalf("%s: map shape %v", name, r.Map.Shape())
		}
		for i := 0; i < 3; i++ {
			sum, mx := 0.0, 0.0
			for j := 0; j < 16; j++ {
				v := r.Map.Value().AtFlat(i*16 + j)
				sum += v
				mx = math.Max(mx, v)
			}
			if name == "gradcam-arp" && math.Abs(sum-1) > 1e-5 {
				t.Fatalf("ARP map %d sums to %g", i, sum)
			}
			if name != "gradcam-arp" && mx != 0 && math.Abs(mx-1) > 1e-5 {
				t.Fatalf("%s map %d has max %g", name, i, mx)
			}
		}
	}
	if _, err := Compute(m, autograd.Const(x), nil, Options{Layer: "nope"}); err == nil {
		t.Fatal("unknown layer accepted")
	}
	if _, err := MethodByName("cam", false); err == nil {
		t.Fatal("unknown method accepted")
	}
}

// TestMinMaxScaling checks the pytorch-grad-cam scaling against its
// formula, (relu(S) - min) / (max(relu(S) - min) + 1e-7), where it differs
// from ReluMax (every cell positive) and where it does not (a zero cell),
// and its first and second derivatives.
func TestMinMaxScaling(t *testing.T) {
	s := tensor.FromFloat64([]float64{
		0.5, 2, 1, 3, // all positive: the minimum 0.5 is subtracted
		-1, 2, 0, 4, // ReLU leaves a zero: the same as ReluMax
	}, 2, 1, 2, 2)
	got := ReluMinMax(autograd.Const(s)).Value().Float64s()
	want := []float64{0, 1.5 / (2.5 + 1e-7), 0.5 / (2.5 + 1e-7), 2.5 / (2.5 + 1e-7), 0, 2 / (4 + 1e-7), 0, 4 / (4 + 1e-7)}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("min-max map %v, want %v", got, want)
		}
	}
	old := ReluMax(autograd.Const(s)).Value().Float64s()
	if math.Abs(old[0]-0.5/3) > 1e-9 || math.Abs(old[5]-got[5]) > 1e-6 {
		t.Fatalf("ReluMax %v", old)
	}
	for _, name := range []string{"gradcam", "gradcam++"} {
		m, _ := MethodByName(name, false)
		mm, err := WithScaling(m, "min-max")
		if err != nil || mm.Name != name+" (min-max scaled)" {
			t.Fatalf("%s: %v %q", name, err, mm.Name)
		}
	}
	arp, _ := MethodByName("gradcam-arp", false)
	if _, err := WithScaling(arp, "min-max"); err == nil {
		t.Fatal("min-max scaling of the softmax map accepted")
	}
	if _, err := WithScaling(arp, "max"); err != nil {
		t.Fatal(err)
	}
	if _, err := WithScaling(arp, "norm"); err == nil {
		t.Fatal("unknown scaling accepted")
	}
	x := tensor.FromFloat64([]float64{0.3, 0.7, 0.2, 0.9, 0.4, 1.3}, 1, 1, 2, 3)
	f := func(v []*autograd.Var) *autograd.Var { return autograd.SumAll(autograd.Square(ReluMinMax(v[0]))) }
	if err := autograd.CheckGrad(f, []*tensor.Tensor{x}, autograd.CheckOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := autograd.CheckGradGrad(f, []*tensor.Tensor{x}, autograd.CheckOptions{}); err != nil {
		t.Fatal(err)
	}
}
