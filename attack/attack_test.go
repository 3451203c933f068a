package attack

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

func tinyModel(t *testing.T) (*nn.Model, *tensor.Tensor, []int) {
	t.Helper()
	spec, err := nn.DefaultSpec("mnist-small", 1, 12, 12, 4)
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.Build(spec, 3)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	x := tensor.Zeros(tensor.Float32, 6, 1, 12, 12)
	for i := 0; i < x.Size(); i++ {
		x.SetFlat(i, rng.Float64())
	}
	return m, x, []int{0, 1, 2, 3, 0, 1}
}

// cheap returns the configuration of attack name used by the fast tests:
// budget eps (L-inf) or 10*eps (L2), few steps and queries.
func cheap(name string, eps float64, seed uint64) Config {
	c := Config{Eps: eps, Steps: 5, Seed: seed, Queries: 60, BinarySteps: 2}
	if norm, _ := Norm(name); norm == "l2" {
		c.Eps = 10 * eps
	}
	if name == "bim" || name == "iter-ll" {
		c.Alpha = eps / 3
	}
	return c
}

func newAttack(t *testing.T, name string, c Config) Attack {
	t.Helper()
	a, err := New(name, c)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// budget returns the largest L-inf and L2 distances of adv from x over the
// images.
func budget(x, adv *tensor.Tensor) (linf, l2 float64) {
	per := perImage(x)
	for lo := 0; lo < x.Size(); lo += per {
		s := 0.0
		for i := lo; i < lo+per; i++ {
			d := math.Abs(adv.AtFlat(i) - x.AtFlat(i))
			linf = math.Max(linf, d)
			s += d * d
		}
		l2 = math.Max(l2, math.Sqrt(s))
	}
	return linf, l2
}

func TestEveryAttackStaysInBudget(t *testing.T) {
	m, x, y := tinyModel(t)
	orig := x.Clone()
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			c := cheap(name, 0.1, 1)
			a := newAttack(t, name, c)
			adv, err := a.Perturb(context.Background(), m, x, y)
			if err != nil {
				t.Fatal(err)
			}
			if !tensor.SameShape(adv.Shape(), x.Shape()) || adv.DType() != x.DType() {
				t.Fatalf("result %v %v, input %v %v", adv.Shape(), adv.DType(), x.Shape(), x.DType())
			}
			if tensor.MaxAbsDiff(x, orig) != 0 {
				t.Fatal("the input was modified")
			}
			for i := 0; i < adv.Size(); i++ {
				if v := adv.AtFlat(i); !(v >= 0 && v <= 1) {
					t.Fatalf("pixel %d = %g outside [0,1]", i, v)
				}
			}
			linf, l2 := budget(x, adv)
			norm, _ := Norm(name)
			if norm == "linf" && linf > c.Eps+1e-6 {
				t.Fatalf("L-inf distance %g exceeds eps %g", linf, c.Eps)
			}
			if norm == "l2" && l2 > c.Eps*(1+1e-5) {
				t.Fatalf("L2 distance %g exceeds eps %g", l2, c.Eps)
			}
			if linf == 0 {
				t.Fatal("no pixel moved")
			}
			s := a.Settings()
			for _, k := range []string{"attack", "norm", "eps", "box", "kind", "steps", "restarts", "step_size", "seed", "targeting"} {
				if _, ok := s[k]; !ok {
					t.Errorf("Settings lacks %q: %v", k, s)
				}
			}
			if s["norm"] != norm || s["attack"] != name {
				t.Errorf("Settings %v disagree with the registry (norm %s)", s, norm)
			}
		})
	}
}

func TestZeroBudgetKeepsImages(t *testing.T) {
	m, x, y := tinyModel(t)
	for _, name := range Names() {
		if name == "cw-l2" {
			continue // eps 0 means unbounded for CW
		}
		c := cheap(name, 0, 1)
		adv, err := newAttack(t, name, c).Perturb(context.Background(), m, x, y)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := tensor.MaxAbsDiff(adv, x); d != 0 {
			t.Errorf("%s with eps 0 moved the images by %g", name, d)
		}
	}
}

func TestUnprojectedIterLL(t *testing.T) {
	m, x, y := tinyModel(t)
	eps := 0.05
	// the ARP paper's Iter-LL: 2 Step-LL steps of eps, no projection
	a := &Iterative{Base: Base{Eps: eps, Targeting: LeastLikely, Smoothing: 0.1}, Steps: 2, Alpha: eps, Unprojected: true, name: "iter-ll"}
	adv, err := a.Perturb(context.Background(), m, x, y)
	if err != nil {
		t.Fatal(err)
	}
	linf, _ := budget(x, adv)
	if linf <= eps+1e-6 || linf > 2*eps+1e-6 {
		t.Fatalf("unprojected Iter-LL moved pixels by up to %g; want in (eps, 2 eps] = (%g, %g]", linf, eps, 2*eps)
	}
	a.Unprojected = false
	adv, err = a.Perturb(context.Background(), m, x, y)
	if err != nil {
		t.Fatal(err)
	}
	if linf, _ := budget(x, adv); linf > eps+1e-6 {
		t.Fatalf("projected Iter-LL moved pixels by %g > eps %g", linf, eps)
	}
}

func TestDeterministicWithSeed(t *testing.T) {
	m, x, y := tinyModel(t)
	random := map[string]bool{"r-step-ll": true, "pgd": true, "pgd-l2": true, "square": true, "attention-loss": true, "pgd-kl": true}
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			run := func(seed uint64) *tensor.Tensor {
				adv, err := newAttack(t, name, cheap(name, 0.1, seed)).Perturb(context.Background(), m, x, y)
				if err != nil {
					t.Fatal(err)
				}
				return adv
			}
			a, b := run(5), run(5)
			if d := tensor.MaxAbsDiff(a, b); d != 0 {
				t.Fatalf("two runs with seed 5 differ by %g", d)
			}
			if random[name] {
				if d := tensor.MaxAbsDiff(a, run(6)); d == 0 {
					t.Fatal("seeds 5 and 6 give the same result")
				}
			}
		})
	}
}

func TestTargeting(t *testing.T) {
	m, x, y := tinyModel(t)
	targets := []int{1, 2, 3, 0, 1, 2}
	for _, tg := range []Targeting{Untargeted, LeastLikely, Random, Given} {
		c := Config{Eps: 0.3, Steps: 20, Targeting: tg, Targets: targets, Seed: 3}
		a := newAttack(t, "pgd", c)
		if got := a.Settings()["targeting"]; got != string(tg) {
			t.Errorf("targeting %s reported as %v", tg, got)
		}
		adv, err := a.Perturb(context.Background(), m, x, y)
		if err != nil {
			t.Fatalf("%s: %v", tg, err)
		}
		if tg == Given {
			logits, err := forward(m, adv.AsType(tensor.Float32))
			if err != nil {
				t.Fatal(err)
			}
			hit := 0
			for i, p := range argmaxRows(logits) {
				if p == targets[i] {
					hit++
				}
			}
			if hit < len(y)/2 {
				t.Errorf("given targets reached for only %d of %d images", hit, len(y))
			}
		}
	}
	if _, err := newAttack(t, "pgd", Config{Eps: 0.1, Targeting: Given, Targets: []int{1}}).Perturb(context.Background(), m, x, y); err == nil {
		t.Error("given targeting with 1 target for 6 images accepted")
	}
}

func TestGatedStopsPerImage(t *testing.T) {
	m, x, y := tinyModel(t)
	eps, alpha := 0.2, 0.02
	// threshold 0: the IoU never falls below it, every image takes all steps
	all := &GatedStepLL{Base: Base{Eps: eps, Targeting: LeastLikely, Smoothing: 0.1}, Steps: 4, Alpha: alpha, Threshold: 1e-9}
	adv, err := all.Perturb(context.Background(), m, x, y)
	if err != nil {
		t.Fatal(err)
	}
	linf, _ := budget(x, adv)
	if math.Abs(linf-4*alpha) > 1e-6 {
		t.Fatalf("threshold ~0: pixels moved up to %g, want 4 steps of %g", linf, alpha)
	}
	// threshold 1: an image stops after the first step that changes its mask
	one := *all
	one.Threshold = 1
	adv, err = one.Perturb(context.Background(), m, x, y)
	if err != nil {
		t.Fatal(err)
	}
	_, clean, err := attentionMasks(m, x, y, "pool2")
	if err != nil {
		t.Fatal(err)
	}
	_, masks, err := attentionMasks(m, adv, y, "pool2")
	if err != nil {
		t.Fatal(err)
	}
	per := perImage(x)
	stopped := 0
	for i := range y {
		d := 0.0
		for k := i * per; k < (i+1)*per; k++ {
			d = math.Max(d, math.Abs(adv.AtFlat(k)-x.AtFlat(k)))
		}
		if d > 4*alpha+1e-6 {
			t.Fatalf("image %d moved %g > 4 steps", i, d)
		}
		if d < 4*alpha-1e-6 {
			stopped++
			same := true
			for p := range clean[i] {
				same = same && clean[i][p] == masks[i][p]
			}
			if same {
				t.Errorf("image %d stopped early but its attention mask is unchanged", i)
			}
		}
	}
	if stopped == 0 {
		t.Fatal("threshold 1 stopped no image early")
	}
}

// constModel is a classifier whose logits do not depend on its input.
type constModel struct{}

func (constModel) Forward(x *autograd.Var, m nn.Mode, taps ...string) (*autograd.Var, map[string]*autograd.Var) {
	n := x.Shape()[0]
	acts := map[string]*autograd.Var{}
	for _, t := range taps {
		acts[t] = autograd.Const(tensor.Full(tensor.Float32, 1, n, 2, 3, 3))
	}
	return autograd.Const(tensor.Full(tensor.Float32, 0.5, n, 4)), acts
}
func (constModel) LayerNames() []string { return []string{"pool2"} }
func (constModel) InputShape() []int    { return []int{1, 12, 12} }
func (constModel) NumClasses() int      { return 4 }

func TestNoGradientPath(t *testing.T) {
	_, x, y := tinyModel(t)
	// an nn model with all weights zero: constant outputs, zero gradients
	spec, _ := nn.DefaultSpec("mnist-small", 1, 12, 12, 4)
	zero, _ := nn.Build(spec, 1)
	for _, p := range zero.Params() {
		p.Var.Value().Fill(0)
	}
	for _, tc := range []struct {
		what string
		m    nn.Classifier
	}{{"constant logits", constModel{}}, {"zero weights", zero}} {
		for _, name := range Names() {
			c := cheap(name, 0.1, 1)
			c.Layer = "pool2"
			_, err := newAttack(t, name, c).Perturb(context.Background(), tc.m, x, y)
			switch {
			case name == "square":
				if err != nil {
					t.Errorf("%s, %s: the black-box attack needs no gradient but failed: %v", tc.what, name, err)
				}
			case err == nil:
				t.Errorf("%s, %s: no error", tc.what, name)
			case (name != "gated-step-ll" && name != "attention-loss" || tc.what == "zero weights") && !errors.Is(err, ErrNoGradient):
				t.Errorf("%s, %s: error %q does not wrap ErrNoGradient", tc.what, name, err)
			}
		}
	}
}

func TestCancelled(t *testing.T) {
	m, x, y := tinyModel(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, name := range Names() {
		_, err := newAttack(t, name, cheap(name, 0.1, 1)).Perturb(ctx, m, x, y)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: cancelled context gave %v", name, err)
		}
	}
}

func TestBadInputs(t *testing.T) {
	m, x, y := tinyModel(t)
	ctx := context.Background()
	for _, name := range Names() {
		a := newAttack(t, name, cheap(name, 0.1, 1))
		bad := tensor.Zeros(tensor.Float32, 2, 3, 12, 12)
		cases := []struct {
			what string
			x    *tensor.Tensor
			y    []int
			want string
		}{
			{"label count", x, y[:2], "labels for"},
			{"wrong channels", bad, []int{0, 1}, "do not fit the model"},
			{"wrong size", tensor.Zeros(tensor.Float32, 1, 1, 10, 12), []int{0}, "do not fit the model"},
			{"label range", x, []int{0, 1, 2, 3, 9, 1}, "outside [0,4)"},
			{"pixel range", tensor.Full(tensor.Float32, 2, 1, 1, 12, 12), []int{0}, "outside [0,1]"},
		}
		for _, c := range cases {
			_, err := a.Perturb(ctx, m, c.x, c.y)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s, %s: error %v, want one containing %q", name, c.what, err, c.want)
			}
		}
	}
	// budgets
	for _, c := range []struct {
		name string
		eps  float64
		want string
	}{
		{"fgsm", -0.1, "[0,1] pixel scale"},
		{"pgd", 1.5, "[0,1] pixel scale"},
		{"square", math.NaN(), "[0,1] pixel scale"},
		{"pgd-l2", -1, "[0,1] pixel scale"},
		{"nope", 0.1, "known: fgsm, step-ll"},
	} {
		_, err := New(c.name, Config{Eps: c.eps})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%q, eps %g): error %v, want one containing %q", c.name, c.eps, err, c.want)
		}
	}
	if _, err := NewFGSM(2).Perturb(ctx, m, x, y); err == nil || !strings.Contains(err.Error(), "[0,1] pixel scale") {
		t.Errorf("FGSM with eps 2: %v", err)
	}
	big := &PGDL2{Base: Base{Eps: 100}}
	if _, err := big.Perturb(ctx, m, x, y); err == nil || !strings.Contains(err.Error(), "largest L2 distance") {
		t.Errorf("PGD-L2 with eps 100 on 12x12 images: %v", err)
	}
	for _, c := range []Config{{Eps: 0.1, Steps: -1}, {Eps: 0.1, Alpha: -1}, {Eps: 0.1, PInit: 2}, {Eps: 0.1, Threshold: 1.5}, {Eps: 0.1, Targeting: "sideways"}} {
		if _, err := New("pgd", c); err == nil {
			t.Errorf("New accepted %+v", c)
		}
	}
	if _, err := (&GatedStepLL{Base: Base{Eps: 0.1}, Layer: "nope"}).Perturb(ctx, m, x, y); err == nil || !strings.Contains(err.Error(), "valid layers") {
		t.Errorf("unknown attention layer: %v", err)
	}
	if _, err := (&RStepLL{Base: Base{Eps: 0.1}, Alpha: 0.2}).Perturb(ctx, m, x, y); err == nil {
		t.Error("R+Step-LL with a random step larger than eps accepted")
	}
}

func TestParseSpec(t *testing.T) {
	sp, err := ParseSpec("pgd:steps=100:restarts=5:random-start=false:seed=9")
	if err != nil {
		t.Fatal(err)
	}
	name, c := sp.Name, sp.Config
	if name != "pgd" || c.Steps != 100 || c.Restarts != 5 || !c.NoRandomStart || c.Seed != 9 {
		t.Fatalf("got %s %+v", name, c)
	}
	if sp, err = ParseSpec("pgd:steps=1e3:kappa=0"); err == nil {
		t.Fatal("kappa accepted by pgd")
	}
	if sp, err = ParseSpec("pgd:steps=1e3"); err != nil || sp.Config.Steps != 1000 {
		t.Fatalf("steps=1e3: %+v %v", sp.Config, err)
	}
	if _, err := New("pgd", Config{Eps: 0.1, Steps: MaxSteps + 1}); err == nil || !strings.Contains(err.Error(), "at most 100000") {
		t.Fatalf("Config with too many steps: %v", err)
	}
	sp, err = ParseSpec("MIFGSM:decay=0.5:smoothing=0")
	name, c = sp.Name, sp.Config
	if err != nil || name != "mifgsm" || c.Decay == nil || *c.Decay != 0.5 || c.Smoothing == nil || *c.Smoothing != 0 {
		t.Fatalf("got %s %+v %v", name, c, err)
	}
	for _, c := range []struct{ spec, want string }{
		{"pgdd", "unknown attack"},
		{"pgd:decay=1", "valid keys: alpha, random-start, restarts, seed, smoothing, steps, targeting"},
		{"pgd:steps", "not key=value"},
		{"pgd:steps=-3", "option steps=-3: want 1 <= steps <= 100000"},
		{"pgd:steps=many", "not a whole number"},
		{"square:p=NaN", "want 0 < p <= 1"},
		{"pgd:random-start=maybe", "want true or false"},
		// issue #18: a typed zero is refused, not replaced by the default
		{"pgd:steps=0", "option steps=0: want 1 <= steps"},
		{"pgd:restarts=0", "option restarts=0: want 1 <= restarts"},
		{"square:queries=0", "want 1 <= queries"},
		{"cw-l2:binary-steps=0", "want 1 <= binary-steps"},
		{"pgd:alpha=0", "want 0 < alpha"},
		{"square:p=0", "want 0 < p"},
		{"gated-step-ll:threshold=0", "want 0 < threshold"},
		{"cw-l2:c=0", "want 0 < c"},
		{"pgd:seed=0", "want a seed >= 1"},
		// and counts are bounded
		{"pgd:steps=1e12", "option steps=1e12: want 1 <= steps <= 100000"},
		{"pgd:restarts=100000", "restarts <= 1000"},
		{"square:queries=1e9", "queries <= 1e+06"},
		{"pgd:steps=2.5", "not a whole number"},
		{"pgd:alpha=Inf", "want 0 < alpha <= 1e+06"},
		{"mifgsm:smoothing=1", "want 0 <= smoothing < 1"},
	} {
		if _, err := ParseSpec(c.spec); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseSpec(%q): %v, want an error containing %q", c.spec, err, c.want)
		}
	}
	for _, n := range Names() {
		if Describe(n) == "" {
			t.Errorf("%s has no description", n)
		}
		if _, err := ParseSpec(n); err != nil {
			t.Errorf("ParseSpec(%q): %v", n, err)
		}
	}
}

func TestProjections(t *testing.T) {
	x0 := []float32{0, 0.5, 1, 0.2}
	xt := []float32{-0.3, 0.9, 0.95, 0.21}
	projectLinf(xt, x0, 0.1)
	want := []float32{0, 0.6, 0.95, 0.21}
	for i := range want {
		if math.Abs(float64(xt[i]-want[i])) > 1e-7 {
			t.Fatalf("projectLinf: %v, want %v", xt, want)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	x0 = make([]float32, 2*50)
	for i := range x0 {
		x0[i] = float32(r.Float64())
	}
	xt = make([]float32, len(x0))
	for _, eps := range []float64{0.01, 0.5, 3} {
		startUniformL2(eps)([]*rand.Rand{r, r}, x0, xt, 50)
		startUniformLinf(eps)([]*rand.Rand{r}, x0, xt[:50], 50)
		for lo := 0; lo < len(x0); lo += 50 {
			s := 0.0
			for i := lo; i < lo+50; i++ {
				d := float64(xt[i] - x0[i])
				s += d * d
				if xt[i] < 0 || xt[i] > 1 {
					t.Fatalf("eps %g: value %g outside [0,1]", eps, xt[i])
				}
				if lo == 0 && math.Abs(d) > eps+1e-6 {
					t.Fatalf("uniformLinf: |d| = %g > eps %g", d, eps)
				}
			}
			if lo > 0 && math.Sqrt(s) > eps*(1+1e-5) {
				t.Fatalf("uniformL2: norm %g > eps %g", math.Sqrt(s), eps)
			}
		}
	}
	// projectL2 scales a long perturbation back to the sphere
	a := []float32{0.5, 0.5}
	b := []float32{0.5 + 0.3, 0.5 + 0.4}
	projectL2(b, a, 2, 0.25)
	if n := math.Hypot(float64(b[0]-a[0]), float64(b[1]-a[1])); math.Abs(n-0.25) > 1e-6 {
		t.Fatalf("projectL2: norm %g, want 0.25", n)
	}
}

func TestPublishedDefaults(t *testing.T) {
	// Kurakin et al.: alpha 1/255, steps min(255 eps + 4, 1.25 * 255 eps)
	for _, c := range []struct {
		eps   float64
		steps int
	}{{0.3, 81}, {8.0 / 255, 10}, {2.0 / 255, 3}, {16.0 / 255, 20}} {
		if got := NewBIM(c.eps).steps(); got != c.steps {
			t.Errorf("BIM eps %g: %d steps, want %d", c.eps, got, c.steps)
		}
	}
	if a := NewPGD(0.3, 0); a.steps() != 40 || math.Abs(a.alpha()-2.5*0.3/40) > 1e-12 || a.restarts() != 1 {
		t.Errorf("PGD defaults: %v", a.Settings())
	}
	if a := NewMIFGSM(0.3); a.steps() != 10 || math.Abs(a.alpha()-0.03) > 1e-12 || a.decay() != 1 {
		t.Errorf("MI-FGSM defaults: %v", a.Settings())
	}
	if a := NewSquare(0.3, 0); a.queries() != 5000 || a.pInit() != 0.8 {
		t.Errorf("Square defaults: %v", a.Settings())
	}
	// the p schedule halves at the paper's iterations (of 10,000)
	for _, c := range []struct {
		it int
		p  float64
	}{{0, 0.8}, {10, 0.8}, {11, 0.4}, {50, 0.4}, {51, 0.2}, {201, 0.1}, {501, 0.05}, {1001, 0.025}, {2001, 0.0125}, {4001, 0.8 / 128}, {6001, 0.8 / 256}, {8001, 0.8 / 512}} {
		if got := pSchedule(0.8, c.it, 10000); math.Abs(got-c.p) > 1e-12 {
			t.Errorf("p at iteration %d: %g, want %g", c.it, got, c.p)
		}
	}
	// rescaled to a smaller budget
	if got := pSchedule(0.8, 100, 1000); got != 0.05 {
		t.Errorf("p at 100 of 1000: %g, want 0.05 (= iteration 1000 of 10000)", got)
	}
}

// rowwise runs a classifier one image at a time, so that an image's logits
// and gradients do not depend on its batch neighbours whatever the engine's
// kernels do with the batch size.
type rowwise struct{ nn.Classifier }

func (r rowwise) AttentionLayer() string { return nn.DefaultAttentionLayer(r.Classifier) }

func (r rowwise) Forward(x *autograd.Var, m nn.Mode, taps ...string) (*autograd.Var, map[string]*autograd.Var) {
	var outs []*autograd.Var
	tapped := map[string][]*autograd.Var{}
	for i := 0; i < x.Shape()[0]; i++ {
		o, t := r.Classifier.Forward(autograd.Slice(x, 0, i, i+1), m, taps...)
		outs = append(outs, o)
		for k, v := range t {
			tapped[k] = append(tapped[k], v)
		}
	}
	tm := map[string]*autograd.Var{}
	for k, v := range tapped {
		tm[k] = autograd.Concat(0, v...)
	}
	return autograd.Concat(0, outs...), tm
}

// TestRandomnessPerImage checks that every image draws its random numbers
// from its own seed: the same images in reverse order, with their seeds,
// come out bit for bit the same (a shared stream per batch fails this).
func TestRandomnessPerImage(t *testing.T) {
	m0, x, y := tinyModel(t)
	m := rowwise{m0}
	n := len(y)
	rev := make([]int, n)
	seeds, revSeeds := make([]uint64, n), make([]uint64, n)
	for i := range rev {
		rev[i] = n - 1 - i
		seeds[i] = 1000 + uint64(i)*7919
	}
	for j, i := range rev {
		revSeeds[j] = seeds[i]
	}
	xr := rowsOf(x, rev)
	yr := pick(y, rev)
	cases := map[string]Config{"r-step-ll": {}, "pgd": {Restarts: 2}, "pgd-l2": {}, "square": {}, "attention-loss": {}, "pgd-kl": {},
		"pgd-random-target": {Targeting: Random}}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			atk := strings.TrimSuffix(name, "-random-target")
			cfg := cheap(atk, 0.1, 0)
			cfg.Restarts, cfg.Targeting = c.Restarts, c.Targeting
			run := func(x *tensor.Tensor, y []int, seeds []uint64) *tensor.Tensor {
				cfg.Seeds = seeds
				adv, err := newAttack(t, atk, cfg).Perturb(context.Background(), m, x, y)
				if err != nil {
					t.Fatal(err)
				}
				return adv.AsType(tensor.Float32)
			}
			a, b := run(x, y, seeds), run(xr, yr, revSeeds)
			if d := tensor.MaxAbsDiff(a, rowsOf(b, rev)); d != 0 {
				t.Fatalf("reordering the batch changed the images by %g", d)
			}
			if d := tensor.MaxAbsDiff(a, x); d == 0 {
				t.Fatal("the attack did not move any image")
			}
			cfg.Seeds = seeds[:2]
			if _, err := newAttack(t, atk, cfg).Perturb(context.Background(), m, x, y); err == nil || !strings.Contains(err.Error(), "2 per-image seeds for 6 images") {
				t.Fatalf("wrong number of seeds: %v", err)
			}
		})
	}
}

// TestAttentionLossLambdaZero: lambda=0 in a spec is the plain
// cross-entropy attack, not the default weight 1.
func TestAttentionLossLambdaZero(t *testing.T) {
	for spec, want := range map[string]float64{"attention-loss": 1, "attention-loss:lambda=0": 0, "attention-loss:lambda=2.5": 2.5} {
		sp, err := ParseSpec(spec)
		if err != nil {
			t.Fatal(err)
		}
		sp.Config.Eps = 0.1
		a, err := sp.New()
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Settings()["lambda"]; got != want {
			t.Errorf("%s: lambda %v, want %v", spec, got, want)
		}
	}
}

// TestSignStepMatchesComposedOps holds the one-pass float32 signStep to
// the composed tensor ops it replaces, bit for bit, on gradients with
// zeros, -0, NaNs and infinities, images with values at and beyond the
// bounds, and positive and negative steps.
func TestSignStepMatchesComposedOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1, -1e-30}
	for trial := 0; trial < 50; trial++ {
		n := 1 + rng.IntN(300)
		x, g := tensor.Zeros(tensor.Float32, n), tensor.Zeros(tensor.Float32, n)
		for i := range x.F32() {
			x.F32()[i] = float32(rng.Float64()*1.4 - 0.2)
			g.F32()[i] = float32(rng.NormFloat64())
			if rng.IntN(4) == 0 {
				g.F32()[i] = special[rng.IntN(len(special))]
			}
			if rng.IntN(8) == 0 {
				x.F32()[i] = special[rng.IntN(len(special))]
			}
		}
		step := rng.Float64()*0.1 - 0.05
		got := signStep(x, g, step)
		want := tensor.Clamp(tensor.Add(x, tensor.Scale(tensor.Sign(g), step)), 0, 1)
		for i, w := range want.F32() {
			if math.Float32bits(got.F32()[i]) != math.Float32bits(w) {
				t.Fatalf("step %v, x %v, g %v: %v, want %v", step, x.F32()[i], g.F32()[i], got.F32()[i], w)
			}
		}
	}
}
