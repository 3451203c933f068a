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
