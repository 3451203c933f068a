package onnx

import (
	"fmt"
	"math"
	"testing"

	"github.com/arp-robustness/arp/attention"
	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/checkpoint"
	"github.com/arp-robustness/arp/tensor"
)

// The fixtures of scripts/fixtures/onnx_models.py: three classifiers
// exported by torch.onnx.export (opsets 11, 13, 17) with PyTorch's float64
// logits, input gradients and Grad-CAM maps.
var torchModels = []struct {
	name    string
	opset   int64
	batch   int // static batch size of the export (0: dynamic)
	classes int
}{
	{"cnn", 11, 0, 5},
	{"resnet", 13, 0, 6},
	{"inception", 17, 1, 4},
	{"zoo11", 11, 0, 5}, // many operators, no Grad-CAM layer
	{"zoo13", 13, 0, 5},
	{"zoo17", 17, 1, 5},
}

type torchRef struct {
	f      *checkpoint.File
	x      *tensor.Tensor
	labels []int
	layer  string
}

func readRef(t *testing.T, name string, shape []int) *torchRef {
	t.Helper()
	f, err := checkpoint.Read("testdata/" + name + ".ref.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	x, err := f.Float32("input", shape)
	if err != nil {
		t.Fatal(err)
	}
	l, err := f.Int64("labels", []int{shape[0]})
	if err != nil {
		t.Fatal(err)
	}
	r := &torchRef{f: f, x: tensor.FromFloat32(x, shape...), layer: f.Metadata["layer"]}
	for _, v := range l {
		r.labels = append(r.labels, int(v))
	}
	return r
}

// relErr is max|got-want| / max|want|.
func relErr(got *tensor.Tensor, want []float64) float64 {
	var d, m float64
	for i, w := range want {
		d = math.Max(d, math.Abs(got.AtFlat(i)-w))
		m = math.Max(m, math.Abs(w))
	}
	if m == 0 {
		return d
	}
	return d / m
}

func TestTorchFixtures(t *testing.T) {
	for _, tm := range torchModels {
		t.Run(tm.name, func(t *testing.T) {
			g, err := Load("testdata/" + tm.name + ".onnx")
			if err != nil {
				t.Fatal(err)
			}
			if g.Model().Opset != tm.opset || g.BatchSize() != tm.batch || g.NumClasses() != tm.classes {
				t.Fatalf("opset %d, batch %d, %d classes; want %d, %d, %d", g.Model().Opset, g.BatchSize(), g.NumClasses(), tm.opset, tm.batch, tm.classes)
			}
			in := g.InputShape()
			shape := append([]int{4}, in...)
			ref := readRef(t, tm.name, shape)
			if ref.layer != "" && ref.layer != g.Meta().AttentionLayer {
				t.Fatalf("attention layer %q, fixture layer %q", g.Meta().AttentionLayer, ref.layer)
			}
			logits, err := ref.f.Float64("logits", []int{4, tm.classes})
			if err != nil {
				t.Fatal(err)
			}
			grad, err := ref.f.Float64("inputgrad", shape)
			if err != nil {
				t.Fatal(err)
			}
			// In float64 the logits and gradients agree to rounding, except
			// where ONNX stores a constant as float32 that PyTorch used in
			// float64 (zoo: HardSigmoid's alpha 1/6). The maps agree less
			// closely, as S = sum_k w_k A_k cancels (cnn sample 2: max S is
			// small), which amplifies rounding differences.
			tol64 := 1e-9
			if tm.name[:3] == "zoo" {
				tol64 = 1e-7
			}
			for _, tc := range []struct {
				dt           tensor.DType
				tol, mapsTol float64
			}{{tensor.Float32, 1e-4, 1e-4}, {tensor.Float64, tol64, 1e-7}} {
				x := autograd.Param(ref.x.AsType(tc.dt))
				y, _, err := g.Run(x)
				if err != nil {
					t.Fatal(err)
				}
				e1 := relErr(y.Value(), logits)
				if e1 > tc.tol || math.IsNaN(e1) {
					t.Errorf("%v logits: relative error %.3g > %g", tc.dt, e1, tc.tol)
				}
				gx, err := autograd.Grad([]*autograd.Var{autograd.SumAll(autograd.PickClass(y, ref.labels))}, nil, []*autograd.Var{x}, false)
				if err != nil {
					t.Fatal(err)
				}
				e2 := relErr(gx[0].Value(), grad)
				if e2 > tc.tol || math.IsNaN(e2) {
					t.Errorf("%v input gradient: relative error %.3g > %g", tc.dt, e2, tc.tol)
				}
				if ref.layer == "" {
					t.Logf("%v: relative errors: logits %.2g, input gradient %.2g", tc.dt, e1, e2)
					continue
				}
				method, err := attention.MethodByName("gradcam", false)
				if err != nil {
					t.Fatal(err)
				}
				res, err := attention.Compute(g, autograd.Const(ref.x.AsType(tc.dt)), ref.labels, attention.Options{Layer: ref.layer, Method: method})
				if err != nil {
					t.Fatal(err)
				}
				ms := res.Map.Shape()
				want, err := ref.f.Float64("gradcam", []int{4, ms[2], ms[3]})
				if err != nil {
					t.Fatal(err)
				}
				e3 := relErr(res.Map.Value(), want)
				if e3 > tc.mapsTol || math.IsNaN(e3) {
					t.Errorf("%v Grad-CAM at %s: relative error %.3g > %g", tc.dt, ref.layer, e3, tc.mapsTol)
				}
				t.Logf("%v: relative errors: logits %.2g, input gradient %.2g, Grad-CAM %.2g", tc.dt, e1, e2, e3)
			}
		})
	}
}

// The fixtures' Grad-CAM layers are reachable by every kind of name:
// output value, node name and module scope.
func TestLayerAliases(t *testing.T) {
	g, err := Load("testdata/resnet.onnx")
	if err != nil {
		t.Fatal(err)
	}
	x := autograd.Const(tensor.Full(tensor.Float32, 0.3, 2, 3, 12, 12))
	names := []string{"layer2", "layer2/layer2.0", "/layer2/layer2.0/Relu_1", "/layer2/layer2.0/Relu_1_output_0"}
	_, acts, err := g.Run(x, names...)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names[1:] {
		if acts[n] != acts[names[0]] {
			t.Errorf("tap %q is not the same value as %q", n, names[0])
		}
	}
	if s := acts["layer2"].Shape(); fmt.Sprint(s) != "[2 16 6 6]" {
		t.Errorf("layer2 shape %v", s)
	}
	if s, ok := g.LayerShape("layer2/layer2.0/bn1"); !ok || fmt.Sprint(s) != "[1 16 6 6]" {
		t.Errorf("LayerShape(bn1) = %v, %v", s, ok)
	}
	if _, _, err := g.Run(x, "nope"); err == nil {
		t.Error("unknown tap accepted")
	}
}
