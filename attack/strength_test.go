package attack

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/attack/attacktest"
	"github.com/arp-robustness/arp/tensor"
)

// correctBatch returns up to n test images the trained model classifies
// correctly (accuracy under attack is measured on them).
func correctBatch(t *testing.T, n int) (*tensor.Tensor, []int) {
	t.Helper()
	m, _ := attacktest.MNIST(t)
	x, y := attacktest.Batch(t, 2*n)
	logits, err := forward(m, x)
	if err != nil {
		t.Fatal(err)
	}
	var idx []int
	for i, p := range argmaxRows(logits) {
		if p == y[i] && len(idx) < n {
			idx = append(idx, i)
		}
	}
	if len(idx) < n {
		t.Fatalf("the trained model gets only %d of %d images right", len(idx), 2*n)
	}
	return rowsOf(x, idx), pick(y, idx)
}

// accuracyUnder runs attack name with cfg on the trained model and returns
// the accuracy on the adversarial images.
func accuracyUnder(t *testing.T, name string, cfg Config, x *tensor.Tensor, y []int) float64 {
	t.Helper()
	m, _ := attacktest.MNIST(t)
	a, err := New(name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	adv, err := a.Perturb(context.Background(), m, x, y)
	if err != nil {
		t.Fatal(err)
	}
	linf, l2 := budget(x, adv)
	if norm, _ := Norm(name); norm == "linf" && cfg.Eps > 0 && linf > cfg.Eps+1e-6 || norm == "l2" && cfg.Eps > 0 && l2 > cfg.Eps*(1+1e-5) {
		t.Fatalf("%s left the budget %g: L-inf %g, L2 %g", name, cfg.Eps, linf, l2)
	}
	logits, err := forward(m, adv)
	if err != nil {
		t.Fatal(err)
	}
	right := 0
	for i, p := range argmaxRows(logits) {
		if p == y[i] {
			right++
		}
	}
	return float64(right) / float64(len(y))
}

// On a trained model: every iterative attack is at least as strong as FGSM,
// accuracy falls as eps grows, an unbounded PGD reaches ~0% accuracy, the
// black-box attack works without gradients and CW finds small L2
// perturbations.
func TestStrengthOnTrainedModel(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	x, y := correctBatch(t, 48)
	const eps = 0.1
	single := map[string]float64{}
	for _, name := range []string{"fgsm", "step-ll", "r-step-ll"} {
		single[name] = accuracyUnder(t, name, Config{Eps: eps, Seed: 1}, x, y)
		t.Logf("eps %g: %s accuracy %.3f", eps, name, single[name])
	}
	if single["fgsm"] > 0.95 {
		t.Fatalf("FGSM at eps %g barely works (accuracy %.3f): the test model is not a usable reference", eps, single["fgsm"])
	}
	// Each iterative attack against the single-step attacks of its own
	// objective: untargeted ones against FGSM, and Iter-LL against Step-LL
	// and R+Step-LL. (The least-likely objective is weaker than the
	// untargeted one on this model even in one step, so Iter-LL is not
	// compared with FGSM; eval's sanity check pairs attacks the same way.)
	for _, c := range []struct {
		name    string
		cfg     Config
		against []string
	}{
		{"bim", Config{Eps: eps}, []string{"fgsm"}},
		{"pgd", Config{Eps: eps, Steps: 20, Seed: 1}, []string{"fgsm"}},
		{"mifgsm", Config{Eps: eps}, []string{"fgsm"}},
		{"attention-loss", Config{Eps: eps, Steps: 10, Seed: 1}, []string{"fgsm"}},
		{"iter-ll", Config{Eps: eps}, []string{"step-ll", "r-step-ll"}},
	} {
		acc := accuracyUnder(t, c.name, c.cfg, x, y)
		t.Logf("eps %g: %s accuracy %.3f", eps, c.name, acc)
		for _, s := range c.against {
			if acc > single[s] {
				t.Errorf("%s (accuracy %.3f) is weaker than %s (%.3f) at eps %g", c.name, acc, s, single[s], eps)
			}
		}
	}
	// accuracy falls with eps
	prev := 1.0
	for _, e := range []float64{0.02, 0.05, 0.1, 0.2} {
		acc := accuracyUnder(t, "pgd", Config{Eps: e, Steps: 20, Seed: 2}, x, y)
		t.Logf("PGD-20 eps %g: accuracy %.3f", e, acc)
		if acc > prev {
			t.Errorf("PGD accuracy rose from %.3f to %.3f at eps %g", prev, acc, e)
		}
		prev = acc
	}
	if prev > 0.1 {
		t.Errorf("PGD at eps 0.2 leaves accuracy %.3f on an undefended model", prev)
	}
	// unbounded: eps 1 reaches any image
	if acc := accuracyUnder(t, "pgd", Config{Eps: 1, Steps: 20, Seed: 3}, x, y); acc > 0 {
		t.Errorf("unbounded PGD leaves accuracy %.3f, want 0", acc)
	}
	// black box
	xs, ys := rowsOf(x, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}), y[:16]
	if acc := accuracyUnder(t, "square", Config{Eps: 0.2, Queries: 300, Seed: 4}, xs, ys); acc > 0.5 {
		t.Errorf("Square (300 queries, eps 0.2) leaves accuracy %.3f", acc)
	}
	// CW: unbounded, succeeds with small L2 perturbations
	m, _ := attacktest.MNIST(t)
	cw, _ := New("cw-l2", Config{Steps: 50, BinarySteps: 3})
	adv, err := cw.Perturb(context.Background(), m, rowsOf(x, []int{0, 1, 2, 3, 4, 5, 6, 7}), y[:8])
	if err != nil {
		t.Fatal(err)
	}
	logits, _ := forward(m, adv)
	broken, sum := 0, 0.0
	for i, p := range argmaxRows(logits) {
		if p != y[i] {
			broken++
			s := 0.0
			for k := i * 784; k < (i+1)*784; k++ {
				d := adv.AtFlat(k) - x.AtFlat(k)
				s += d * d
			}
			sum += math.Sqrt(s)
		}
	}
	t.Logf("CW-L2: %d of 8 broken, mean L2 %.3f", broken, sum/math.Max(float64(broken), 1))
	if broken < 7 {
		t.Errorf("CW-L2 broke only %d of 8 images", broken)
	}
}

// The attention term of the adaptive attack works: with a large lambda the
// adversarial Grad-CAM maps move further from the clean masks than under
// the same attack without it (lambda ~0, i.e. PGD on the cross-entropy).
func TestAttentionLossMovesAttention(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	m, _ := attacktest.MNIST(t)
	x, y := correctBatch(t, 16)
	_, clean, err := attentionMasks(m, x, y, "pool2")
	if err != nil {
		t.Fatal(err)
	}
	distance := func(lambda float64) float64 {
		a := &AttentionLoss{Base: Base{Eps: 0.03}, Steps: 5, NoRandomStart: true, Lambda: &lambda}
		adv, err := a.Perturb(context.Background(), m, x, y)
		if err != nil {
			t.Fatal(err)
		}
		maps, _, err := attentionMasks(m, adv, y, "pool2")
		if err != nil {
			t.Fatal(err)
		}
		d := 0.0
		for i, mp := range maps {
			mx := float32(0)
			for _, v := range mp {
				mx = max(mx, v)
			}
			for p, v := range mp {
				b := 0.0
				if clean[i][p] {
					b = 1
				}
				d += math.Abs(b - float64(v/mx))
			}
		}
		return d / float64(len(maps)*784)
	}
	plain, adaptive := distance(0), distance(50)
	t.Logf("mean |clean mask - adversarial map/max|: %.4f without the attention term, %.4f with lambda 50", plain, adaptive)
	if adaptive <= plain {
		t.Errorf("the attention term did not move the attention: %.4f <= %.4f", adaptive, plain)
	}
}

// TestAttentionLossLambdaZeroIsPGD: with lambda 0 the adaptive attack's
// objective is the cross-entropy alone, so it takes PGD's steps exactly
// (bit for bit from the same start) without computing the attention map
// and its second-order gradient, which cost as much again as PGD.
func TestAttentionLossLambdaZeroIsPGD(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	m, _ := attacktest.MNIST(t)
	x, y := correctBatch(t, 12)
	zero := 0.0
	for _, steps := range []int{1, 7} {
		al := &AttentionLoss{Base: Base{Eps: 0.1}, Steps: steps, NoRandomStart: true, Lambda: &zero}
		pgd := &PGD{Base: Base{Eps: 0.1}, Steps: steps, NoRandomStart: true}
		a, err := al.Perturb(context.Background(), m, x, y)
		if err != nil {
			t.Fatal(err)
		}
		b, err := pgd.Perturb(context.Background(), m, x, y)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range a.F32() {
			if math.Float32bits(v) != math.Float32bits(b.F32()[i]) {
				t.Fatalf("%d steps: value %d: attention-loss (lambda 0) %v, PGD %v", steps, i, v, b.F32()[i])
			}
		}
	}
	if got := (&AttentionLoss{Lambda: &zero}).Settings()["objective"]; !strings.Contains(got.(string), "lambda 0") {
		t.Errorf("objective setting %q does not say what lambda 0 computes", got)
	}
}
