package attention

import (
	"math/rand/v2"
	"testing"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// Maps of an arp model run the layers up to the tapped one without a
// graph (computePlain); maps, logits and targets must be bit for bit those
// of Compute's pass with a graph through every layer, for every method,
// per-sample and batch-wide, in evaluation and training mode (dropout
// after the layer drawing the same numbers), at several layers.
func TestComputePlainSameAsCompute(t *testing.T) {
	cases := []struct {
		arch   string
		c, h   int
		layers []string
	}{
		{"cifarnet", 3, 32, []string{"", "conv2", "relu1"}},
		{"mnist-small", 1, 20, []string{"", "conv1"}},
	}
	for _, tc := range cases {
		spec, err := nn.DefaultSpec(tc.arch, tc.c, tc.h, tc.h, 10)
		if err != nil {
			t.Fatal(err)
		}
		m, err := nn.Build(spec, 4)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(2, 3))
		x := tensor.Zeros(tensor.Float32, 5, tc.c, tc.h, tc.h)
		for i := 0; i < x.Size(); i++ {
			x.SetFlat(i, rng.Float64())
		}
		for _, layer := range tc.layers {
			if layer == "" {
				layer = nn.DefaultAttentionLayer(m)
			}
			if err := nn.CheckLayer(m, layer); err != nil {
				t.Fatalf("%s: %v", tc.arch, err)
			}
			for _, name := range Methods() {
				for _, batchWide := range []bool{false, true} {
					for _, train := range []bool{false, true} {
						meth, _ := MethodByName(name, batchWide)
						opt := func() Options {
							o := Options{Layer: layer, Method: meth}
							if train {
								o.Mode = nn.Mode{Train: true, Rng: rand.New(rand.NewPCG(7, 8))}
							}
							return o
						}
						targets := []int{-1, 3, -1, 0, 9}
						want, err := Compute(m, autograd.Const(x), append([]int(nil), targets...), opt())
						if err != nil {
							t.Fatal(err)
						}
						got, err := computePlain(m, x, append([]int(nil), targets...), opt())
						if err != nil {
							t.Fatal(err)
						}
						what := tc.arch + " " + layer + " " + name
						if batchWide {
							what += " batch-wide"
						}
						if train {
							what += " train"
						}
						same(t, what+" map", got.Map.Value(), want.Map.Value())
						same(t, what+" logits", got.Logits.Value(), want.Logits.Value())
						same(t, what+" activations", got.Activations.Value(), want.Activations.Value())
						for i := range want.Targets {
							if got.Targets[i] != want.Targets[i] {
								t.Fatalf("%s: targets %v, want %v", what, got.Targets, want.Targets)
							}
						}
					}
				}
			}
		}
	}
}

func same(t *testing.T, what string, got, want *tensor.Tensor) {
	t.Helper()
	if !tensor.SameShape(got.Shape(), want.Shape()) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), want.Shape())
	}
	g, w := got.Float32s(), want.Float32s()
	for i := range w {
		if g[i] != w[i] && !(g[i] != g[i] && w[i] != w[i]) {
			t.Fatalf("%s: element %d is %v, want %v", what, i, g[i], w[i])
		}
	}
}
