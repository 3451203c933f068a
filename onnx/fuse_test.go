package onnx

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/attention"
	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/tensor"
)

// importBoth imports a fixture fused (the default) and node by node.
func importBoth(t *testing.T, path string) (fused, plain *Graph) {
	t.Helper()
	m, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := ReadMeta(path, m)
	if err != nil {
		t.Fatal(err)
	}
	if fused, err = ImportWith(m, meta, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if plain, err = ImportWith(m, meta, ImportOptions{NoFuse: true}); err != nil {
		t.Fatal(err)
	}
	return fused, plain
}

func maxRelDiff(a, b *tensor.Tensor) float64 {
	if !slices.Equal(a.Shape(), b.Shape()) {
		return math.Inf(1)
	}
	var d, m float64
	for i := 0; i < a.Size(); i++ {
		d = math.Max(d, math.Abs(a.AtFlat(i)-b.AtFlat(i)))
		m = math.Max(m, math.Abs(b.AtFlat(i)))
	}
	if m == 0 {
		return d
	}
	return d / m
}

func randImages(seed uint64, dt tensor.DType, shape ...int) *tensor.Tensor {
	rng := rand.New(rand.NewPCG(seed, 7))
	x := tensor.Zeros(dt, shape...)
	for i := 0; i < x.Size(); i++ {
		x.SetFlat(i, rng.Float64())
	}
	return x
}

// TestFusedMatchesNodeByNode: on every fixture, the fused import is the
// same function as the node-by-node import in float64 (logits, input
// gradients, the Grad-CAM map at the attention layer, the gradient of a
// function of the input gradient), has the same layers with the same
// shapes, and a tap inside a fused chain gives that node's value.
func TestFusedMatchesNodeByNode(t *testing.T) {
	files := []string{"cnn", "resnet", "inception", "zoo11", "zoo13", "zoo17", "inception_v3"}
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			if name == "inception_v3" && testing.Short() {
				t.Skip("Inception v3 in float64")
			}
			fused, plain := importBoth(t, "testdata/"+name+".onnx")
			if !slices.Equal(fused.LayerNames(), plain.LayerNames()) {
				t.Fatalf("layers differ: fused %d, node by node %d", len(fused.LayerNames()), len(plain.LayerNames()))
			}
			for _, l := range plain.LayerNames() {
				a, _ := fused.LayerShape(l)
				b, _ := plain.LayerShape(l)
				if !slices.Equal(a, b) {
					t.Fatalf("layer %s: fused shape %v, node by node %v", l, a, b)
				}
			}
			if fusable := !strings.HasPrefix(name, "zoo"); fusable != (len(fused.Fusions()) > 0) {
				t.Fatalf("%d chains fused", len(fused.Fusions()))
			}
			for _, f := range fused.Fusions() {
				t.Logf("fused %s", f.Kind)
			}
			n := 2
			if fused.BatchSize() > 0 {
				n = 2 * fused.BatchSize()
			}
			x := randImages(1, tensor.Float64, append([]int{n}, fused.InputShape()...)...)
			labels := make([]int, n)
			for i := range labels {
				labels[i] = i % fused.NumClasses()
			}
			// an inner value of the first fused chain: tapping it runs
			// that chain node by node
			inner := fused.OutputName()
			if i := slices.IndexFunc(fused.steps, func(s *step) bool { return s.fusion != nil }); i >= 0 {
				inner = fused.steps[i].inner[0]
			}
			type result struct{ logits, grad, gg, tap, cam *tensor.Tensor }
			run := func(g *Graph) result {
				xv := autograd.Param(x)
				y, acts, err := g.Run(xv)
				if err != nil {
					t.Fatal(err)
				}
				loss := autograd.SumAll(autograd.PickClass(y, labels))
				gx, err := autograd.Grad([]*autograd.Var{loss}, nil, []*autograd.Var{xv}, true)
				if err != nil {
					t.Fatal(err)
				}
				// double backpropagation: d/dx of sum(grad^2)
				gg, err := autograd.Grad([]*autograd.Var{autograd.SumAll(autograd.Mul(gx[0], gx[0]))}, nil, []*autograd.Var{xv}, false)
				if err != nil {
					t.Fatal(err)
				}
				_, acts, err = g.Run(autograd.Const(x), inner)
				if err != nil {
					t.Fatal(err)
				}
				r := result{logits: y.Value(), grad: gx[0].Value(), gg: gg[0].Value(), tap: acts[inner].Value()}
				if layer := g.AttentionLayer(); layer != "" {
					method, err := attention.MethodByName("gradcam-arp", false)
					if err != nil {
						t.Fatal(err)
					}
					res, err := attention.Compute(g, autograd.Const(x), labels, attention.Options{Layer: layer, Method: method})
					if err != nil {
						t.Fatal(err)
					}
					r.cam = res.Map.Value()
				}
				return r
			}
			a, b := run(fused), run(plain)
			for _, c := range []struct {
				what string
				a, b *tensor.Tensor
			}{{"logits", a.logits, b.logits}, {"input gradient", a.grad, b.grad}, {"second-order gradient", a.gg, b.gg},
				{"tap " + inner, a.tap, b.tap}, {"Grad-CAM map", a.cam, b.cam}} {
				if c.a == nil && c.b == nil {
					continue
				}
				if e := maxRelDiff(c.a, c.b); !(e <= 1e-12) {
					t.Errorf("%s: fused and node-by-node differ by %.3g (relative)", c.what, e)
				} else {
					t.Logf("%s: %.2g", c.what, e)
				}
			}
		})
	}
}

// TestFusionsInceptionV3: what is fused in torchvision's Inception v3,
// and nothing with ARP_ONNX_FUSE=0.
func TestFusionsInceptionV3(t *testing.T) {
	m, err := ReadFile("testdata/inception_v3.onnx")
	if err != nil {
		t.Fatal(err)
	}
	meta, err := ReadMeta("testdata/inception_v3.onnx", m)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Import(m, meta)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, f := range g.Fusions() {
		kinds[f.Kind]++
	}
	want := map[string]int{"Conv+BatchNormalization+Relu": 92, "Conv+BatchNormalization+Relu+MaxPool": 2, "Pad+AveragePool": 9}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("fused %v, want %v", kinds, want)
	}
	f := g.Fusions()[0]
	if f.Kind != "Conv+BatchNormalization+Relu" || !slices.Equal(f.Nodes, []string{"/Conv2d_1a_3x3/conv/Conv", "/Conv2d_1a_3x3/bn/BatchNormalization", "/Conv2d_1a_3x3/Relu"}) ||
		f.Output != "/Conv2d_1a_3x3/Relu_output_0" {
		t.Errorf("first fusion %+v", f)
	}
	t.Setenv(FuseEnv, "0")
	if g, err = Import(m, meta); err != nil || len(g.Fusions()) != 0 {
		t.Errorf("%s=0: %d fusions, error %v", FuseEnv, len(g.Fusions()), err)
	}
	t.Setenv(FuseEnv, "no")
	if _, err = Import(m, meta); err == nil || !strings.Contains(err.Error(), `ARP_ONNX_FUSE="no"`) {
		t.Errorf("%s=no: error %v", FuseEnv, err)
	}
}

// TestFusedPlanted: the comparison of TestFusedMatchesNodeByNode catches
// a fold that reads a wrong epsilon.
func TestFusedPlanted(t *testing.T) {
	fused, plain := importBoth(t, "testdata/resnet.onnx")
	for _, s := range fused.steps {
		if s.fusion != nil && strings.Contains(s.fusion.Kind, "BatchNormalization") {
			// the planted defect: epsilon ten times too large in one
			// fold, before the float64 weights are made
			for _, p := range s.parts {
				if p.node.Op == "BatchNormalization" {
					p.node.Attrs["epsilon"].F *= 10
				}
			}
			fused2, err := ImportWith(fused.Model(), fused.Meta(), ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			x := randImages(2, tensor.Float64, append([]int{2}, fused.InputShape()...)...)
			y1, _, err := fused2.Run(autograd.Const(x))
			if err != nil {
				t.Fatal(err)
			}
			y2, _, err := plain.Run(autograd.Const(x))
			if err != nil {
				t.Fatal(err)
			}
			if e := maxRelDiff(y1.Value(), y2.Value()); e < 1e-9 {
				t.Fatalf("a fold with a wrong epsilon still matches (relative difference %.3g)", e)
			}
			return
		}
	}
	t.Fatal("no batch normalisation folded in the ResNet fixture")
}

// TestFloat32View: FLOAT initialisers share the decoded bytes when they
// are aligned, and are converted otherwise, with the same values.
func TestFloat32View(t *testing.T) {
	want := []float32{1.5, -2, float32(math.Pi), 0}
	raw := make([]byte, 4*len(want)+1)
	for _, off := range []int{0, 1} {
		b := raw[off : off+4*len(want)]
		for i, v := range want {
			bits := math.Float32bits(v)
			b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24)
		}
		f, ok := float32View(b, len(want))
		if off == 1 {
			if ok {
				t.Fatal("a misaligned buffer was viewed as float32")
			}
			continue
		}
		if !ok || !slices.Equal(f, want) {
			t.Fatalf("view %v (%v), want %v", f, ok, want)
		}
	}
	if _, ok := float32View(raw[:8], 3); ok {
		t.Fatal("a short buffer was viewed")
	}
}

// TestFusedAddRelu: Add -> Relu is fused when both operands are dynamic,
// runs as one op when they have one shape and as the two nodes when they
// broadcast, with the node-by-node import's logits and input gradients;
// torchvision's ResNet fixture fuses its residual connections.
func TestFusedAddRelu(t *testing.T) {
	b := newMB(13, 0, 3, 4, 4).
		node("GlobalAveragePool", "m", []string{"x"}, []string{"m"}).
		node("Add", "s1", []string{"x", "m"}, []string{"s1"}). // broadcast
		node("Relu", "r1", []string{"s1"}, []string{"r1"}).
		node("Add", "s2", []string{"r1", "x"}, []string{"s2"}). // one shape
		node("Relu", "r2", []string{"s2"}, []string{"r2"}).
		node("GlobalAveragePool", "g", []string{"r2"}, []string{"g"}).
		node("Flatten", "f", []string{"g"}, []string{"y"})
	m, err := Decode(b.bytes(t))
	if err != nil {
		t.Fatal(err)
	}
	fused, err := ImportWith(m, Meta{}, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := ImportWith(m, Meta{}, ImportOptions{NoFuse: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := fused.FusionSummary(); got != "2 Add+Relu" {
		t.Fatalf("fused: %s", got)
	}
	x := randImages(3, tensor.Float64, 2, 3, 4, 4)
	for i := 0; i < x.Size(); i++ {
		x.SetFlat(i, 2*x.AtFlat(i)-1) // half the ReLUs off
	}
	run := func(g *Graph) (y, gx *tensor.Tensor) {
		xv := autograd.Param(x)
		out, _, err := g.Run(xv)
		if err != nil {
			t.Fatal(err)
		}
		grads, err := autograd.Grad([]*autograd.Var{autograd.SumAll(autograd.Mul(out, out))}, nil, []*autograd.Var{xv}, false)
		if err != nil {
			t.Fatal(err)
		}
		return out.Value(), grads[0].Value()
	}
	y1, g1 := run(fused)
	y2, g2 := run(plain)
	if e := maxRelDiff(y1, y2); e != 0 {
		t.Errorf("logits differ by %.3g", e)
	}
	if e := maxRelDiff(g1, g2); !(e <= 1e-15) {
		t.Errorf("input gradients differ by %.3g", e)
	}
	rn, _ := importBoth(t, "testdata/resnet.onnx")
	if !strings.Contains(rn.FusionSummary(), "Add+Relu") {
		t.Errorf("ResNet fixture: %s", rn.FusionSummary())
	}
}
