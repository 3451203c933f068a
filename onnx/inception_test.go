package onnx

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/attention"
	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/checkpoint"
	"github.com/arp-robustness/arp/tensor"
)

// hashImage is the input of scripts/fixtures/inception_v3.py: value i is
// float32(((i+offset) * 2654435761 mod 2^32) / 2^32).
func hashImage(n, offset int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(float64(uint32(uint64(i+offset)*2654435761)) / (1 << 32))
	}
	return v
}

// TestInceptionV3 checks arp's import of torchvision's inception_v3
// (reduced to 1/16 of its width; scripts/fixtures/inception_v3.py) against
// PyTorch's float64 reference: logits, input gradients, the four Grad-CAM
// variants at Mixed_7c and one PGD step.
func TestInceptionV3(t *testing.T) {
	if testing.Short() {
		t.Skip("Inception v3 at 299x299 in float64 takes a few seconds")
	}
	g, err := Load("testdata/inception_v3.onnx")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ReadFile("testdata/inception_v3.onnx")
	if err != nil {
		t.Fatal(err)
	}
	mt, err := ReadMeta("testdata/inception_v3.onnx", m)
	if err != nil {
		t.Fatal(err)
	}
	nodeByNode, err := ImportWith(m, mt, ImportOptions{NoFuse: true})
	if err != nil {
		t.Fatal(err)
	}
	const n, k = 2, 1001
	in := g.InputShape()
	if in[0] != 3 || in[1] != 299 || in[2] != 299 || g.NumClasses() != k || g.Meta().AttentionLayer != "Mixed_7c" ||
		g.Meta().ClassNames[0] != "background" || g.Meta().ClassNames[279] != "kit fox" {
		t.Fatalf("input %v, %d classes, layer %q", in, g.NumClasses(), g.Meta().AttentionLayer)
	}
	f, err := checkpoint.Read("testdata/inception_v3.ref.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	get := func(name string, shape ...int) []float64 {
		v, err := f.Float64(name, shape)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	total := n * 3 * 299 * 299
	x := tensor.FromFloat32(hashImage(total, 0), n, 3, 299, 299)
	lab, err := f.Int64("labels", []int{n})
	if err != nil {
		t.Fatal(err)
	}
	labels := []int{int(lab[0]), int(lab[1])}
	idx, err := f.Int64("gradidx", []int{4096})
	if err != nil {
		t.Fatal(err)
	}
	u := hashImage(total, 1)
	meta := func(key string) float64 {
		v, err := strconv.ParseFloat(f.Metadata[key], 64)
		if err != nil {
			t.Fatalf("metadata %s: %v", key, err)
		}
		return v
	}
	eps, alpha := meta("pgd_eps"), meta("pgd_alpha")
	// PyTorch's own float32 run is f32_grad (3.4e-3) from its float64
	// reference in the input gradient and moves f32_pgd_pixels (43) of the
	// sampled pixels differently in the PGD step. arp's float32 run is much
	// closer (measured: logits 1.1e-6, gradient 6.5e-7, maps <= 4.7e-6,
	// logits after the step 4.8e-7); the tolerances leave a margin of 10 to
	// 20 over those. The pixels a float32 PGD step moves differently are
	// ones whose float64 gradient is exactly zero (6% of them: inputs whose
	// paths all end in inactive ReLUs), so they change no logit.
	f32Pixels := meta("f32_pgd_pixels")

	// Imported node by node, arp's float32 run measures its operators
	// against PyTorch's. Fused (the default: batch norms folded into the
	// convolutions, convolution+ReLU(+max-pool) as one op, pads merged into
	// the average pools), the float64 run shows the fused graph is the
	// same function up to rounding. The fused float32 run differs from the
	// node-by-node one by rounding (the folded weights are rounded once to
	// float32), and that is enough to flip one max-pool window of
	// maxpool2 whose two largest values are 4.5e-7 apart (0.6479977 and
	// 0.6479973 in float64): the gradient then flows through the other
	// position, which changes the input gradient of 0.14% of the pixels
	// by more than 1e-3 of its largest value (PyTorch's own float32 run
	// is 3.4e-3 from its float64 reference for the same reason). So the
	// fused float32 gradient is checked position by position on 99% of
	// the sampled pixels, and in its L1 norm and PGD step against
	// PyTorch's own float32 deviations.
	for _, tc := range []struct {
		name               string
		g                  *Graph
		dt                 tensor.DType
		logits, grad, maps float64
		nearTies           bool // float32 rounding may flip max-pool near-ties
	}{
		{"float32", nodeByNode, tensor.Float32, 2e-5, 1e-5, 1e-4, false},
		{"float64", g, tensor.Float64, 1e-12, 1e-12, 1e-12, false},
		{"float32-fused", g, tensor.Float32, 2e-5, 1e-5, 1e-4, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.g
			xv := autograd.Param(x.AsType(tc.dt))
			y, _, err := g.Run(xv)
			if err != nil {
				t.Fatal(err)
			}
			e := relErr(y.Value(), get("logits", n, k))
			check(t, "logits", e, tc.logits)
			gx, err := autograd.Grad([]*autograd.Var{autograd.SumAll(autograd.PickClass(y, labels))}, nil, []*autograd.Var{xv}, false)
			if err != nil {
				t.Fatal(err)
			}
			gv := gx[0].Value()
			want := get("inputgrad", 4096)
			var m, l1, dot float64
			for j := range idx {
				m = math.Max(m, math.Abs(want[j]))
			}
			errs := make([]float64, len(idx))
			for j, i := range idx {
				errs[j] = math.Abs(gv.AtFlat(int(i))-want[j]) / m
			}
			for i := 0; i < total; i++ {
				v := gv.AtFlat(i)
				l1 += math.Abs(v)
				dot += v * float64(u[i])
			}
			refL1 := get("inputgrad.l1", 1)[0]
			l1Tol := tc.grad
			if tc.nearTies {
				slices.Sort(errs)
				check(t, "input gradient (99% of 4096 positions)", errs[len(errs)*99/100], tc.grad)
				t.Logf("input gradient: largest relative error %.3g (max-pool near-ties)", errs[len(errs)-1])
				l1Tol = meta("f32_grad")
			} else {
				check(t, "input gradient (4096 positions)", slices.Max(errs), tc.grad)
			}
			check(t, "input gradient L1 norm", math.Abs(l1/refL1-1), l1Tol)
			check(t, "input gradient . u (error / L1 norm)", math.Abs(dot-get("inputgrad.dot", 1)[0])/refL1, tc.grad)

			for _, mc := range []struct {
				ref, method string
				batchWide   bool
			}{{"gradcam-arp", "gradcam-arp", false}, {"gradcam-arp-batch", "gradcam-arp", true}, {"gradcam", "gradcam", false}, {"gradcam++", "gradcam++", false}} {
				method, err := attention.MethodByName(mc.method, mc.batchWide)
				if err != nil {
					t.Fatal(err)
				}
				res, err := attention.Compute(g, autograd.Const(x.AsType(tc.dt)), labels, attention.Options{Layer: "Mixed_7c", Method: method})
				if err != nil {
					t.Fatal(err)
				}
				if s := res.Map.Shape(); s[2] != 8 || s[3] != 8 {
					t.Fatalf("map shape %v", s)
				}
				check(t, mc.ref+" at Mixed_7c", relErr(res.Map.Value(), get(mc.ref, n, 8, 8)), tc.maps)
			}
			if tc.dt != tensor.Float32 {
				return // attacks run in float32
			}
			pgd := &attack.PGD{Base: attack.Base{Eps: eps}, Steps: 1, Alpha: alpha, NoRandomStart: true, FinalIterate: true}
			adv, err := pgd.Perturb(context.Background(), g, x, labels)
			if err != nil {
				t.Fatal(err)
			}
			wantX := get("pgd.x", 4096)
			diff := 0
			for j, i := range idx {
				if float32(adv.AtFlat(int(i))) != float32(wantX[j]) {
					diff++
				}
			}
			// A step differs only where the gradient's sign differs, i.e.
			// where it is within rounding of zero.
			if float64(diff) > 3*f32Pixels {
				t.Errorf("PGD step: %d of 4096 sampled pixels differ from the float64 reference (PyTorch float32: %g)", diff, f32Pixels)
			} else {
				t.Logf("PGD step: %d of 4096 sampled pixels differ from the float64 reference (PyTorch float32: %g)", diff, f32Pixels)
			}
			ya, _, err := g.Run(autograd.Const(adv))
			if err != nil {
				t.Fatal(err)
			}
			tol := 1e-5
			if tc.nearTies {
				tol = meta("f32_pgd_logits")
			}
			check(t, "logits after one PGD step", relErr(ya.Value(), get("pgd.logits", n, k)), tol)
		})
	}
}

func check(t *testing.T, what string, e, tol float64) {
	t.Helper()
	if e > tol || math.IsNaN(e) {
		t.Errorf("%s: relative error %.3g > %g", what, e, tol)
	} else {
		t.Logf("%s: relative error %.2g", what, e)
	}
}

// TestBackgroundClasses: background_classes 1 drops TF-slim's background
// logit, so logit k is ImageNet label k.
func TestBackgroundClasses(t *testing.T) {
	m, err := ReadFile("testdata/inception_v3.onnx")
	if err != nil {
		t.Fatal(err)
	}
	meta, err := ReadMeta("testdata/inception_v3.onnx", m)
	if err != nil {
		t.Fatal(err)
	}
	meta.BackgroundClasses = 1
	g, err := Import(m, meta)
	if err != nil {
		t.Fatal(err)
	}
	if g.NumClasses() != 1000 || g.Meta().ClassNames[0] != "tench" || g.Meta().ClassNames[278] != "kit fox" {
		t.Fatalf("%d classes, names %q ...", g.NumClasses(), g.Meta().ClassNames[:2])
	}
	full, err := Load("testdata/inception_v3.onnx")
	if err != nil {
		t.Fatal(err)
	}
	x := autograd.Const(tensor.FromFloat32(hashImage(3*299*299, 0), 1, 3, 299, 299))
	y, _, err := g.Run(x)
	if err != nil {
		t.Fatal(err)
	}
	yf, _, err := full.Run(x)
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 1000; k++ {
		if y.Value().AtFlat(k) != yf.Value().AtFlat(k+1) {
			t.Fatalf("logit %d = %g, want the full graph's logit %d = %g", k, y.Value().AtFlat(k), k+1, yf.Value().AtFlat(k+1))
		}
	}
	for _, bad := range []struct {
		bg   int
		want string
	}{{-1, "background_classes -1: must be 0 or more"}, {1001, "background_classes 1001 leaves no class of the 1001 logits"}} {
		meta.BackgroundClasses = bad.bg
		if _, err := Import(m, meta); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("background_classes %d: error %v, want %q", bad.bg, err, bad.want)
		}
	}
}

// TestInceptionV3Planted: the fixture comparison catches a wrong input
// mapping (range [0,1] instead of [-1,1]), so its agreement means something.
func TestInceptionV3Planted(t *testing.T) {
	m, err := ReadFile("testdata/inception_v3.onnx")
	if err != nil {
		t.Fatal(err)
	}
	meta, err := ReadMeta("testdata/inception_v3.onnx", m)
	if err != nil {
		t.Fatal(err)
	}
	meta.Range = []float64{0, 1}
	g, err := Import(m, meta)
	if err != nil {
		t.Fatal(err)
	}
	f, err := checkpoint.Read("testdata/inception_v3.ref.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	want, err := f.Float64("logits", []int{2, 1001})
	if err != nil {
		t.Fatal(err)
	}
	y, _, err := g.Run(autograd.Const(tensor.FromFloat32(hashImage(2*3*299*299, 0), 2, 3, 299, 299)))
	if err != nil {
		t.Fatal(err)
	}
	if e := relErr(y.Value(), want); e < 1e-2 {
		t.Fatalf("a wrong input range still matches the reference (relative error %.3g)", e)
	}
}
