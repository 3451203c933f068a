package attack

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/arp-robustness/arp/autograd"
	"github.com/arp-robustness/arp/nn"
	"github.com/arp-robustness/arp/tensor"
)

// TestFinalIterateIsPlainPGD: PGD in final-iterate mode is the plain loop
// of adversarial training, written out here: every image (misclassified or
// not) takes every step, projected, and the last iterate is returned.
func TestFinalIterateIsPlainPGD(t *testing.T) {
	m, x, y := tinyModel(t)
	const eps, alpha, steps = 0.1, 0.03, 5
	want := x.Clone()
	lo, hi := tensor.AddScalar(x, -eps), tensor.AddScalar(x, eps)
	for k := 0; k < steps; k++ {
		_, g, err := LossGrad(m, want, y, 0)
		if err != nil {
			t.Fatal(err)
		}
		want = tensor.Add(want, tensor.Scale(tensor.Sign(g), alpha))
		want = tensor.Clamp(tensor.Minimum(tensor.Maximum(want, lo), hi), 0, 1)
	}
	a := &PGD{Base: Base{Eps: eps}, Steps: steps, Alpha: alpha, NoRandomStart: true, FinalIterate: true, Restarts: 3}
	got, err := a.Perturb(context.Background(), m, x, y)
	if err != nil {
		t.Fatal(err)
	}
	if d := tensor.MaxAbsDiff(got, want); d != 0 {
		t.Fatalf("final-iterate PGD differs from the plain loop by %g", d)
	}
	if s := a.Settings(); s["final_iterate"] != true || s["restarts"] != 1 {
		t.Errorf("settings %v: want final_iterate true and 1 restart", s)
	}
	// early stopping keeps some images at an earlier iterate
	early, err := (&PGD{Base: Base{Eps: eps}, Steps: steps, Alpha: alpha, NoRandomStart: true}).Perturb(context.Background(), m, x, y)
	if err != nil {
		t.Fatal(err)
	}
	if tensor.MaxAbsDiff(early, want) == 0 {
		t.Log("no image broke before the last step; early stopping not exercised")
	}
}

// TestPGDKL: TRADES's attack increases the divergence from the clean
// prediction far beyond that of its random start, stays in its budget and
// refuses targets.
func TestPGDKL(t *testing.T) {
	m, x, y := tinyModel(t)
	kl := func(adv *tensor.Tensor) float64 {
		var v float64
		err := autograd.Try(func() {
			autograd.NoGrad(func() {
				p, _ := m.Forward(autograd.Const(x), nn.Eval)
				q, _ := m.Forward(autograd.Const(adv), nn.Eval)
				v = autograd.KLDivLogits(p, q).Item()
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	a := newAttack(t, "pgd-kl", Config{Eps: 0.1, FinalIterate: true, Seed: 2})
	adv, err := a.Perturb(context.Background(), m, x, y)
	if err != nil {
		t.Fatal(err)
	}
	start, _ := newAttack(t, "pgd-kl", Config{Eps: 0.1, Steps: 1, Alpha: 1e-9, FinalIterate: true, Seed: 2}).Perturb(context.Background(), m, x, y)
	if k0, k := kl(start), kl(adv); !(k > 10*k0) || math.IsNaN(k) {
		t.Errorf("KL %g after 10 steps, %g at the start: want far larger", k, k0)
	}
	if linf, _ := budget(x, adv); linf > 0.1+1e-6 {
		t.Errorf("L-inf distance %g > eps 0.1", linf)
	}
	if s := a.Settings(); s["steps"] != 10 || math.Abs(s["step_size"].(float64)-0.025) > 1e-12 {
		t.Errorf("defaults %v: want 10 steps of eps/4", s)
	}
	_, err = newAttack(t, "pgd-kl", Config{Eps: 0.1, Targeting: LeastLikely}).Perturb(context.Background(), m, x, y)
	if err == nil || !strings.Contains(err.Error(), "no target class") {
		t.Errorf("least-likely targeting: %v, want an error", err)
	}
}
