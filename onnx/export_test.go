package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/checkpoint"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/onnx/pb"
	"github.com/arp-robustness/arp/tensor"
	"google.golang.org/protobuf/proto"
)

// exportCases are small instances of every architecture.
var exportCases = []struct {
	arch    string
	c, h, w int
	k       int
	mean    []float64
	std     []float64
}{
	{"cifarnet", 3, 12, 10, 10, []float64{0.5}, []float64{0.5}},
	{"cifarnet-tf", 3, 9, 9, 10, []float64{0.4914, 0.4822, 0.4465}, []float64{0.247, 0.243, 0.261}},
	{"mnist-cnn", 1, 8, 8, 10, []float64{0.5}, []float64{0.5}},
	{"mnist-small", 1, 11, 11, 3, []float64{0.1307}, []float64{0.3081}},
	{"resnet20", 3, 10, 10, 7, []float64{0.5}, []float64{0.5}},
}

// buildCase builds a seeded model with batch-norm statistics away from the
// identity.
func buildCase(t *testing.T, i int) *nn.Model {
	t.Helper()
	tc := exportCases[i]
	spec, err := nn.DefaultSpec(tc.arch, tc.c, tc.h, tc.w, tc.k)
	if err != nil {
		t.Fatal(err)
	}
	spec.InputMean, spec.InputStd = tc.mean, tc.std
	m, err := nn.Build(spec, uint64(10+i))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(i), 7))
	st := m.State()
	for _, p := range m.Params() {
		v := st[p.Name]
		for j := 0; j < v.Size(); j++ {
			switch {
			case filepath.Ext(p.Name) == ".running_var":
				v.SetFlat(j, 0.5+rng.Float64())
			case filepath.Ext(p.Name) == ".running_mean" || filepath.Ext(p.Name) == ".bias":
				v.SetFlat(j, 0.2*rng.NormFloat64())
			}
		}
	}
	if err := m.LoadState(st); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRoundTrip(t *testing.T) {
	for i, tc := range exportCases {
		t.Run(tc.arch, func(t *testing.T) {
			m := buildCase(t, i)
			b, meta, err := Export(m, ExportOptions{Opset: 11 + 2*(i%4)})
			if err != nil {
				t.Fatal(err)
			}
			dm, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			meta2, err := ReadMeta("no/such/file.onnx", dm)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(meta2.InputSize, meta.InputSize) || meta2.AttentionLayer != m.Spec.Attention {
				t.Fatalf("metadata from the file %+v, want %+v", meta2, meta)
			}
			for _, fuse := range []bool{false, true} {
				g, err := ImportWith(dm, meta2, ImportOptions{NoFuse: !fuse})
				if err != nil {
					t.Fatal(err)
				}
				roundTrip(t, m, g, i, fuse)
				t.Logf("opset %d, %d bytes", dm.Opset, len(b))
			}
		})
	}
}

// roundTrip compares the import g of model m (export case i) with m.
func roundTrip(t *testing.T, m *nn.Model, g *Graph, i int, fused bool) {
	tc := exportCases[i]
	if !slices.Equal(g.InputShape(), m.InputShape()) || g.NumClasses() != m.NumClasses() || g.Meta().AttentionLayer != m.Spec.Attention {
		t.Fatalf("imported %v, %d classes, attention %q", g.InputShape(), g.NumClasses(), g.Meta().AttentionLayer)
	}
	for _, name := range m.LayerNames() {
		if nn.CheckLayer(g, name) != nil {
			t.Fatalf("layer %q missing from the import: %v", name, g.LayerNames())
		}
	}
	rng := rand.New(rand.NewPCG(3, uint64(i)))
	n := 3
	xs := make([]float32, n*tc.c*tc.h*tc.w)
	for j := range xs {
		xs[j] = rng.Float32()
	}
	x1 := autograd.Param(tensor.FromFloat32(xs, n, tc.c, tc.h, tc.w))
	x2 := autograd.Param(tensor.FromFloat32(slices.Clone(xs), n, tc.c, tc.h, tc.w))
	y1, a1 := m.Forward(x1, nn.Eval, m.LayerNames()...)
	y2, a2 := g.Forward(x2, nn.Eval, m.LayerNames()...)
	worst, identical := 0.0, true
	// Imported node by node, the graph runs the same engine ops as nn
	// (fused Conv2dBias and Linear, BatchNorm, LRN with alpha read back as
	// the decimal the export wrote), so the forward pass is bit-identical;
	// so are the gradients today, which are allowed to differ by 1e-6 in
	// case the engine's backward passes change. Fused, the batch
	// normalisations are folded into the convolutions' weights (rounded
	// once to float32): every value agrees to float32 rounding.
	check := func(what string, a, b *tensor.Tensor) {
		if !slices.Equal(a.Shape(), b.Shape()) {
			t.Fatalf("%s: shape %v, import %v", what, a.Shape(), b.Shape())
		}
		d, s := 0.0, 0.0
		for j := 0; j < a.Size(); j++ {
			d = math.Max(d, math.Abs(a.AtFlat(j)-b.AtFlat(j)))
			s = math.Max(s, math.Abs(a.AtFlat(j)))
		}
		if d != 0 {
			identical = false
		}
		if s > 0 {
			d /= s
		}
		worst = math.Max(worst, d)
		tol := 1e-6
		if fused {
			tol = 3e-6
		}
		if d > tol || (d != 0 && what != "input gradient" && !fused) {
			t.Errorf("fused %v: %s: relative difference %.3g", fused, what, d)
		}
	}
	check("logits", y1.Value(), y2.Value())
	// Tapping every layer runs the chains holding one node by node; the
	// logits alone run them fused.
	y3, _ := g.Forward(autograd.Const(x2.Value()), nn.Eval)
	check("logits (no taps)", y1.Value(), y3.Value())
	for _, name := range m.LayerNames() {
		check(name, a1[name].Value(), a2[name].Value())
	}
	labels := []int{0, 1, 2}
	g1 := autograd.MustGrad(autograd.SumAll(autograd.PickClass(y1, labels)), []*autograd.Var{x1}, false)
	g2 := autograd.MustGrad(autograd.SumAll(autograd.PickClass(y2, labels)), []*autograd.Var{x2}, false)
	check("input gradient", g1[0].Value(), g2[0].Value())
	t.Logf("fused %v, %d chains fused: largest relative difference %.2g (identical: %v)", fused, len(g.Fusions()), worst, identical)
}

func TestExportErrors(t *testing.T) {
	m := buildCase(t, 3)
	for _, opt := range []ExportOptions{{Opset: 10}, {Opset: 18}, {ClassNames: []string{"a"}}} {
		if _, _, err := Export(m, opt); err == nil {
			t.Errorf("Export(%+v) succeeded", opt)
		}
	}
}

// TestNonFiniteWeights: a NaN or infinite weight is refused, naming the
// tensor, by Export and (in a file made elsewhere) by Decode, so no
// evaluation runs on it.
func TestNonFiniteWeights(t *testing.T) {
	m := buildCase(t, 3)
	good, _, err := Export(m, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		p := m.Params()[0]
		w := p.Var.Value().F32()
		old := w[1]
		w[1] = bad
		_, _, err := Export(m, ExportOptions{})
		w[1] = old
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("tensor %q holds %v at element 1", p.Name, bad)) {
			t.Errorf("Export with %v in %s: %v", bad, p.Name, err)
		}
		// the same in a file: an initialiser's raw data patched
		var mp pb.ModelProto
		if err := proto.Unmarshal(good, &mp); err != nil {
			t.Fatal(err)
		}
		var init *pb.TensorProto
		for _, in := range mp.Graph.Initializer {
			if in.GetDataType() == typeFloat && len(in.GetRawData())+len(in.GetFloatData()) >= 12 {
				init = in
				break
			}
		}
		raw := init.GetRawData()
		if raw == nil {
			init.FloatData[2] = bad
		} else {
			binary.LittleEndian.PutUint32(raw[8:], math.Float32bits(bad))
		}
		b, err := proto.Marshal(&mp)
		if err != nil {
			t.Fatal(err)
		}
		if err := decodeImport(b); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("initialiser %q holds %v at element 2", init.GetName(), bad)) {
			t.Errorf("a file with %v in %s: %v", bad, init.GetName(), err)
		}
	}
}

// TestWriteExports writes every architecture's export with arp's logits for
// scripts/fixtures/onnx_models.py --check-export (only when
// ARP_ONNX_EXPORT_DIR is set).
func TestWriteExports(t *testing.T) {
	dir := os.Getenv("ARP_ONNX_EXPORT_DIR")
	if dir == "" {
		t.Skip("ARP_ONNX_EXPORT_DIR not set")
	}
	for i, tc := range exportCases {
		for _, opset := range []int{11, 13, 17} {
			m := buildCase(t, i)
			name := filepath.Join(dir, tc.arch+"-opset"+string(rune('0'+opset/10))+string(rune('0'+opset%10)))
			if err := ExportFile(name+".onnx", m, ExportOptions{Opset: opset}); err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(5, uint64(i)))
			xs := make([]float32, 2*tc.c*tc.h*tc.w)
			for j := range xs {
				xs[j] = rng.Float32()
			}
			y := m.Logits(autograd.Const(tensor.FromFloat32(xs, 2, tc.c, tc.h, tc.w)))
			f := checkpoint.New(name + ".ref.safetensors")
			if err := f.PutFloat32("input", []int{2, tc.c, tc.h, tc.w}, xs); err != nil {
				t.Fatal(err)
			}
			if err := f.PutFloat32("logits", y.Shape(), y.Value().Float32s()); err != nil {
				t.Fatal(err)
			}
			if err := f.Save(); err != nil {
				t.Fatal(err)
			}
		}
	}
}
