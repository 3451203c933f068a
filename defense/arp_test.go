package defense

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/attack"
	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/mask"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/optim"
	"github.com/arp-robustness/arp/tensor"
)

// tinyModel is mnist-small on 1x8x8 inputs with 3 classes and no dropout,
// so training-mode passes are deterministic.
func tinyModel(t *testing.T, seed uint64) *nn.Model {
	t.Helper()
	spec, err := nn.DefaultSpec("mnist-small", 1, 8, 8, 3)
	if err != nil {
		t.Fatal(err)
	}
	spec.Dropout = 0
	m, err := nn.Build(spec, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func randImages(n, c, h, w int, seed uint64) *tensor.Tensor {
	r := rand.New(rand.NewPCG(seed, 3))
	v := make([]float32, n*c*h*w)
	for i := range v {
		v[i] = float32(r.Float64())
	}
	return tensor.FromFloat32(v, n, c, h, w)
}

// directARP computes the ARP terms with plain loops from the model's
// logits, the attention layer's activations and the gradient of the true
// logits with respect to them: Grad-CAM ARP variant per method.md §2,
// upsampled with mask.ResizeBilinear (an implementation independent of the
// engine's), then L_c, L_p and L_r per §5.
func directARP(t *testing.T, m *nn.Model, x, xa *tensor.Tensor, y []int, fill float64) map[string]float64 {
	t.Helper()
	s := x.Shape()
	n, c, h, w := s[0], s[1], s[2], s[3]
	type pass struct {
		logits [][]float64
		maps   [][]float32 // upsampled, per image
	}
	run := func(img *tensor.Tensor, withMaps bool) pass {
		var p pass
		xv := autograd.Const(img)
		logits, acts := m.Forward(xv, nn.Mode{Train: true}, "pool2")
		k := logits.Shape()[1]
		lv := logits.Value()
		for i := 0; i < n; i++ {
			row := make([]float64, k)
			for j := range row {
				row[j] = lv.AtFlat(i*k + j)
			}
			p.logits = append(p.logits, row)
		}
		if !withMaps {
			return p
		}
		a := acts["pool2"]
		score := autograd.SumAll(autograd.PickClass(logits, y))
		g := autograd.MustGrad(score, []*autograd.Var{a}, false)[0].Value()
		as := a.Shape()
		kc, ah, aw := as[1], as[2], as[3]
		av := a.Value()
		for i := 0; i < n; i++ {
			ms := 0.0
			for j := 0; j < kc*ah*aw; j++ {
				v := g.AtFlat(i*kc*ah*aw + j)
				ms += v * v
			}
			norm := math.Sqrt(ms/float64(kc*ah*aw)) + 1e-5
			smap := make([]float64, ah*aw)
			for ch := 0; ch < kc; ch++ {
				wk := 0.0
				for p := 0; p < ah*aw; p++ {
					wk += g.AtFlat((i*kc+ch)*ah*aw+p) / norm
				}
				wk /= float64(ah * aw)
				for p := 0; p < ah*aw; p++ {
					smap[p] += wk * av.AtFlat((i*kc+ch)*ah*aw+p)
				}
			}
			mx := math.Inf(-1)
			for _, v := range smap {
				mx = math.Max(mx, v)
			}
			z := 0.0
			for _, v := range smap {
				z += math.Exp(v - mx)
			}
			coarse := make([]float32, ah*aw)
			for p, v := range smap {
				coarse[p] = float32(math.Exp(v-mx) / z)
			}
			p.maps = append(p.maps, mask.ResizeBilinear(coarse, ah, aw, h, w))
		}
		return p
	}
	ce := func(p pass) float64 {
		sum := 0.0
		for i, row := range p.logits {
			mx := math.Inf(-1)
			for _, v := range row {
				mx = math.Max(mx, v)
			}
			z := 0.0
			for _, v := range row {
				z += math.Exp(v - mx)
			}
			sum += -(row[y[i]] - mx - math.Log(z))
		}
		return sum / float64(n)
	}
	softmax := func(row []float64) []float64 {
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, v)
		}
		out := make([]float64, len(row))
		z := 0.0
		for j, v := range row {
			out[j] = math.Exp(v - mx)
			z += out[j]
		}
		for j := range out {
			out[j] /= z
		}
		return out
	}
	masked := func(img *tensor.Tensor, maps [][]float32) *tensor.Tensor {
		out := img.Clone()
		for i := 0; i < n; i++ {
			mean := 0.0
			for _, v := range maps[i] {
				mean += float64(v)
			}
			mean /= float64(h * w)
			for ch := 0; ch < c; ch++ {
				for p, v := range maps[i] {
					if float64(v) > mean {
						out.SetFlat((i*c+ch)*h*w+p, fill)
					}
				}
			}
		}
		return out
	}
	msd := func(a, b pass) float64 {
		sum, cnt := 0.0, 0
		for i := range a.logits {
			pa, pb := softmax(a.logits[i]), softmax(b.logits[i])
			for j := range pa {
				sum += (pa[j] - pb[j]) * (pa[j] - pb[j])
				cnt++
			}
		}
		return sum / float64(cnt)
	}
	px, pa := run(x, true), run(xa, true)
	lp := 0.0
	for i := range px.maps {
		for p := range px.maps[i] {
			d := float64(px.maps[i][p]) - float64(pa.maps[i][p])
			lp += d * d
		}
	}
	pxm, pam := run(masked(x, px.maps), false), run(masked(xa, pa.maps), false)
	terms := map[string]float64{"ce_clean": ce(px), "ce_adv": ce(pa), "l_p": lp, "l_r": -msd(px, pxm) - msd(pa, pam)}
	terms["l_c"] = terms["ce_clean"] + terms["ce_adv"]
	return terms
}

func TestARPLossMatchesDirectComputation(t *testing.T) {
	m := tinyModel(t, 7)
	x := randImages(4, 1, 8, 8, 1)
	y := []int{0, 1, 2, 1}
	xa, err := attack.NewStepLL(0.1).Perturb(context.Background(), m, x, y)
	if err != nil {
		t.Fatal(err)
	}
	for _, fill := range []float64{0.5, 0} {
		o := &ARP{A: 8, B: 4, C: 1, Attack: attack.Spec{Name: "step-ll", Config: attack.Config{Eps: 0.1}}, MaskFill: fill}
		l, err := o.Loss(m, x, xa, y, nn.Mode{Train: true})
		if err != nil {
			t.Fatal(err)
		}
		want := directARP(t, m, x, xa, y, fill)
		want["loss"] = 8*want["l_c"] + 4*want["l_r"] + 1*want["l_p"]
		for k, v := range want {
			got, ok := l.Terms[k]
			if !ok {
				t.Fatalf("term %s missing from %v", k, l.Terms)
			}
			if math.Abs(got-v) > 1e-4*math.Max(1, math.Abs(v)) {
				t.Errorf("fill %g: %s = %.8g, direct computation %.8g", fill, k, got, v)
			}
		}
		if l.Terms["l_p"] <= 0 || l.Terms["l_r"] >= 0 {
			t.Errorf("implausible terms %v (l_p must be > 0, l_r < 0)", l.Terms)
		}
		if math.Abs(l.Total.Item()-l.Terms["loss"]) > 1e-9 {
			t.Errorf("Total %g, terms say %g", l.Total.Item(), l.Terms["loss"])
		}
	}
}

// gradOf returns the gradient of o's loss with respect to m's trainable
// parameters, flattened.
func gradOf(t *testing.T, o *ARP, m *nn.Model, x, xa *tensor.Tensor, y []int) []float64 {
	t.Helper()
	l, err := o.Loss(m, x, xa, y, nn.Mode{Train: true})
	if err != nil {
		t.Fatal(err)
	}
	params, _ := m.Trainable()
	gs, err := autograd.Grad([]*autograd.Var{l.Total}, nil, params, false)
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	for _, g := range gs {
		out = append(out, g.Value().Float64s()...)
	}
	return out
}

func TestFirstOrderGradientDiffers(t *testing.T) {
	m := tinyModel(t, 11)
	x := randImages(3, 1, 8, 8, 2)
	y := []int{2, 0, 1}
	xa, err := attack.NewStepLL(0.1).Perturb(context.Background(), m, x, y)
	if err != nil {
		t.Fatal(err)
	}
	// L_p alone: smooth in the weights (no mask), so a finite difference
	// can arbitrate between the two gradients.
	full := &ARP{C: 1, Attack: attack.Spec{Name: "step-ll", Config: attack.Config{Eps: 0.1}}}
	first := &ARP{C: 1, Attack: attack.Spec{Name: "step-ll", Config: attack.Config{Eps: 0.1}}, FirstOrder: true}
	gf, g1 := gradOf(t, full, m, x, xa, y), gradOf(t, first, m, x, xa, y)
	diff, norm := 0.0, 0.0
	for i := range gf {
		diff += (gf[i] - g1[i]) * (gf[i] - g1[i])
		norm += gf[i] * gf[i]
	}
	if rel := math.Sqrt(diff / norm); rel < 0.05 {
		t.Fatalf("first-order gradient differs from the double-backprop one by only %.3g (relative)", rel)
	}
	// Directional derivative along a random direction in the output
	// layer's parameters. L_p is smooth there (no ReLU or max-pool after
	// it), and the maps depend on them only through the gradient that
	// defines the channel weights: the double-backprop gradient must match
	// a finite difference, and the first-order one sees nothing.
	params, _ := m.Trainable()
	r := rand.New(rand.NewPCG(5, 5))
	dir := make([]float64, len(gf))
	off := 0
	for i, p := range params {
		if i >= len(params)-2 { // logits.weight, logits.bias
			for j := 0; j < p.Value().Size(); j++ {
				dir[off+j] = r.NormFloat64()
			}
		}
		off += p.Value().Size()
	}
	shift := func(h float64) {
		off := 0
		for _, p := range params {
			v := p.Value()
			for j := 0; j < v.Size(); j++ {
				v.SetFlat(j, v.AtFlat(j)+h*dir[off+j])
			}
			off += v.Size()
		}
	}
	loss := func() float64 {
		l, err := full.Loss(m, x, xa, y, nn.Mode{Train: true})
		if err != nil {
			t.Fatal(err)
		}
		return l.Total.Item()
	}
	const h = 3e-4
	shift(h)
	plus := loss()
	shift(-2 * h)
	minus := loss()
	shift(h)
	fd := (plus - minus) / (2 * h)
	dot := func(g []float64) float64 {
		s := 0.0
		for i := range g {
			s += g[i] * dir[i]
		}
		return s
	}
	t.Logf("directional derivative: finite difference %.6g, double backprop %.6g, first order %.6g", fd, dot(gf), dot(g1))
	if math.Abs(dot(gf)-fd) > 0.01*math.Abs(fd) || math.Abs(fd) < 1e-3 {
		t.Errorf("double backprop %.6g, finite difference %.6g", dot(gf), fd)
	}
	if math.Abs(dot(g1)) > 1e-6 {
		t.Errorf("first-order gradient has %.6g along the output layer, want 0", dot(g1))
	}
}

func TestBatchWideNormalisationChangesMaps(t *testing.T) {
	m := tinyModel(t, 3)
	x := randImages(4, 1, 8, 8, 4)
	y := []int{0, 1, 2, 0}
	xa, _ := attack.NewStepLL(0.1).Perturb(context.Background(), m, x, y)
	per := &ARP{C: 1, Attack: attack.Spec{Name: "step-ll", Config: attack.Config{Eps: 0.1}}}
	wide := &ARP{C: 1, Attack: attack.Spec{Name: "step-ll", Config: attack.Config{Eps: 0.1}}, BatchWide: true}
	lp, _ := per.Loss(m, x, xa, y, nn.Mode{Train: true})
	lw, _ := wide.Loss(m, x, xa, y, nn.Mode{Train: true})
	if lp.Terms["l_p"] == lw.Terms["l_p"] {
		t.Fatalf("batch-wide and per-image normalisation give the same L_p %g", lp.Terms["l_p"])
	}
	// a single image: both normalisations agree
	x1, xa1 := rows(x, []int{0}), rows(xa, []int{0})
	a, _ := per.Loss(m, x1, xa1, y[:1], nn.Mode{Train: true})
	b, _ := wide.Loss(m, x1, xa1, y[:1], nn.Mode{Train: true})
	if math.Abs(a.Terms["l_p"]-b.Terms["l_p"]) > 1e-9 {
		t.Fatalf("one image: per-image %g vs batch-wide %g", a.Terms["l_p"], b.Terms["l_p"])
	}
}

func TestMaskAttended(t *testing.T) {
	x := tensor.FromFloat32([]float32{
		1, 2, 3, 4, 5, 6, 7, 8, // image 0, channel 0 (2x4)
		9, 9, 9, 9, 9, 9, 9, 9, // image 0, channel 1
	}, 1, 2, 2, 4)
	maps := tensor.FromFloat32([]float32{0, 1, 0, 0, 0, 0, 3, 0}, 1, 1, 2, 4) // mean 0.5: pixels 1 and 6
	got := MaskAttended(x, maps, 0.5).F32()
	want := []float32{1, 0.5, 3, 4, 5, 6, 0.5, 8, 9, 0.5, 9, 9, 9, 9, 0.5, 9}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if x.F32()[1] != 2 {
		t.Fatal("MaskAttended modified its input")
	}
}

// step runs obj on the batch (x, y) with Adam, as one step of training
// does (package train adds the seeds per step and the finiteness checks).
func step(obj Objective, m *nn.Model, x *tensor.Tensor, y []int) (*Result, error) {
	params, _ := m.Trainable()
	adam := optim.NewAdam(params, 1e-3)
	return obj.Step(&Step{Ctx: context.Background(), Model: m, X: x, Y: y, Seed: 1,
		Mode: nn.Mode{Train: true, Rng: rand.New(rand.NewPCG(1, 2))},
		Update: func(l *Loss) error {
			grads, err := autograd.Grad([]*autograd.Var{l.Total}, nil, params, false)
			if err != nil {
				return err
			}
			return adam.Step(grads)
		}})
}

func TestObjectivesStep(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			m := tinyModel(t, 5)
			x := randImages(6, 1, 8, 8, 6)
			y := []int{0, 1, 2, 0, 1, 2}
			opt := Options{Attack: attack.Spec{Name: "step-ll", Config: attack.Config{Eps: 0.1}}, IoUThreshold: 0.01}
			if name == "adv" {
				opt.Attack = attack.Spec{Name: "pgd", Config: attack.Config{Eps: 0.1, Steps: 3}}
			}
			obj, err := New(name, opt)
			if err != nil {
				t.Fatal(err)
			}
			if obj.Name() != name {
				t.Fatalf("Name() = %q", obj.Name())
			}
			params, _ := m.Trainable()
			before := params[0].Value().Clone()
			res, err := step(obj, m, x, y)
			if err != nil {
				t.Fatal(err)
			}
			if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) || res.Correct < 0 || res.Correct > 6 {
				t.Fatalf("result %+v", res)
			}
			if tensor.MaxAbsDiff(before, params[0].Value()) == 0 {
				t.Fatal("parameters did not change")
			}
			wantUpdates := map[string]int{"two-step": 2}[name]
			if wantUpdates == 0 {
				wantUpdates = 1
			}
			if name == "arp-iou" {
				if res.Updates < 1 || res.Updates > 5 || res.Terms["extra_samples"] == 0 {
					t.Fatalf("arp-iou: %d updates, terms %v", res.Updates, res.Terms)
				}
			} else if res.Updates != wantUpdates {
				t.Fatalf("%d updates, want %d", res.Updates, wantUpdates)
			}
			for _, k := range map[string][]string{"none": {"ce_clean"}, "adv": {"ce_clean", "ce_adv"},
				"arp": {"l_c", "l_r", "l_p"}, "trades": {"ce_clean", "kl"}}[name] {
				if _, ok := res.Terms[k]; !ok {
					t.Errorf("term %s missing: %v", k, res.Terms)
				}
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name string
		opt  Options
		want string
	}{
		{"fancy", Options{}, `unknown defense "fancy"; known: none, adv, arp`},
		{"adv", Options{Attack: attack.Spec{Name: "cw"}}, `unknown training attack "cw"; known: step-ll`},
		{"arp", Options{Attack: attack.Spec{Config: attack.Config{Eps: 2}}}, "attack eps 2 must be in (0,1]"},
		{"arp", Options{A: -1}, "loss weights a=-1"},
		{"arp", Options{Map: "lime"}, `unknown map variant "lime"`},
		{"arp", Options{B: nan}, "must be finite"},
		{"arp-iou", Options{IoUThreshold: 2}, "IoU threshold 2 outside [0,1]"},
		{"trades", Options{Beta: -1}, "beta -1"},
	} {
		_, err := New(tc.name, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q, %+v) = %v, want an error containing %q", tc.name, tc.opt, err, tc.want)
		}
	}
}

func TestUsesAttention(t *testing.T) {
	for name, want := range map[string]bool{"none": false, "adv": false, "arp": true, "two-step": true, "arp-iou": true, "trades": false, "magic": false} {
		if got := UsesAttention(name); got != want {
			t.Errorf("UsesAttention(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestIoURoundsFollowTheAuthors checks arp-iou's schedule against the
// authors' iou_train.py with a scripted gate: every round gates every
// image, steps only the images above the threshold, keeps the others'
// last adversarial image, and updates on the whole batch; an image that
// failed one round is stepped again when it passes a later one.
func TestIoURoundsFollowTheAuthors(t *testing.T) {
	m := tinyModel(t, 5)
	n := 4
	x := randImages(n, 1, 8, 8, 6)
	y := []int{0, 1, 2, 0}
	o := &ARP{A: 8, B: 4, C: 1, MaskFill: 0.5, Samples: SamplesIoU, IoUThreshold: 0.2, ExtraSteps: 3,
		Attack: attack.Spec{Name: "step-ll", Config: attack.Config{Eps: 0.1}}}
	// round k: the IoU of each image
	script := [][]float64{
		{0.5, 0.1, 0.5, 0.1}, // images 0 and 2 step
		{0.1, 0.5, 0.1, 0.1}, // image 1 steps (it failed round 0)
		{0.1, 0.1, 0.1, 0.1}, // nobody: the rounds end
	}
	round := 0
	var gated [][]*tensor.Tensor // the adversarial images each round saw
	gate := func(_ nn.Classifier, gx, gxa *tensor.Tensor, gy []int) ([]float64, error) {
		if gx.Shape()[0] != n || len(gy) != n {
			t.Fatalf("round %d gates %d images, want all %d", round, gx.Shape()[0], n)
		}
		var per []*tensor.Tensor
		for i := 0; i < n; i++ {
			per = append(per, rows(gxa, []int{i}))
		}
		gated = append(gated, per)
		v := script[round]
		round++
		return v, nil
	}
	var sizes []int
	s := &Step{Ctx: context.Background(), Model: m, X: x, Y: y, Seed: 1, Mode: nn.Mode{Train: true},
		Update: func(l *Loss) error { sizes = append(sizes, len(l.Labels)); return nil }}
	xa, err := perturb(s.Ctx, o.Attack, m, x, y, 1)
	if err != nil {
		t.Fatal(err)
	}
	res := &Result{Terms: map[string]float64{}}
	if err := o.iouRounds(s, xa, res, gate); err != nil {
		t.Fatal(err)
	}
	if round != 3 || res.Updates != 2 || len(sizes) != 2 {
		t.Fatalf("%d gates, %d updates (%v); want 3 gates and 2 updates", round, res.Updates, sizes)
	}
	for _, sz := range sizes {
		if sz != n {
			t.Fatalf("updates on %v images, want the whole batch of %d each round", sizes, n)
		}
	}
	if res.Terms["extra_samples"] != 3 {
		t.Fatalf("extra samples %v, want 3", res.Terms["extra_samples"])
	}
	moved := func(r, i int) bool { return tensor.MaxAbsDiff(gated[r][i], gated[r+1][i]) > 0 }
	want := [][]bool{{true, false, true, false}, {false, true, false, false}}
	for r, w := range want {
		for i, mv := range w {
			if moved(r, i) != mv {
				t.Errorf("round %d image %d moved = %v, want %v", r, i, moved(r, i), mv)
			}
		}
	}
}

// plainModel hides the *nn.Model behind the interface, which turns off
// the reuse of the clean batch's features (cleanTap).
type plainModel struct{ nn.Classifier }

func (p plainModel) AttentionLayer() string { return p.Classifier.(*nn.Model).AttentionLayer() }

// The ARP step reuses the Step-LL pass's attention-layer output on the
// clean batch for the loss (dropout only after the attention layer): the
// terms and every parameter gradient must equal those of the step that
// runs the clean pass again from the pixels.
func TestARPStepReusesCleanFeaturesExactly(t *testing.T) {
	spec, err := nn.DefaultSpec("cifarnet", 3, 12, 12, 10)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Dropout == 0 {
		t.Fatal("cifarnet without dropout: the test needs training-mode randomness")
	}
	x := randImages(5, 3, 12, 12, 7)
	y := []int{0, 3, 9, 1, 4}
	obj, err := New("arp", Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := obj.(*ARP)
	run := func(wrap bool) (map[string]float64, [][]float32) {
		m, err := nn.Build(spec, 11)
		if err != nil {
			t.Fatal(err)
		}
		var c nn.Classifier = m
		if wrap {
			c = plainModel{m}
		}
		_, tap := o.cleanTap(c, x)
		if (tap != nil) == wrap {
			t.Fatalf("wrapped=%v: cleanTap gave recorder %v", wrap, tap != nil)
		}
		params, _ := m.Trainable()
		var grads [][]float32
		res, err := o.Step(&Step{Ctx: context.Background(), Model: c, X: x, Y: y, Seed: 3,
			Mode: nn.Mode{Train: true, Rng: rand.New(rand.NewPCG(1, 2))},
			Update: func(l *Loss) error {
				g, err := autograd.Grad([]*autograd.Var{l.Total}, nil, params, false)
				for _, v := range g {
					grads = append(grads, v.Value().Float32s())
				}
				return err
			}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Terms, grads
	}
	t0, g0 := run(true)
	t1, g1 := run(false)
	for k, v := range t0 {
		if t1[k] != v {
			t.Errorf("term %s: %g reusing, %g recomputing", k, t1[k], v)
		}
	}
	for i := range g0 {
		for j := range g0[i] {
			if g0[i][j] != g1[i][j] {
				t.Fatalf("parameter %d element %d: gradient %g reusing, %g recomputing", i, j, g1[i][j], g0[i][j])
			}
		}
	}
	// no reuse when the attack is not Step-LL
	p, err := New("arp", Options{Attack: attack.Spec{Name: "fgsm", Config: attack.Config{Eps: 0.1}}})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := nn.Build(spec, 11)
	if _, tap := p.(*ARP).cleanTap(m, x); tap != nil {
		t.Error("FGSM: features reused")
	}
}
