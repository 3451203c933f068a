package nn

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/rundir"
	"github.com/arp-robustness/arp/tensor"
)

func randImages(rng *rand.Rand, n, c, h, w int) *autograd.Var {
	t := tensor.Zeros(tensor.Float32, n, c, h, w)
	for i := 0; i < t.Size(); i++ {
		t.SetFlat(i, rng.Float64())
	}
	return autograd.Const(t)
}

func TestArchitectures(t *testing.T) {
	cases := []struct {
		arch     string
		c, h, w  int
		att      string
		attShape []int
	}{
		{"cifarnet", 3, 32, 32, "pool2", []int{2, 64, 8, 8}},
		{"cifarnet-tf", 3, 32, 32, "pool2", []int{2, 64, 8, 8}},
		{"mnist-cnn", 1, 28, 28, "pool2", []int{2, 64, 7, 7}},
		{"mnist-small", 1, 28, 28, "pool2", []int{2, 32, 7, 7}},
		{"resnet20", 1, 28, 28, "layer3", []int{2, 64, 7, 7}},
	}
	for _, c := range cases {
		t.Run(c.arch, func(t *testing.T) {
			spec, err := DefaultSpec(c.arch, c.c, c.h, c.w, 10)
			if err != nil {
				t.Fatal(err)
			}
			if spec.Attention != c.att {
				t.Fatalf("attention layer %q, want %q", spec.Attention, c.att)
			}
			m, err := Build(spec, 1)
			if err != nil {
				t.Fatal(err)
			}
			x := randImages(rand.New(rand.NewPCG(1, 2)), 2, c.c, c.h, c.w)
			logits, acts := m.Forward(x, Mode{Train: true, Rng: rand.New(rand.NewPCG(3, 4))}, c.att)
			if !tensor.SameShape(logits.Shape(), []int{2, 10}) {
				t.Fatalf("logits %v", logits.Shape())
			}
			if !tensor.SameShape(acts[c.att].Shape(), c.attShape) {
				t.Fatalf("%s shape %v, want %v", c.att, acts[c.att].Shape(), c.attShape)
			}
			params, _ := m.Trainable()
			loss := autograd.CrossEntropy(logits, []int{1, 2}, 0)
			grads := autograd.MustGrad(loss, params, false)
			nonzero := 0
			for _, g := range grads {
				if g.Value().Sum() != 0 || tensor.MaxAbsDiff(g.Value(), tensor.ZerosLike(g.Value())) > 0 {
					nonzero++
				}
			}
			if nonzero < len(grads)-1 {
				t.Fatalf("only %d of %d parameters got a gradient", nonzero, len(grads))
			}
		})
	}
}

func TestCifarNetMatchesMethodDoc(t *testing.T) {
	spec, _ := DefaultSpec("cifarnet", 3, 32, 32, 10)
	m, _ := Build(spec, 1)
	want := "input conv1 relu1 pool1 norm1 conv2 relu2 norm2 pool2 flatten fc3 relu3 dropout3 fc4 relu4 logits"
	if got := strings.Join(m.LayerNames(), " "); got != want {
		t.Fatalf("layers %q\nwant %q", got, want)
	}
	shapes := map[string][]int{"conv1.weight": {64, 3, 5, 5}, "conv2.weight": {64, 64, 5, 5}, "fc3.weight": {384, 4096}, "fc4.weight": {192, 384}, "logits.weight": {10, 192}}
	for _, p := range m.Params() {
		if s, ok := shapes[p.Name]; ok && !tensor.SameShape(s, p.Var.Shape()) {
			t.Fatalf("%s shape %v want %v", p.Name, p.Var.Shape(), s)
		}
		if (p.Name == "fc3.weight" || p.Name == "fc4.weight") != (p.WeightDecay == 0.004) {
			t.Fatalf("%s weight decay %g", p.Name, p.WeightDecay)
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	spec, _ := DefaultSpec("resnet20", 1, 12, 12, 3)
	m, _ := Build(spec, 7)
	// change batch-norm statistics so buffers matter
	x := randImages(rand.New(rand.NewPCG(5, 6)), 4, 1, 12, 12)
	m.Forward(x, Mode{Train: true, Rng: rand.New(rand.NewPCG(1, 1))})
	if err := SaveRun(dir, m, Info{ClassNames: []string{"a", "b", "c"}, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	m2, info, err := LoadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.ClassNames[2] != "c" {
		t.Fatalf("info %+v", info)
	}
	if d := tensor.MaxAbsDiff(m.Logits(x).Value(), m2.Logits(x).Value()); d != 0 {
		t.Fatalf("reloaded model differs by %g", d)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	spec, _ := DefaultSpec("mnist-small", 1, 28, 28, 10)
	m, _ := Build(spec, 1)
	if err := SaveRun(dir, m, Info{}); err != nil {
		t.Fatal(err)
	}
	other, _ := DefaultSpec("mnist-cnn", 1, 28, 28, 10)
	m2, _ := Build(other, 1)
	err := LoadWeights(filepath.Join(dir, rundir.Weights), m2)
	if err == nil || !strings.Contains(err.Error(), "shape") {
		t.Fatalf("loading another architecture: %v", err)
	}
	if _, _, err := LoadRun(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not an arp run directory") {
		t.Fatalf("empty dir: %v", err)
	}
	os.WriteFile(filepath.Join(dir, rundir.Weights), []byte("garbage"), 0o644)
	if _, _, err := LoadRun(dir); err == nil || !strings.Contains(err.Error(), rundir.Weights) {
		t.Fatalf("corrupt weights: %v", err)
	}
	os.WriteFile(filepath.Join(dir, rundir.Info), []byte("{"), 0o644)
	if _, _, err := LoadRun(dir); err == nil || !strings.Contains(err.Error(), "invalid JSON") {
		t.Fatalf("corrupt json: %v", err)
	}
}

func TestCheckLayerListsValid(t *testing.T) {
	spec, _ := DefaultSpec("mnist-small", 1, 28, 28, 10)
	m, _ := Build(spec, 1)
	err := CheckLayer(m, "pool9")
	if err == nil || !strings.Contains(err.Error(), "pool2") {
		t.Fatalf("got %v", err)
	}
	if err := CheckInput(m, []int{1, 3, 28, 28}); err == nil {
		t.Fatal("wrong channels accepted")
	}
	if _, err := DefaultSpec("vgg", 1, 28, 28, 10); err == nil || !strings.Contains(err.Error(), "cifarnet") {
		t.Fatalf("unknown arch: %v", err)
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	spec, _ := DefaultSpec("mnist-small", 1, 28, 28, 10)
	a, _ := Build(spec, 42)
	b, _ := Build(spec, 42)
	c, _ := Build(spec, 43)
	pa, pb, pc := a.Params()[0].Var.Value(), b.Params()[0].Var.Value(), c.Params()[0].Var.Value()
	if tensor.MaxAbsDiff(pa, pb) != 0 || tensor.MaxAbsDiff(pa, pc) == 0 {
		t.Fatal("initialisation not determined by the seed")
	}
}

// Convolutions followed by a ReLU (and a max-pool) run fused unless an
// intermediate output is tapped; both ways must give the same logits and
// the same gradients with respect to the input and every parameter.
func TestFusedLayersMatchUnfused(t *testing.T) {
	for _, arch := range []string{"cifarnet", "cifarnet-tf", "mnist-small"} {
		in := []int{3, 12, 12}
		if strings.HasPrefix(arch, "mnist") {
			in = []int{1, 12, 12}
		}
		spec, err := DefaultSpec(arch, in[0], in[1], in[2], 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, lrn := range []bool{false, true} {
			if lrn && !strings.HasPrefix(arch, "cifarnet") {
				continue
			}
			spec.LRN = lrn
			m, err := Build(spec, 3)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(4, 4))
			x := tensor.Zeros(tensor.Float32, 3, in[0], in[1], in[2])
			for i := 0; i < x.Size(); i++ {
				x.SetFlat(i, rng.Float64())
			}
			run := func(taps ...string) (*tensor.Tensor, []*tensor.Tensor) {
				xv := autograd.Param(x)
				logits, _ := m.Forward(xv, Eval, taps...)
				params, _ := m.Trainable()
				g := autograd.MustGrad(autograd.Sum(autograd.Square(logits), false), append([]*autograd.Var{xv}, params...), false)
				vals := make([]*tensor.Tensor, len(g))
				for i, v := range g {
					vals[i] = v.Value()
				}
				return logits.Value(), vals
			}
			l0, g0 := run(m.LayerNames()...) // every layer tapped: nothing fused
			l1, g1 := run()
			if d := tensor.MaxAbsDiff(l0, l1); d != 0 {
				t.Fatalf("%s lrn=%v: logits differ by %g", arch, lrn, d)
			}
			for i := range g0 {
				if d := tensor.MaxAbsDiff(g0[i], g1[i]); d > 1e-5*(1+tensor.MaxAbsDiff(g0[i], tensor.ZerosLike(g0[i]))) {
					t.Fatalf("%s lrn=%v: gradient %d differs by %g", arch, lrn, i, d)
				}
			}
		}
	}
}

// ForwardFrom continues a pass from a tapped layer's output: the logits and
// the gradients through the joined graph equal those of one Forward; and
// SameInModes holds exactly up to the first layer that uses the mode.
func TestForwardFromAndSameInModes(t *testing.T) {
	spec, err := DefaultSpec("cifarnet", 3, 12, 12, 10)
	if err != nil {
		t.Fatal(err)
	}
	spec.LRN = true
	m, err := Build(spec, 3)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	x := tensor.Zeros(tensor.Float32, 2, 3, 12, 12)
	for i := 0; i < x.Size(); i++ {
		x.SetFlat(i, rng.Float64())
	}
	params, _ := m.Trainable()
	grads := func(logits *autograd.Var, xv *autograd.Var) []*tensor.Tensor {
		g := autograd.MustGrad(autograd.Sum(autograd.Square(logits), false), append([]*autograd.Var{xv}, params...), false)
		out := make([]*tensor.Tensor, len(g))
		for i, v := range g {
			out[i] = v.Value()
		}
		return out
	}
	xv := autograd.Param(x)
	l0, _ := m.Forward(xv, Eval)
	g0 := grads(l0, xv)
	for _, from := range []string{"conv1", "pool1", "pool2", "fc3"} {
		xv := autograd.Param(x)
		_, acts := m.Forward(xv, Eval, from)
		l1, _ := m.ForwardFrom(acts[from], from, Eval)
		if d := tensor.MaxAbsDiff(l0.Value(), l1.Value()); d != 0 {
			t.Fatalf("from %s: logits differ by %g", from, d)
		}
		g1 := grads(l1, xv)
		for i := range g0 {
			if d := tensor.MaxAbsDiff(g0[i], g1[i]); d > 1e-5*(1+tensor.MaxAbsDiff(g0[i], tensor.ZerosLike(g0[i]))) {
				t.Fatalf("from %s: gradient %d differs by %g", from, i, d)
			}
		}
	}
	names := m.LayerNames()
	drop := slices.Index(names, "dropout3")
	if drop < 0 {
		t.Fatalf("no dropout3 in %v", names)
	}
	for i, n := range names {
		if got, want := m.SameInModes(n), i < drop; got != want {
			t.Errorf("SameInModes(%s) = %v, want %v", n, got, want)
		}
	}
	if m.SameInModes("nope") {
		t.Error("SameInModes of an unknown layer")
	}
	// batch norm uses the mode
	bn := &Model{layers: []Layer{NewBatchNorm2d("bn", 3), ReLU("r")}}
	if bn.SameInModes("r") {
		t.Error("batch norm taken as mode-free")
	}
	// a Func from NewFunc may use the mode
	f := &Model{layers: []Layer{NewFunc("f", func(x *autograd.Var, _ Mode) *autograd.Var { return x })}}
	if f.SameInModes("f") {
		t.Error("NewFunc layer taken as mode-free")
	}
}

// Inference without a graph (inside autograd.NoGrad, where pools keep no
// indices and intermediate activations are recycled) must give the
// graph-recording pass's logits and taps bit for bit, for every
// architecture, batches on both routes of the fused ops, with and
// without taps.
func TestNoGradForwardMatchesGraphBitForBit(t *testing.T) {
	for _, arch := range ArchNames() {
		in := []int{3, 32, 32}
		if strings.HasPrefix(arch, "mnist") {
			in = []int{1, 28, 28}
		}
		spec, err := DefaultSpec(arch, in[0], in[1], in[2], 10)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Build(spec, 5)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(6, 6))
		for _, n := range []int{1, 9} {
			x := randImages(rng, n, in[0], in[1], in[2])
			for _, taps := range [][]string{nil, {spec.Attention}} {
				want, wantTaps := m.Forward(x, Eval, taps...)
				if want.IsLeaf() {
					t.Fatalf("%s: the reference pass recorded no graph", arch)
				}
				x0 := x.Value().Clone()
				// two passes: the second reuses what the first recycled,
				// so a recycled output or tap would be overwritten
				var got, again *autograd.Var
				var gotTaps map[string]*autograd.Var
				autograd.NoGrad(func() { got, gotTaps = m.Forward(x, Eval, taps...) })
				autograd.NoGrad(func() { again, _ = m.Forward(x, Eval, taps...) })
				if !got.IsLeaf() {
					t.Fatalf("%s: NoGrad recorded a graph", arch)
				}
				if !sameBits(got.Value(), want.Value()) || !sameBits(again.Value(), want.Value()) {
					t.Fatalf("%s, %d images, taps %v: logits differ (max %g)", arch, n, taps, tensor.MaxAbsDiff(got.Value(), want.Value()))
				}
				for _, tp := range taps {
					if !sameBits(gotTaps[tp].Value(), wantTaps[tp].Value()) {
						t.Fatalf("%s, %d images: tap %s differs", arch, n, tp)
					}
				}
				if !sameBits(x.Value(), x0) {
					t.Fatalf("%s: the input changed", arch)
				}
			}
		}
	}
}

func sameBits(a, b *tensor.Tensor) bool {
	if !slices.Equal(a.Shape(), b.Shape()) || a.DType() != b.DType() {
		return false
	}
	for i := 0; i < a.Size(); i++ {
		if math.Float64bits(a.AtFlat(i)) != math.Float64bits(b.AtFlat(i)) {
			return false
		}
	}
	return true
}
