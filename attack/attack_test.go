package attack

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

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

func TestSingleStepAttacksStayInBudget(t *testing.T) {
	m, x, y := tinyModel(t)
	eps := 0.1
	for _, a := range []Attack{NewFGSM(eps), NewStepLL(eps), NewRStepLL(eps, 1)} {
		t.Run(a.Name(), func(t *testing.T) {
			adv, err := a.Perturb(context.Background(), m, x, y)
			if err != nil {
				t.Fatal(err)
			}
			moved := 0
			for i := 0; i < x.Size(); i++ {
				d := math.Abs(adv.AtFlat(i) - x.AtFlat(i))
				if d > eps+1e-6 || adv.AtFlat(i) < 0 || adv.AtFlat(i) > 1 {
					t.Fatalf("pixel %d moved %g (eps %g) to %g", i, d, eps, adv.AtFlat(i))
				}
				if d > 0 {
					moved++
				}
			}
			if moved < x.Size()/2 {
				t.Fatalf("only %d of %d pixels moved", moved, x.Size())
			}
		})
	}
}

func TestFGSMIncreasesLoss(t *testing.T) {
	m, x, y := tinyModel(t)
	l0, _, err := LossGrad(m, x, y, 0)
	if err != nil {
		t.Fatal(err)
	}
	adv, err := NewFGSM(0.05).Perturb(context.Background(), m, x, y)
	if err != nil {
		t.Fatal(err)
	}
	l1, _, _ := LossGrad(m, adv, y, 0)
	if l1 <= l0 {
		t.Fatalf("loss %g -> %g did not increase", l0, l1)
	}
}

func TestBadInputs(t *testing.T) {
	m, x, y := tinyModel(t)
	ctx := context.Background()
	if _, err := NewFGSM(-1).Perturb(ctx, m, x, y); err == nil {
		t.Fatal("negative eps accepted")
	}
	if _, err := NewFGSM(0.1).Perturb(ctx, m, x, y[:2]); err == nil {
		t.Fatal("label count mismatch accepted")
	}
	bad := tensor.Zeros(tensor.Float32, 2, 3, 12, 12)
	if _, err := NewStepLL(0.1).Perturb(ctx, m, bad, []int{0, 1}); err == nil {
		t.Fatal("wrong channel count accepted")
	}
	if _, err := NewFGSM(0.1).Perturb(ctx, m, x, []int{0, 1, 2, 3, 9, 1}); err == nil {
		t.Fatal("label out of range accepted")
	}
}
